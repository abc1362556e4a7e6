#include "agent/probes/kernel_features.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/probes/kernel_fs.h"

namespace weft {

std::string_view ToString(CaptureBackend b) {
  switch (b) {
    case CaptureBackend::kSocketTracepoints:
      return "socket-tracepoints";
    case CaptureBackend::kSyscallTracepoints:
      return "syscall-tracepoints";
    default:
      return "auto";
  }
}

absl::StatusOr<CaptureBackend> ParseCaptureBackend(std::string_view name) {
  if (name == "auto") return CaptureBackend::kAuto;
  if (name == "socket" || name == "socket-tracepoints") return CaptureBackend::kSocketTracepoints;
  if (name == "syscall" || name == "syscall-tracepoints")
    return CaptureBackend::kSyscallTracepoints;
  return absl::InvalidArgumentError(absl::StrCat("unknown capture backend '", std::string(name),
                                                 "': use auto, socket or syscall"));
}

namespace {

struct BtfDeleter {
  void operator()(btf* b) const { btf__free(b); }
};
using BtfPtr = std::unique_ptr<btf, BtfDeleter>;

const BtfPtr& VmlinuxBtf() {
  static BtfPtr btf_ptr([] {
    btf* b = btf__load_vmlinux_btf();
    return libbpf_get_error(b) ? nullptr : b;
  }());
  return btf_ptr;
}

int BtfId(const std::string& name, uint32_t kind) {
  const auto& b = VmlinuxBtf();
  if (!b) return -1;
  return btf__find_by_name_kind(b.get(), name.c_str(), kind);
}

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

// r0 = 0; exit
constexpr bpf_insn kReturnZero[] = {
    {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
    {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
};

std::string Errno(int err) { return std::strerror(err < 0 ? -err : err); }

// Silences libbpf's own printing while probing: failures are expected.
int QuietPrint(enum libbpf_print_level, const char*, va_list) { return 0; }

struct QuietLibbpf {
  QuietLibbpf() : previous(libbpf_set_print(QuietPrint)) {}
  ~QuietLibbpf() { libbpf_set_print(previous); }
  libbpf_print_fn_t previous;
};

AttachProbe ProbeTracing(const std::string& label, bpf_attach_type type,
                         const std::string& btf_name, uint32_t btf_kind) {
  AttachProbe probe{label, false, ""};
  int id = BtfId(btf_name, btf_kind);
  if (id < 0) {
    probe.detail = absl::StrCat(btf_name, " not in kernel BTF");
    return probe;
  }
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = type,
              .attach_btf_id = static_cast<uint32_t>(id));
  Fd prog(bpf_prog_load(BPF_PROG_TYPE_TRACING, "weft_probe", "GPL", kReturnZero, 2, &opts));
  if (!prog.ok()) {
    probe.detail = absl::StrCat("load refused: ", Errno(errno));
    return probe;
  }
  Fd link(bpf_raw_tracepoint_open(nullptr, prog.get()));
  if (!link.ok()) {
    probe.detail = absl::StrCat("attach refused: ", Errno(errno));
    return probe;
  }
  probe.works = true;
  probe.detail = absl::StrCat("attached to ", btf_name);
  return probe;
}

int PmuType(const char* pmu) {
  std::ifstream f(absl::StrCat("/sys/bus/event_source/devices/", pmu, "/type"));
  int type = -1;
  if (!(f >> type)) return -1;
  return type;
}

// Loads a do-nothing kprobe-type program and attaches it through a
// kprobe/uprobe PMU perf event; returns "" on success or what was refused.
std::string AttachThroughPmu(int pmu_type, uint64_t config1, uint64_t config2, pid_t pid, int cpu) {
  Fd prog(bpf_prog_load(BPF_PROG_TYPE_KPROBE, "weft_probe", "GPL", kReturnZero, 2, nullptr));
  if (!prog.ok()) return absl::StrCat("load refused: ", Errno(errno));
  perf_event_attr attr{};
  attr.size = sizeof(attr);
  attr.type = pmu_type;
  attr.config1 = config1;
  attr.config2 = config2;
  Fd event(
      static_cast<int>(syscall(SYS_perf_event_open, &attr, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC)));
  if (!event.ok()) return absl::StrCat("perf_event_open refused: ", Errno(errno));
  if (ioctl(event.get(), PERF_EVENT_IOC_SET_BPF, prog.get()) != 0) {
    return absl::StrCat("attach refused: ", Errno(errno));
  }
  return "";
}

AttachProbe ProbeKprobe() {
  AttachProbe probe{"kprobe", false, ""};
  int type = PmuType("kprobe");
  if (type < 0) {
    probe.detail =
        "no kprobe PMU in /sys/bus/event_source/devices (kernel built without CONFIG_KPROBES)";
    return probe;
  }
  const char* fn = "tcp_sendmsg";
  probe.detail = AttachThroughPmu(type, reinterpret_cast<uint64_t>(fn), 0, -1, 0);
  if (!probe.detail.empty()) return probe;
  probe.works = true;
  probe.detail = "attached to tcp_sendmsg";
  return probe;
}

// A function in this binary, for the uprobe probe to attach to.
extern "C" __attribute__((noinline, used)) int weft_uprobe_target(int x) {
  asm volatile("" ::: "memory");
  return x + 1;
}

AttachProbe ProbeUprobe() {
  AttachProbe probe{"uprobe", false, ""};
  int type = PmuType("uprobe");
  if (type < 0) {
    probe.detail = "no uprobe PMU (kernel built without CONFIG_UPROBE_EVENTS)";
    return probe;
  }
  // File offset of weft_uprobe_target: its address within the executable
  // mapping that contains it, plus that mapping's file offset.
  auto addr = reinterpret_cast<uint64_t>(&weft_uprobe_target);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  uint64_t offset = 0;
  bool found = false;
  while (std::getline(maps, line)) {
    uint64_t start = 0, end = 0, file_off = 0;
    char perms[8] = {};
    if (sscanf(line.c_str(), "%lx-%lx %7s %lx", &start, &end, perms, &file_off) != 4) continue;
    if (addr >= start && addr < end) {
      offset = addr - start + file_off;
      found = true;
      break;
    }
  }
  if (!found) {
    probe.detail = "could not locate weft's own code in /proc/self/maps";
    return probe;
  }
  const char* path = "/proc/self/exe";
  probe.detail = AttachThroughPmu(type, reinterpret_cast<uint64_t>(path), offset, getpid(), -1);
  if (!probe.detail.empty()) return probe;
  weft_uprobe_target(1);
  probe.works = true;
  probe.detail = "attached to a function in weft's own binary";
  return probe;
}

AttachProbe ProbeRingBuffer() {
  AttachProbe probe{"ring buffer map", false, ""};
  Fd map(bpf_map_create(BPF_MAP_TYPE_RINGBUF, "weft_probe", 0, 0, 4096 * 16, nullptr));
  if (!map.ok()) {
    probe.detail = absl::StrCat("refused: ", Errno(errno));
    return probe;
  }
  probe.works = true;
  return probe;
}

std::string CgroupV2Root() {
  for (const char* path : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"}) {
    if (IsMounted(path, "cgroup2")) return path;
  }
  return "";
}

AttachProbe ProbeSockops() {
  AttachProbe probe{"sockops (cgroup)", false, ""};
  std::string root = CgroupV2Root();
  if (root.empty()) {
    probe.detail = "no cgroup v2 hierarchy mounted";
    return probe;
  }
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_CGROUP_SOCK_OPS);
  Fd prog(bpf_prog_load(BPF_PROG_TYPE_SOCK_OPS, "weft_probe", "GPL", kReturnZero, 2, &opts));
  if (!prog.ok()) {
    probe.detail = absl::StrCat("load refused: ", Errno(errno));
    return probe;
  }
  Fd cgroup(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cgroup.ok()) {
    probe.detail = absl::StrCat("cannot open ", root, ": ", Errno(errno));
    return probe;
  }
  // ALLOW_MULTI: never displace another user's program while probing.
  if (bpf_prog_attach(prog.get(), cgroup.get(), BPF_CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI) != 0) {
    probe.detail = absl::StrCat("attach to ", root, " refused: ", Errno(errno));
    return probe;
  }
  bpf_prog_detach2(prog.get(), cgroup.get(), BPF_CGROUP_SOCK_OPS);
  probe.works = true;
  probe.detail = absl::StrCat("attached to cgroup v2 at ", root);
  return probe;
}

AttachProbe ProbeSkMsg() {
  AttachProbe probe{"sk_msg (sockhash)", false, ""};
  Fd map(bpf_map_create(BPF_MAP_TYPE_SOCKHASH, "weft_probe", 8, 8, 16, nullptr));
  if (!map.ok()) {
    probe.detail = absl::StrCat("sockhash refused: ", Errno(errno));
    return probe;
  }
  LIBBPF_OPTS(bpf_prog_load_opts, opts, .expected_attach_type = BPF_SK_MSG_VERDICT);
  // r0 = 1 (SK_PASS); exit
  constexpr bpf_insn pass[] = {
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 1},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  Fd prog(bpf_prog_load(BPF_PROG_TYPE_SK_MSG, "weft_probe", "GPL", pass, 2, &opts));
  if (!prog.ok()) {
    probe.detail = absl::StrCat("load refused: ", Errno(errno));
    return probe;
  }
  if (bpf_prog_attach(prog.get(), map.get(), BPF_SK_MSG_VERDICT, 0) != 0) {
    probe.detail = absl::StrCat("attach refused: ", Errno(errno));
    return probe;
  }
  bpf_prog_detach2(prog.get(), map.get(), BPF_SK_MSG_VERDICT);
  probe.works = true;
  return probe;
}

AttachProbe ProbeWriteUser(const std::string& lockdown) {
  AttachProbe probe{"bpf_probe_write_user", false, ""};
  // *(u64 *)(r10 - 8) = 0; r1 = 0; r2 = r10 - 8; r3 = 8;
  // call bpf_probe_write_user; r0 = 0; exit
  constexpr bpf_insn insns[] = {
      {.code = BPF_ST | BPF_MEM | BPF_DW, .dst_reg = 10, .src_reg = 0, .off = -8, .imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 1, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = 2, .src_reg = 10, .off = 0, .imm = 0},
      {.code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = 2, .src_reg = 0, .off = 0, .imm = -8},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 3, .src_reg = 0, .off = 0, .imm = 8},
      {.code = BPF_JMP | BPF_CALL,
       .dst_reg = 0,
       .src_reg = 0,
       .off = 0,
       .imm = BPF_FUNC_probe_write_user},
      {.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
      {.code = BPF_JMP | BPF_EXIT, .dst_reg = 0, .src_reg = 0, .off = 0, .imm = 0},
  };
  Fd prog(bpf_prog_load(BPF_PROG_TYPE_TRACEPOINT, "weft_probe", "GPL", insns, 8, nullptr));
  if (!prog.ok()) {
    probe.detail = lockdown == "none" || lockdown == "unknown"
                       ? absl::StrCat("refused: ", Errno(errno))
                       : absl::StrCat("refused (", Errno(errno), "): lockdown=", lockdown,
                                      " forbids it; weft does not need it");
    return probe;
  }
  probe.works = true;
  probe.detail = "allowed (weft does not use it)";
  return probe;
}

std::string ReadLockdown() {
  auto read = [] {
    std::ifstream f("/sys/kernel/security/lockdown");
    std::string line;
    std::getline(f, line);
    return line;
  };
  std::string line = read();
  bool mounted_here = false;
  if (line.empty() && mount("securityfs", "/sys/kernel/security", "securityfs", 0, nullptr) == 0) {
    mounted_here = true;
    line = read();
  }
  if (mounted_here) umount("/sys/kernel/security");
  if (line.empty()) return "unknown";
  auto open = line.find('['), close = line.find(']');
  if (open == std::string::npos || close == std::string::npos) return line;
  return line.substr(open + 1, close - open - 1);
}

}  // namespace

bool KernelHasBtf() { return VmlinuxBtf() != nullptr; }

bool KernelAllowsGrowingHashMaps() {
  std::ifstream realtime_file("/sys/kernel/realtime");
  int realtime = 0;
  if (realtime_file >> realtime && realtime != 0) return false;
  return BtfId("bpf_mem_alloc", BTF_KIND_STRUCT) >= 0;
}

bool KernelHasBtfTracepoint(std::string_view name) {
  return BtfId(absl::StrCat("btf_trace_", std::string(name)), BTF_KIND_TYPEDEF) >= 0;
}

absl::StatusOr<CaptureBackend> ChooseBackend(CaptureBackend requested) {
  if (!KernelHasBtf()) {
    return absl::FailedPreconditionError(
        "this kernel exposes no BTF (/sys/kernel/btf/vmlinux): weft needs a kernel built with "
        "CONFIG_DEBUG_INFO_BTF=y");
  }
  bool socket_tps =
      KernelHasBtfTracepoint("sock_send_length") && KernelHasBtfTracepoint("sock_recv_length");
  bool syscall_tps = KernelHasBtfTracepoint("sys_enter") && KernelHasBtfTracepoint("sys_exit");
  switch (requested) {
    case CaptureBackend::kSocketTracepoints:
      if (!socket_tps) {
        return absl::FailedPreconditionError(
            "this kernel has no sock_send_length/sock_recv_length tracepoints (they arrived in "
            "Linux 6.3): use --backend=syscall");
      }
      return requested;
    case CaptureBackend::kSyscallTracepoints:
      if (!syscall_tps) {
        return absl::FailedPreconditionError("this kernel has no raw syscall tracepoints");
      }
      return requested;
    default:
      if (socket_tps) return CaptureBackend::kSocketTracepoints;
      if (syscall_tps) return CaptureBackend::kSyscallTracepoints;
      return absl::FailedPreconditionError(
          "this kernel has neither socket nor syscall tracepoints weft can attach to");
  }
}

Capabilities EffectiveCapabilities() {
  Capabilities caps;
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("CapEff:", 0) != 0) continue;
    uint64_t eff = std::stoull(line.substr(7), nullptr, 16);
    auto has = [eff](int cap) { return (eff >> cap) & 1; };
    caps.net_admin = has(12);
    caps.sys_ptrace = has(19);
    caps.sys_admin = has(21);
    caps.sys_resource = has(24);
    caps.perfmon = has(38);
    caps.bpf = has(39);
  }
  return caps;
}

