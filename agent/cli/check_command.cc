#include "agent/cli/check_command.h"

#include <cstdio>

#include "agent/probes/kernel_features.h"
#include "nlohmann/json.hpp"

namespace weft {

namespace {

const char* YesNo(bool v) { return v ? "yes" : "no"; }

}  // namespace

int RunCheck(bool json) {
  KernelReport r = ProbeKernel();
  if (json) {
    nlohmann::json j = {{"kernel", r.kernel_release},
                        {"btf", r.btf},
                        {"lockdown", r.lockdown},
                        {"capabilities",
                         {{"CAP_BPF", r.caps.bpf},
                          {"CAP_PERFMON", r.caps.perfmon},
                          {"CAP_SYS_ADMIN", r.caps.sys_admin},
                          {"CAP_SYS_PTRACE", r.caps.sys_ptrace},
                          {"CAP_SYS_RESOURCE", r.caps.sys_resource},
                          {"CAP_NET_ADMIN", r.caps.net_admin}}},
                        {"backend", r.backend},
                        {"can_run", r.can_run},
                        {"problems", r.problems}};
    for (const auto& a : r.attach) {
      j["attach"].push_back({{"name", a.name}, {"works", a.works}, {"detail", a.detail}});
    }
    std::printf("%s\n", j.dump(2).c_str());
    return r.can_run ? 0 : 2;
  }

  std::printf("kernel          %s\n", r.kernel_release.c_str());
  std::printf("BTF             %s\n", r.btf ? "yes (/sys/kernel/btf/vmlinux)" : "no");
  std::printf("lockdown        %s\n", r.lockdown.c_str());
  std::printf("capabilities    CAP_BPF %s, CAP_PERFMON %s, CAP_SYS_ADMIN %s, CAP_SYS_PTRACE %s\n",
              YesNo(r.caps.bpf), YesNo(r.caps.perfmon), YesNo(r.caps.sys_admin),
              YesNo(r.caps.sys_ptrace));
  std::printf("\nattach types\n");
  for (const auto& a : r.attach) {
    std::printf("  %-46s %-4s %s\n", a.name.c_str(), YesNo(a.works), a.detail.c_str());
  }
  std::printf("\n");
  if (!r.backend.empty()) {
    std::printf("capture backend %s (%s)\n", r.backend.c_str(), r.backend_why.c_str());
  }
  for (const auto& p : r.problems) std::printf("problem         %s\n", p.c_str());
  std::printf("verdict         %s\n",
              r.can_run ? "weft can run here" : "weft cannot run here (see problems above)");
  return r.can_run ? 0 : 2;
}

}  // namespace weft
