// What one uprobe hit costs on this machine, by the kind of instruction the
// probe sits on; the kernel entry (a plain syscall) for scale.
//
// weft captures TLS plaintext with uprobes on OpenSSL (docs/tls.md): every
// SSL_read / SSL_write call traps into the kernel once at its entry and once
// more on return. That cost is outside the BPF run-time statistics, so
// bench/run takes it from here to explain the HTTPS row.
//
// Each case times a loop of calls to a tiny function of this binary, then
// attaches a probe that only counts (uprobe_cost.bpf.c), times the loop
// again and detaches. Times are CPU time of this process (user + system,
// which includes the trap handling), medians over rounds.
//
// Usage: weft-bench-uprobe-cost [--calls N] [--rounds N] [--json FILE]
// Root only (it loads eBPF programs). Reports; never asserts.
#include <bpf/libbpf.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "uprobe_cost.skel.h"

#if defined(__x86_64__)
// Probe targets with a known first instruction. The kernel emulates some
// instructions at a probe (push, nop), single-steps the others out of line
// (endbr64, lea: a second trap), and on kernels with the `uprobe` syscall
// turns a probe on a 5-byte nop into a call.
__asm__(
    ".text\n"
    ".globl weft_probe_push\n"
    ".type weft_probe_push, @function\n"
    "weft_probe_push:\n"
    "  push %rbx\n"
    "  pop %rbx\n"
    "  lea 1(%rdi), %eax\n"
    "  ret\n"
    ".size weft_probe_push, .-weft_probe_push\n"
    ".globl weft_probe_endbr\n"
    ".type weft_probe_endbr, @function\n"
    "weft_probe_endbr:\n"
    "  endbr64\n"
    "  push %rbx\n"
    "  pop %rbx\n"
    "  lea 1(%rdi), %eax\n"
    "  ret\n"
    ".size weft_probe_endbr, .-weft_probe_endbr\n"
    ".globl weft_probe_nop5\n"
    ".type weft_probe_nop5, @function\n"
    "weft_probe_nop5:\n"
    "  .byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n" /* nopl 0x0(%rax,%rax,1) */
    "  lea 1(%rdi), %eax\n"
    "  ret\n"
    ".size weft_probe_nop5, .-weft_probe_nop5\n");
extern "C" int weft_probe_push(int);
extern "C" int weft_probe_endbr(int);
extern "C" int weft_probe_nop5(int);