absl::Status RequireTracingPrivileges() {
  Capabilities caps = EffectiveCapabilities();
  if ((caps.bpf && caps.perfmon) || caps.sys_admin) return absl::OkStatus();
  std::vector<std::string> missing;
  if (!caps.bpf) missing.push_back("CAP_BPF");
  if (!caps.perfmon) missing.push_back("CAP_PERFMON");
  return absl::PermissionDeniedError(absl::StrCat(
      "weft needs ", absl::StrJoin(missing, " and "),
      " to load its eBPF probes: run it as root (sudo weft ...), or grant them with "
      "`setcap cap_bpf,cap_perfmon,cap_sys_resource,cap_sys_ptrace+ep <path to weft>`"));
}

KernelReport ProbeKernel() {
  KernelReport report;
  utsname u{};
  uname(&u);
  report.kernel_release = u.release;
  report.btf = KernelHasBtf();
  report.lockdown = ReadLockdown();
  report.caps = EffectiveCapabilities();

  QuietLibbpf quiet;
  report.attach.push_back(ProbeTracing("socket tracepoints (tp_btf sock_send_length)",
                                       BPF_TRACE_RAW_TP, "btf_trace_sock_send_length",
                                       BTF_KIND_TYPEDEF));
  report.attach.push_back(ProbeTracing("syscall tracepoints (tp_btf sys_enter)", BPF_TRACE_RAW_TP,
                                       "btf_trace_sys_enter", BTF_KIND_TYPEDEF));
  report.attach.push_back(ProbeTracing("tcp_sendmsg_locked tracepoint", BPF_TRACE_RAW_TP,
                                       "btf_trace_tcp_sendmsg_locked", BTF_KIND_TYPEDEF));
  report.attach.push_back(ProbeUprobe());
  report.attach.push_back(ProbeKprobe());
  report.attach.push_back(ProbeTracing("fentry", BPF_TRACE_FENTRY, "tcp_sendmsg", BTF_KIND_FUNC));
  report.attach.push_back(ProbeRingBuffer());
  report.attach.push_back(ProbeSockops());
  report.attach.push_back(ProbeSkMsg());
  report.attach.push_back(ProbeWriteUser(report.lockdown));

  auto priv = RequireTracingPrivileges();
  if (!priv.ok()) report.problems.push_back(std::string(priv.message()));
  auto backend = ChooseBackend(CaptureBackend::kAuto);
  if (!backend.ok()) {
    report.problems.push_back(std::string(backend.status().message()));
  } else {
    report.backend = std::string(ToString(*backend));
    report.backend_why = *backend == CaptureBackend::kSocketTracepoints
                             ? "sock_send_length/sock_recv_length fire only on socket I/O"
                             : "socket tracepoints missing (Linux < 6.3); syscall tracepoints "
                               "slow every syscall on the node";
    // The chosen backend must also attach, not only exist in BTF.
    // Without privileges every load fails; the privilege problem says it all.
    const AttachProbe& tp = report.attach[*backend == CaptureBackend::kSocketTracepoints ? 0 : 1];
    if (priv.ok() && !tp.works) {
      report.problems.push_back(absl::StrCat("cannot attach ", tp.name, ": ", tp.detail));
    }
    if (priv.ok() && !report.attach[6].works) {
      report.problems.push_back("ring buffer maps are refused (needs Linux 5.8+)");
    }
  }
  report.can_run = report.problems.empty();
  return report;
}

}  // namespace weft
