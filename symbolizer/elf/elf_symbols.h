// Function symbols of an ELF shared object as FILE OFFSETS, the unit uprobes
// are attached in (a uprobe names a file and an offset in it, so one probe
// covers every process that maps the file, wherever it is mapped).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace weft::elf {

// Looks `names` up in the dynamic symbol table (.dynsym; falls back to .symtab
// when there is none) and returns name -> file offset of the code for every
// defined function found. Names not defined in the file are absent from the
// result; an error only when the file cannot be read as ELF.
absl::StatusOr<std::map<std::string, uint64_t>> FunctionFileOffsets(
    const std::filesystem::path& path, const std::vector<std::string>& names);

// Looks `names` up among the defined symbols of any kind (functions, data)
// in the full symbol table (.symtab) and then the dynamic one (.dynsym), and
// returns name -> link-time virtual address (st_value) for each one found.
// Local data such as a static variable is only in .symtab: a stripped file
// lacks it. An error only when the file cannot be read as ELF.
absl::StatusOr<std::map<std::string, uint64_t>> SymbolAddresses(
    const std::filesystem::path& path, const std::vector<std::string>& names);

}  // namespace weft::elf
