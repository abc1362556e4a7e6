#include "agent/resources/program_identity.h"

#include <array>
#include <span>
#include <string_view>
#include <vector>

namespace weft::resources {
namespace {

enum class Interpreter { kNone, kPython, kNode, kJava, kRuby, kPerl, kPhp, kShell };

// Command-line conventions of one interpreter: how to find the program it runs.
struct InterpreterSyntax {
  // Options whose value is the next argument (`-W ignore`).
  std::vector<std::string_view> options_with_value;
  // Options meaning "the program is inline code, there is no script".
  std::vector<std::string_view> inline_code_options;
  // Options naming a module to run (`python -m http.server`).
  std::vector<std::string_view> module_options;
  // Script suffixes dropped from the name.
  std::vector<std::string_view> script_suffixes;
};

// `python3`, `python3.11`, `pypy3`, `node`, `ruby3.1`, `php8.2`: a known
// stem followed only by a version.
bool IsStemWithVersion(std::string_view name, std::string_view stem) {
  if (!name.starts_with(stem)) return false;
  for (char c : name.substr(stem.size())) {
    if ((c < '0' || c > '9') && c != '.') return false;
  }
  return true;
}

Interpreter ClassifyInterpreter(std::string_view name) {
  if (IsStemWithVersion(name, "python") || IsStemWithVersion(name, "pypy")) {
    return Interpreter::kPython;
  }
  if (IsStemWithVersion(name, "node") || name == "nodejs") return Interpreter::kNode;
  if (name == "java") return Interpreter::kJava;
  if (IsStemWithVersion(name, "ruby")) return Interpreter::kRuby;
  if (IsStemWithVersion(name, "perl")) return Interpreter::kPerl;
  if (IsStemWithVersion(name, "php")) return Interpreter::kPhp;
  for (std::string_view shell : {"sh", "bash", "dash", "zsh", "ksh", "ash"}) {
    if (name == shell) return Interpreter::kShell;
  }
  return Interpreter::kNone;
}

std::optional<std::string> LanguageOf(Interpreter interpreter) {
  switch (interpreter) {
    case Interpreter::kPython:
      return "python";
    case Interpreter::kNode:
      return "nodejs";
    case Interpreter::kJava:
      return "java";
    case Interpreter::kRuby:
      return "ruby";
    case Interpreter::kPhp:
      return "php";
    // perl and shells have no telemetry.sdk.language well-known value.
    case Interpreter::kPerl:
    case Interpreter::kShell:
    case Interpreter::kNone:
      break;
  }
  return std::nullopt;
}

const InterpreterSyntax& SyntaxOf(Interpreter interpreter) {
  static const InterpreterSyntax kPython{
      {"-W", "-X", "-Q", "--check-hash-based-pycs"}, {"-c", "-"}, {"-m"}, {".py", ".pyw", ".pyc"}};
  static const InterpreterSyntax kNode{
      {"-r", "--require", "--import", "--loader", "--experimental-loader", "--env-file", "--title",
       "--conditions", "-C"},
      {"-e", "--eval", "-p", "--print", "-i", "--interactive", "-"},
      {},
      {".js", ".mjs", ".cjs", ".ts"}};
  static const InterpreterSyntax kJava{
      {"-cp", "-classpath", "--class-path", "-p", "--module-path", "--add-modules", "--add-opens",
       "--add-exports", "--add-reads", "--upgrade-module-path", "--limit-modules",
       "--enable-native-access"},
      {},
      {"-jar", "-m", "--module"},
      {".jar"}};
  static const InterpreterSyntax kRuby{
      {"-r", "-I", "-C", "-E", "--encoding"}, {"-e", "-"}, {}, {".rb"}};
  static const InterpreterSyntax kPerl{{"-I", "-M", "-m"}, {"-e", "-E", "-"}, {}, {".pl"}};
  static const InterpreterSyntax kPhp{
      {"-c", "-d", "-z"}, {"-r", "-a", "-S", "-"}, {"-f"}, {".php"}};
  static const InterpreterSyntax kShell{
      {"-o", "+o", "-O", "+O"}, {"-c", "-s", "-"}, {}, {".sh", ".bash"}};
  static const InterpreterSyntax kNoSyntax{};
  switch (interpreter) {
    case Interpreter::kPython:
      return kPython;
    case Interpreter::kNode:
      return kNode;
    case Interpreter::kJava:
      return kJava;
    case Interpreter::kRuby:
      return kRuby;
    case Interpreter::kPerl:
      return kPerl;
    case Interpreter::kPhp:
      return kPhp;
    case Interpreter::kShell:
      return kShell;
    case Interpreter::kNone:
      break;
  }
  return kNoSyntax;
}

bool Contains(const std::vector<std::string_view>& options, std::string_view arg) {
  for (std::string_view option : options) {
    if (option == arg) return true;
  }
  return false;
}

std::string DropSuffix(std::string name, const std::vector<std::string_view>& suffixes) {
  for (std::string_view suffix : suffixes) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      name.resize(name.size() - suffix.size());
      break;
    }
  }
  return name;
}

