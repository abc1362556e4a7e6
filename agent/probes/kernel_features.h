// What the running kernel offers weft, learned from its BTF and from
// loading and attaching tiny test programs. Used by `weft check` and by the
// loader to pick a capture backend.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft {

enum class CaptureBackend { kAuto, kSocketTracepoints, kSyscallTracepoints };

std::string_view ToString(CaptureBackend b);
absl::StatusOr<CaptureBackend> ParseCaptureBackend(std::string_view name);

// Whether the kernel's BTF describes a raw tracepoint (btf_trace_<name>).
bool KernelHasBtfTracepoint(std::string_view name);
bool KernelHasBtf();

// Whether tracing programs may use hash maps that allocate their elements as
// they fill (BPF_F_NO_PREALLOC): safe since the kernel has the BPF memory
// allocator (6.1); before it the verifier warns in the kernel log, and
// PREEMPT_RT kernels refuse such maps.
bool KernelAllowsGrowingHashMaps();

// The backend `weft run` uses for `requested` on this kernel, or why none can.
absl::StatusOr<CaptureBackend> ChooseBackend(CaptureBackend requested);

struct Capabilities {
  bool bpf = false;
  bool perfmon = false;
  bool sys_admin = false;
  bool sys_ptrace = false;
  bool sys_resource = false;
  bool net_admin = false;
};
Capabilities EffectiveCapabilities();

// Fails with a message saying which capabilities are missing and how to get
// them, when weft cannot load its probes.
absl::Status RequireTracingPrivileges();

struct AttachProbe {
  std::string name;  // "tracepoint (tp_btf)", "kprobe", ...
  bool works = false;
  std::string detail;  // error or note
};

struct KernelReport {
  std::string kernel_release;
  bool btf = false;
  std::string lockdown;  // "none", "integrity", "confidentiality" or "unknown"
  Capabilities caps;
  std::vector<AttachProbe> attach;
  bool can_run = false;
  std::string backend;                // the backend weft would use
  std::string backend_why;            // why that one
  std::vector<std::string> problems;  // what stops weft, with the fix
};

// Probes everything `weft check` reports. Loads and immediately unloads
// test programs; leaves nothing behind.
KernelReport ProbeKernel();

}  // namespace weft
