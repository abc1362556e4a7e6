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
constexpr char kNewprocClosure[] = "runtime.newproc.func1";
constexpr char kRoundTrip[] = "net/http.(*Transport).roundTrip";
constexpr char kRequestWrite[] = "net/http.(*Request).write";
constexpr char kTlsG[] = "runtime.tlsg";
constexpr uint8_t kCallRel32 = 0xe8;

struct Section {
  GElf_Shdr header;
  Elf_Data* data = nullptr;
};

std::optional<Section> FindSection(Elf* elf, std::string_view wanted) {
  size_t names_index = 0;
  if (elf_getshdrstrndx(elf, &names_index) != 0) return std::nullopt;
  for (Elf_Scn* scn = elf_nextscn(elf, nullptr); scn != nullptr; scn = elf_nextscn(elf, scn)) {
    Section section;
    if (gelf_getshdr(scn, &section.header) == nullptr) continue;
    const char* name = elf_strptr(elf, names_index, section.header.sh_name);
    if (name == nullptr || wanted != name) continue;
    section.data = elf_getdata(scn, nullptr);
    if (section.data == nullptr || section.data->d_buf == nullptr) return std::nullopt;
    return section;
  }
  return std::nullopt;
}

std::string_view Bytes(const Section& section) {
  return {static_cast<const char*>(section.data->d_buf), section.data->d_size};
}

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

std::optional<uint64_t> FileOffset(Elf* elf, uint64_t vaddr) {
  auto segment = FindSegment(elf, PT_LOAD, vaddr);
  if (!segment) return std::nullopt;
  return vaddr - segment->p_vaddr + segment->p_offset;
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

std::vector<uint64_t> CallReturnOffsets(std::string_view code, uint64_t code_address,
                                        uint64_t code_offset, uint64_t callee) {
  std::vector<uint64_t> out;
  for (size_t i = 0; i + 5 <= code.size(); ++i) {
    if (static_cast<uint8_t>(code[i]) != kCallRel32) continue;
    int32_t displacement = 0;
    std::memcpy(&displacement, code.data() + i + 1, sizeof(displacement));
    const uint64_t next = code_address + i + 5;
    if (next + static_cast<int64_t>(displacement) == callee) out.push_back(code_offset + i + 5);
  }
  return out;
}

absl::StatusOr<GoProbeSites> FindGoProbeSites(const std::filesystem::path& path) {
  absl::StatusOr<ElfFile> file = ElfFile::Open(path);
  if (!file.ok()) return file.status();
  Elf* elf = file->get();
  GElf_Ehdr header;
  if (gelf_getehdr(elf, &header) == nullptr || header.e_machine != EM_X86_64) {
    return absl::UnimplementedError(
        absl::StrCat(path.string(), ": goroutine probes support x86-64 executables only"));
  }
  const std::vector<std::string> names = {kNewproc1, kNewprocClosure, kRoundTrip, kRequestWrite,
                                          kTlsG};
  GoProbeSites sites;
  std::map<std::string, GoFunction> functions = SymtabFunctions(elf, names);
  sites.symbols_from = "symtab";
  if (!functions.count(kNewproc1)) {
    auto pclntab = FindSection(elf, ".gopclntab");
    if (!pclntab) {
      return absl::NotFoundError(
          absl::StrCat(path.string(), ": neither .symtab nor .gopclntab names runtime.newproc1"));
    }
    auto from_pclntab = GoPclntabFunctions(Bytes(*pclntab), names);
    if (!from_pclntab.ok()) {
      return absl::Status(from_pclntab.status().code(),
                          absl::StrCat(path.string(), ": ", from_pclntab.status().message()));
    }
    functions.merge(*from_pclntab);
    sites.symbols_from = "pclntab";
  }
  sites.g_tls_offset = GTlsOffset(elf, functions);

  auto offset_of = [&](const char* name) -> std::optional<uint64_t> {
    auto it = functions.find(name);
    if (it == functions.end()) return std::nullopt;
    return FileOffset(elf, it->second.address);
  };
  sites.newproc1 = offset_of(kNewproc1);
  sites.round_trip = offset_of(kRoundTrip);
  sites.request_write = offset_of(kRequestWrite);

  auto closure = functions.find(kNewprocClosure);
  auto text = FindSection(elf, ".text");
  if (sites.newproc1 && closure != functions.end() && text) {
    const uint64_t start = closure->second.address;
    const uint64_t text_start = text->header.sh_addr;
    std::string_view text_bytes = Bytes(*text);
    if (start >= text_start && start - text_start < text_bytes.size()) {
      std::string_view code = text_bytes.substr(start - text_start, closure->second.size);
      auto returns = CallReturnOffsets(code, start, text->header.sh_offset + (start - text_start),
                                       functions.at(kNewproc1).address);
      // Exactly one call, or the layout is not the one this was written for.
      if (returns.size() == 1) sites.newproc1_returned = returns.front();
    }
  }
  return sites;
}

}  // namespace weft::elf
