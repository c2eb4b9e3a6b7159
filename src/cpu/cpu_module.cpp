// Kernels compiled at run time for CPU devices: the host C++ compiler builds a shared library
// from the kernel source; it is loaded from memory (memfd) and stays loaded.
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "cpu/cpu_backend.hpp"
#include "ndl/detail/rt_kernel.hpp"
#include "ndl/error.hpp"

extern char** environ;

namespace ndl::cpu {

namespace {

/// The compiler command: NDL_CXX, else CXX, else c++ (split on spaces: "ccache g++" works).
std::vector<std::string> compiler_command() {
  const char* env = std::getenv("NDL_CXX");
  if (!env || !*env) env = std::getenv("CXX");
  std::istringstream in(env && *env ? env : "c++");
  std::vector<std::string> words;
  for (std::string w; in >> w;)
    words.push_back(w);
  return words;
}

/// Flags every CPU kernel is compiled with.
const std::vector<std::string>& compile_flags() {
  static const std::vector<std::string> flags = {
      "-std=c++20",
      "-O3",
      "-march=native",
      "-fPIC",
      "-shared",
      "-fvisibility=hidden",
      NDL_CHECKED ? "-DNDL_CHECKED=1" : "-DNDL_CHECKED=0"};
  return flags;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

/// Runs `argv`, its output into `log`; returns the exit status (-1: could not start).
int run(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/// A private temporary directory, removed with everything in it.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ndl-kernel-XXXXXX").string();
    if (!mkdtemp(tmpl.data()))
      detail::throw_error(errc::backend_failure,
                          "cannot create a temporary directory for compiling a kernel: " +
                              std::string(std::strerror(errno)));
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words)
    out += (out.empty() ? "" : " ") + w;
  return out;
}

}  // namespace

std::string cpu_backend::compile_module(int, const std::string& source,
                                        const std::vector<std::string>& options) {
  temp_dir dir;
  const auto src = dir.path / "kernel.cpp";
  const auto out = dir.path / "kernel.so";
  const auto log = dir.path / "log.txt";
  {
    std::ofstream f(src, std::ios::binary);
    f << source;
  }
  std::vector<std::string> argv = compiler_command();
  for (const auto& f : compile_flags())
    argv.push_back(f);
  argv.push_back(src.string());
  argv.push_back("-o");
  argv.push_back(out.string());
  // Options last: libraries (-lndl) must follow the source that needs them.
  for (const auto& o : options)
    argv.push_back(o);
  const int status = run(argv, log);
  if (status == -1)
    detail::throw_error(errc::compile_failure,
                        "cannot run the C++ compiler '" + argv[0] +
                            "' (set NDL_CXX or CXX to a C++20 compiler): " + std::strerror(errno));
  if (status != 0 || !std::filesystem::exists(out)) {
    std::string text = read_file(log);
    if (text.size() > 16384) text = text.substr(0, 16384) + "\n[... log truncated]";
    detail::throw_error(errc::compile_failure, "the kernel did not compile (exit status " +
                                                   std::to_string(status) + "): " + join(argv) +
                                                   "\n" + text);
  }
  return read_file(out);
}

std::string cpu_backend::compiler_id(int) {
  static const std::string id = [] {
    temp_dir dir;
    auto argv = compiler_command();
    argv.push_back("--version");
    const auto log = dir.path / "version.txt";
    std::string version = run(argv, log) == 0 ? read_file(log) : std::string("unknown compiler");
    version = version.substr(0, version.find('\n'));
    std::string cpu = "unknown cpu";
    std::ifstream info("/proc/cpuinfo");
    for (std::string line; std::getline(info, line);)
      if (line.rfind("model name", 0) == 0) {
        cpu = line.substr(line.find(':') + 1);
        break;
      }
    return join(compiler_command()) + " (" + version + ") " + join(compile_flags()) + " on" + cpu;
  }();
  return id;
}

const detail::rt_kernel* cpu_backend::load_module(int, const std::string& image,
                                                  const detail::rt_signature& signature) {
  // From memory: the image may come from a cache and need not exist as a file.
  const int fd = memfd_create("ndl-kernel", MFD_CLOEXEC);
  if (fd < 0)
    detail::throw_error(errc::backend_failure, "memfd_create failed loading a kernel: " +
                                                   std::string(std::strerror(errno)));
  size_t written = 0;
  while (written < image.size()) {
    const ssize_t n = write(fd, image.data() + written, image.size() - written);
    if (n <= 0) {
      close(fd);
      detail::throw_error(errc::backend_failure, "cannot write a kernel image to memory");
    }
    written += static_cast<size_t>(n);
  }
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  // Never unloaded: launches in flight and cached specialisations point into it. The memfd
  // stays open as long as the library is loaded: dlopen matches an already loaded library by
  // its path, and a closed descriptor's number (hence its /proc/self/fd path) is reused by
  // the next load, which would then get this library back instead of its own.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) close(fd);
  const std::string name = signature.name ? signature.name : "";
  if (!handle)
    detail::throw_error(
        errc::invalid_argument,
        "kernel '" + name + "': the image is not a loadable shared library: " + dlerror());
  auto entry = reinterpret_cast<detail::rt_module_entry_fn>(dlsym(handle, "ndl_rt_kernel"));
  if (!entry)
    detail::throw_error(
        errc::invalid_argument,
        "kernel '" + name + "': the library exports no ndl_rt_kernel (no NDL_RT_KERNEL line)");
  return entry();
}

}  // namespace ndl::cpu
