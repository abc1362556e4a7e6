#include "symbolizer/elf/go_probe_sites.h"

#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "symbolizer/elf/elf_file.h"
#include "symbolizer/elf/go_pclntab.h"

namespace weft::elf {
namespace {

constexpr char kNewproc1[] = "runtime.newproc1";
constexpr char kRunqput[] = "runtime.runqput";
// newproc's system-stack closure: newg := newproc1(fn, gp, pc); runqput(pp, newg, true).
constexpr char kNewprocClosure[] = "runtime.newproc.func1";
constexpr char kRoundTrip[] = "net/http.(*Transport).roundTrip";
constexpr char kRoundTripCaller[] = "net/http.(*Transport).RoundTrip";
constexpr char kRequestWrite[] = "net/http.(*Request).write";
constexpr char kWriteLoop[] = "net/http.(*persistConn).writeLoop";
constexpr char kTlsG[] = "runtime.tlsg";
constexpr uint8_t kCallRel32 = 0xe8;

// Functions (and the TLS symbol) by name from .symtab.
std::map<std::string, GoFunction> SymtabFunctions(Elf* elf, const std::vector<std::string>& names) {
  std::map<std::string, GoFunction> found;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    GElf_Shdr header;
    if (gelf_getshdr(scn, &header) == nullptr || header.sh_type != SHT_SYMTAB) continue;
    Elf_Data* data = elf_getdata(scn, nullptr);
    if (data == nullptr || header.sh_entsize == 0) continue;
    const size_t count = header.sh_size / header.sh_entsize;
    for (size_t i = 0; i < count; ++i) {
      GElf_Sym symbol;
      if (gelf_getsym(data, static_cast<int>(i), &symbol) == nullptr) continue;
      const int type = GELF_ST_TYPE(symbol.st_info);
      if ((type != STT_FUNC && type != STT_TLS) || symbol.st_shndx == SHN_UNDEF) continue;
      const char* name = elf_strptr(elf, header.sh_link, symbol.st_name);
      if (name == nullptr || std::find(names.begin(), names.end(), name) == names.end()) continue;
      found.emplace(name, GoFunction{symbol.st_value, symbol.st_size});
    }
  }
  return found;
}

std::optional<GElf_Phdr> FindSegment(Elf* elf, uint32_t type, std::optional<uint64_t> vaddr) {
  size_t count = 0;
  if (elf_getphdrnum(elf, &count) != 0) return std::nullopt;
  for (size_t i = 0; i < count; ++i) {
    GElf_Phdr segment;
    if (gelf_getphdr(elf, static_cast<int>(i), &segment) == nullptr) continue;
    if (segment.p_type != type) continue;
    if (!vaddr || (*vaddr >= segment.p_vaddr && *vaddr < segment.p_vaddr + segment.p_filesz)) {
      return segment;
    }
  }
  return std::nullopt;
}

// x86-64 variant II TLS: the executable's block ends at the thread pointer.
// Internally linked Go programs have no PT_TLS and use -8 by convention; with
// external linking (cgo) runtime.tlsg is a TLS symbol inside the block.
int64_t GTlsOffset(Elf* elf, const std::map<std::string, GoFunction>& symbols) {
  auto tls = FindSegment(elf, PT_TLS, std::nullopt);
  auto tlsg = symbols.find(kTlsG);
  if (!tls || tlsg == symbols.end()) return -8;
  const uint64_t align = std::max<uint64_t>(tls->p_align, 1);
  const uint64_t block = (tls->p_memsz + align - 1) / align * align;
  return static_cast<int64_t>(tlsg->second.address) - static_cast<int64_t>(block);
}

}  // namespace

std::vector<uint64_t> CallOffsets(std::string_view code, uint64_t code_address,
                                  uint64_t code_offset, uint64_t callee) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i + 5 <= code.size(); ++i) {
    if (static_cast<uint8_t>(code[i]) != kCallRel32) continue;
    int32_t displacement = 0;
    std::memcpy(&displacement, code.data() + i + 1, sizeof(displacement));
    const uint64_t next = code_address + i + 5;
    if (next + static_cast<int64_t>(displacement) == callee) out.push_back(code_offset + i);
  }
  return out;
}

absl::StatusOr<GoProbeSites> FindGoProbeSites(const std::filesystem::path& path) {
  absl::StatusOr<ElfFile> file = ElfFile::Open(path);
  if (!file.ok()) return file.status();
  Elf* elf = file->get();
  if (auto st = RequireX86_64(elf, path, "goroutine probes"); !st.ok()) return st;
  // The probes read arguments from registers: Go's register ABI (1.17+).
  // The pclntab layout dates the toolchain; 1.18+ is what is known to work.
  auto pclntab = FindElfSection(elf, ".gopclntab");
  if (!pclntab) {
    return absl::NotFoundError(absl::StrCat(path.string(), ": no .gopclntab (not a Go program?)"));
  }
  if (auto probe = GoPclntabFunctions(SectionBytes(*pclntab), {}); !probe.ok()) {
    return absl::Status(probe.status().code(),
                        absl::StrCat(path.string(), ": ", probe.status().message()));
  }
  const std::vector<std::string> names = {
      kNewproc1,        kRunqput,      kNewprocClosure, kRoundTrip,
      kRoundTripCaller, kRequestWrite, kWriteLoop,      kTlsG};
  GoProbeSites sites;
  std::map<std::string, GoFunction> functions = SymtabFunctions(elf, names);
  sites.symbols_from = "symtab";
  if (!functions.count(kNewproc1)) {
    auto from_pclntab = GoPclntabFunctions(SectionBytes(*pclntab), names);
    if (!from_pclntab.ok()) {
      return absl::Status(from_pclntab.status().code(),
                          absl::StrCat(path.string(), ": ", from_pclntab.status().message()));
    }
    functions.merge(*from_pclntab);
    sites.symbols_from = "pclntab";
  }
  sites.g_tls_offset = GTlsOffset(elf, functions);

  auto text = FindElfSection(elf, ".text");
  if (!text) return absl::NotFoundError(absl::StrCat(path.string(), ": no .text"));
  // The one call from `caller` to `callee`, or nothing: more than one means
  // a layout this was not written for.
  auto only_call = [&](const char* caller, const char* callee) -> std::optional<uint64_t> {
    auto from = functions.find(caller);
    auto to = functions.find(callee);
    if (from == functions.end() || to == functions.end()) return std::nullopt;
    const uint64_t start = from->second.address;
    const uint64_t text_start = text->header.sh_addr;
    std::string_view text_bytes = SectionBytes(*text);
    if (start < text_start || start - text_start >= text_bytes.size()) return std::nullopt;
    std::string_view code = text_bytes.substr(start - text_start, from->second.size);
    auto calls =
        CallOffsets(code, start, text->header.sh_offset + (start - text_start), to->second.address);
    if (calls.size() != 1) return std::nullopt;
    return calls.front();
  };
  sites.newproc1_call = only_call(kNewprocClosure, kNewproc1);
  sites.runqput_call = only_call(kNewprocClosure, kRunqput);
  sites.round_trip_call = only_call(kRoundTripCaller, kRoundTrip);
  sites.request_write_call = only_call(kWriteLoop, kRequestWrite);
  return sites;
}

}  // namespace weft::elf
