// A procfs look-alike in a temp dir: just the files weft reads, written the
// way the kernel writes them.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace weft::testing {

struct FakeProcess {
  int pid = 0;
  int parent_pid = 1;
  std::string comm = "fake";
  uint32_t uid = 1000;
  uint64_t start_time_ticks = 4242;
  std::string exe;                   // symlink target; empty: no exe link
  std::vector<std::string> cmdline;  // written NUL-separated
  std::vector<std::string> environ;  // "KEY=value" entries
  std::vector<int> children;         // written to task/PID/children
};

class FakeProcTree {
 public:
  FakeProcTree() {
    std::string pattern = (std::filesystem::temp_directory_path() / "weft-proc-XXXXXX").string();
    root_ = ::mkdtemp(pattern.data());
  }
  ~FakeProcTree() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  FakeProcTree(const FakeProcTree&) = delete;
  FakeProcTree& operator=(const FakeProcTree&) = delete;

  const std::filesystem::path& root() const { return root_; }

  // `with_children_files` false imitates a kernel without CONFIG_PROC_CHILDREN.
  void Add(const FakeProcess& process, bool with_children_files = true) {
    const std::filesystem::path dir = root_ / std::to_string(process.pid);
    std::filesystem::create_directories(dir / "task" / std::to_string(process.pid));
    // Fields 3..52 as a 6.x kernel prints them; 4 is ppid, 22 the start time.
    std::vector<std::string> fields = {"S", std::to_string(process.parent_pid)};
    for (int field = 5; field <= 52; ++field) {
      fields.push_back(field == 22 ? std::to_string(process.start_time_ticks) : "0");
    }
    Write(dir / "stat",
          absl::StrCat(process.pid, " (", process.comm, ") ", absl::StrJoin(fields, " "), "\n"));
    Write(dir / "status",
          absl::StrCat("Name:\t", process.comm, "\nPid:\t", process.pid, "\nPPid:\t",
                       process.parent_pid, "\nUid:\t", process.uid, "\t", process.uid, "\t",
                       process.uid, "\t", process.uid, "\n"));
    Write(dir / "cmdline", NulJoined(process.cmdline));
    Write(dir / "environ", NulJoined(process.environ));
    if (!process.exe.empty()) std::filesystem::create_symlink(process.exe, dir / "exe");
    if (with_children_files) {
      std::string children;
      for (int child : process.children) absl::StrAppend(&children, child, " ");
      Write(dir / "task" / std::to_string(process.pid) / "children", children);
    }
  }

  void Write(const std::filesystem::path& path, const std::string& content) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file << content;
  }

 private:
  static std::string NulJoined(const std::vector<std::string>& parts) {
    std::string joined;
    for (const std::string& part : parts) {
      joined += part;
      joined.push_back('\0');
    }
    return joined;
  }

  std::filesystem::path root_;
};

}  // namespace weft::testing