namespace {

using Target = int (*)(int);

struct Case {
  const char* name;
  const char* what;
  const char* symbol;
  Target target;
  bool entry;
  bool ret;
};

const Case kCases[] = {
    {"entry_emulated", "uprobe on a push (emulated; where weft probes OpenSSL, past endbr64)",
     "weft_probe_push", weft_probe_push, true, false},
    {"entry_and_return", "the same plus a uretprobe (weft's SSL_read / SSL_write probes)",
     "weft_probe_push", weft_probe_push, true, true},
    {"entry_single_stepped", "uprobe on endbr64 (single-stepped out of line)", "weft_probe_endbr",
     weft_probe_endbr, true, false},
    {"entry_nop5", "uprobe on a 5-byte nop (optimized where the kernel has the uprobe syscall)",
     "weft_probe_nop5", weft_probe_nop5, true, false},
};

double CpuNs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

double NsPerCall(Target call, long calls) {
  // Through a volatile pointer: the calls must really happen.
  Target volatile target = call;
  int sink = 0;
  double start = CpuNs();
  for (long i = 0; i < calls; ++i) sink = target(sink);
  double ns = (CpuNs() - start) / calls;
  if (sink != calls) std::fprintf(stderr, "unexpected result %d\n", sink);
  return ns;
}

double SyscallNs(long calls) {
  double start = CpuNs();
  for (long i = 0; i < calls; ++i) syscall(SYS_getppid);
  return (CpuNs() - start) / calls;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

struct Result {
  std::vector<double> plain, probed;
  uint64_t hits = 0;
  uint64_t expected_hits = 0;
  std::string error;
};

struct LinkCloser {
  void operator()(bpf_link* link) const { bpf_link__destroy(link); }
};
using Link = std::unique_ptr<bpf_link, LinkCloser>;

struct SkeletonCloser {
  void operator()(uprobe_cost_bpf* skel) const { uprobe_cost_bpf__destroy(skel); }
};
using Skeleton = std::unique_ptr<uprobe_cost_bpf, SkeletonCloser>;

Link Attach(bpf_program* program, const std::string& exe, const char* symbol, bool ret) {
  LIBBPF_OPTS(bpf_uprobe_opts, opts, .retprobe = ret, .func_name = symbol);
  bpf_link* link = bpf_program__attach_uprobe_opts(program, 0, exe.c_str(), 0, &opts);
  return Link(libbpf_get_error(link) ? nullptr : link);
}

void RunCase(uprobe_cost_bpf& skel, const std::string& exe, const Case& c, long calls,
             Result& out) {
  out.plain.push_back(NsPerCall(c.target, calls));
  Link ret, entry;
  if (c.ret && !(ret = Attach(skel.progs.bench_uprobe_return, exe, c.symbol, true))) {
    out.error = std::string("attaching a uretprobe failed: ") + std::strerror(errno);
    return;
  }
  if (c.entry && !(entry = Attach(skel.progs.bench_uprobe_entry, exe, c.symbol, false))) {
    out.error = std::string("attaching a uprobe failed: ") + std::strerror(errno);
    return;
  }
  uint64_t before = __atomic_load_n(&skel.bss->hits, __ATOMIC_RELAXED);
  out.probed.push_back(NsPerCall(c.target, calls));
  out.hits += __atomic_load_n(&skel.bss->hits, __ATOMIC_RELAXED) - before;
  out.expected_hits += calls * ((c.entry ? 1 : 0) + (c.ret ? 1 : 0));
}

int Usage(const char* argv0) {
  std::fprintf(stderr, "usage: %s [--calls N] [--rounds N] [--json FILE]\n", argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  long calls = 20000;
  int rounds = 3;
  const char* json_path = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return Usage(argv[0]);
    if (arg == "--calls") {
      calls = std::atol(argv[++i]);
    } else if (arg == "--rounds") {
      rounds = std::atoi(argv[++i]);
    } else if (arg == "--json") {
      json_path = argv[++i];
    } else {
      return Usage(argv[0]);
    }
  }
  if (calls <= 0 || rounds <= 0) return Usage(argv[0]);
  if (geteuid() != 0) {
    std::fprintf(stderr, "%s loads eBPF programs: run it as root\n", argv[0]);
    return 2;
  }
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) {
    std::perror("readlink /proc/self/exe");
    return 1;
  }
  exe[n] = '\0';
  Skeleton skel(uprobe_cost_bpf__open_and_load());
  if (!skel) {
    std::fprintf(stderr, "loading the counting programs failed: %s\n", std::strerror(errno));
    return 1;
  }

  std::vector<double> syscall_ns;
  std::vector<Result> results(std::size(kCases));
  for (int r = 0; r < rounds; ++r) {
    syscall_ns.push_back(SyscallNs(calls * 10));
    for (size_t i = 0; i < std::size(kCases); ++i) {
      if (results[i].error.empty()) RunCase(*skel, exe, kCases[i], calls, results[i]);
    }
  }
  skel.reset();

  nlohmann::json out = {{"syscall_ns", Median(syscall_ns)}, {"cases", nlohmann::json::object()}};
  std::printf("| probe | plain call (ns) | probed call (ns) | added per call (ns) | hits seen |\n");
  std::printf("|---|---|---|---|---|\n");
  std::printf("| a syscall (getppid), for scale | - | %.0f | - | - |\n", Median(syscall_ns));
  for (size_t i = 0; i < std::size(kCases); ++i) {
    const Case& c = kCases[i];
    const Result& res = results[i];
    if (!res.error.empty()) {
      std::printf("| %s | - | - | %s | - |\n", c.what, res.error.c_str());
      out["cases"][c.name] = {{"error", res.error}};
      continue;
    }
    double plain = Median(res.plain), probed = Median(res.probed);
    std::printf("| %s | %.1f | %.0f | %.0f | %llu of %llu |\n", c.what, plain, probed,
                probed - plain, static_cast<unsigned long long>(res.hits),
                static_cast<unsigned long long>(res.expected_hits));
    out["cases"][c.name] = {{"plain_ns", plain},
                            {"probed_ns", probed},
                            {"added_ns", probed - plain},
                            {"hits", res.hits},
                            {"expected_hits", res.expected_hits}};
  }
  if (json_path) {
    std::ofstream file(json_path);
    file << out.dump() << "\n";
    if (!file) {
      std::fprintf(stderr, "cannot write %s: %s\n", json_path, std::strerror(errno));
      return 1;
    }
  }
  return 0;
}

#else
int main(int, char** argv) {
  std::fprintf(stderr, "%s: the probe targets are written for x86-64 only\n", argv[0]);
  return 2;
}
#endif