// `pkg/__main__.py` says nothing; its directory names the program.
std::string ScriptName(std::string_view path, const InterpreterSyntax& syntax) {
  std::string name = DropSuffix(BaseName(path), syntax.script_suffixes);
  if (name == "__main__" || name == "__init__") {
    std::string_view directory =
        path.substr(0, path.rfind('/') == std::string_view::npos ? 0 : path.rfind('/'));
    if (!directory.empty()) return BaseName(directory);
  }
  return name;
}

// `bash -lc 'cmd'`, `python3 -Bc 'code'`: single-letter flags clustered
// with -c, so the program is inline code.
bool IsClusterWithInlineCode(Interpreter interpreter, std::string_view arg) {
  if (interpreter != Interpreter::kPython && interpreter != Interpreter::kShell) return false;
  if (arg.size() < 3 || arg[0] != '-' || arg[1] == 'X' || arg[1] == 'W') return false;
  for (char c : arg.substr(1)) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) return false;
  }
  return arg.find('c') != std::string_view::npos;
}

// The program an interpreter runs, from its arguments (argv without argv[0]);
// empty when it runs inline code or reads stdin.
std::string ProgramOf(Interpreter interpreter, std::span<const std::string> args) {
  const InterpreterSyntax& syntax = SyntaxOf(interpreter);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--") return i + 1 < args.size() ? ScriptName(args[i + 1], syntax) : "";
    if (Contains(syntax.inline_code_options, arg) || IsClusterWithInlineCode(interpreter, arg)) {
      return "";
    }
    if (Contains(syntax.module_options, arg)) {
      if (i + 1 >= args.size()) return "";
      std::string_view module = args[i + 1];
      // `java -jar shop.jar`, `php -f index.php`: a file, named like a script.
      if (arg == "-jar" || arg == "-f") return ScriptName(module, syntax);
      if (interpreter == Interpreter::kJava) {
        module = module.substr(0, module.find('/'));  // `-m module/main.Class`
      }
      return std::string(module);
    }
    // `python -mhttp.server`: the module glued to its option.
    if (interpreter == Interpreter::kPython && arg.size() > 2 && arg.starts_with("-m")) {
      return std::string(arg.substr(2));
    }
    if (Contains(syntax.options_with_value, arg)) {
      ++i;
      continue;
    }
    if (arg.size() > 1 &&
        (arg[0] == '-' || (interpreter == Interpreter::kShell && arg[0] == '+'))) {
      continue;  // a flag, or an option with its value glued on (`-Dkey=v`)
    }
    if (interpreter == Interpreter::kJava) {
      // A main class: its simple name.
      const size_t dot = arg.rfind('.');
      return std::string(dot == std::string_view::npos ? arg : arg.substr(dot + 1));
    }
    return ScriptName(arg, syntax);
  }
  return "";
}

// `gunicorn: master [app:app]` (a process that rewrote its argv[0]) -> `gunicorn`.
std::string ProgramNameFromArgv0(std::string_view argv0) {
  std::string_view first_word = argv0.substr(0, argv0.find_first_of(" :"));
  return BaseName(first_word);
}

}  // namespace

std::string BaseName(std::string_view path) {
  while (path.size() > 1 && path.ends_with('/')) path.remove_suffix(1);
  const size_t slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

ProgramIdentity IdentifyProgram(const proc::ProcessInfo& process) {
  const std::string exe_name = BaseName(process.exe_path);
  const std::string argv0_name =
      process.cmdline.empty() ? "" : ProgramNameFromArgv0(process.cmdline.front());

  Interpreter interpreter = ClassifyInterpreter(argv0_name);
  if (interpreter == Interpreter::kNone) interpreter = ClassifyInterpreter(exe_name);

  ProgramIdentity identity;
  identity.language = LanguageOf(interpreter);
  if (process.is_go_binary) identity.language = "go";
  if (exe_name == "dotnet") identity.language = "dotnet";
  if (exe_name == "beam.smp" || exe_name == "beam") identity.language = "erlang";

  if (interpreter != Interpreter::kNone) {
    // An interpreter whose argv[0] is some other word was launched through a
    // symlink or renamed itself (setproctitle): that word is the program.
    if (!argv0_name.empty() && ClassifyInterpreter(argv0_name) == Interpreter::kNone) {
      identity.service_name = argv0_name;
      return identity;
    }
    const std::span<const std::string> args(process.cmdline);
    identity.service_name = ProgramOf(interpreter, args.empty() ? args : args.subspan(1));
    if (!identity.service_name.empty()) return identity;
    identity.service_name = !argv0_name.empty() ? argv0_name : exe_name;
    return identity;
  }
  if (!exe_name.empty()) {
    identity.service_name = exe_name;
  } else if (!argv0_name.empty()) {
    identity.service_name = argv0_name;
  } else {
    identity.service_name = process.comm;
  }
  return identity;
}

}  // namespace weft::resources
