// `sigmaflow plugin check FILE`: everything a node author should know before shipping a plugin,
// worked out in a child process (a crashing or hanging plugin cannot take the checker down).
#include <fmt/format.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "cli/app.h"
#include "cli/commands.h"
#include "plugins/build_gate.h"
#include "registry/contract_check.h"

namespace sf::host {

namespace {

// Clashes with the names other plugins (the stock ones first) already provide; the checked file
// itself may be on the plugin path and is not compared with itself.
int check_names(const Registered& reg, const Catalogue& stock, const std::string& self) {
  int problems = 0;
  for (const auto& d : reg.nodes) {
    const CatalogueEntry* held = stock.find(d.contract.class_type);
    if (!held || held->plugin_path == self) continue;
    if (d.contract.overrides == d.contract.class_type) {
      fmt::print("  note: node {} overrides {}'s ({})\n", d.contract.class_type, held->plugin, held->plugin_path);
    } else {
      fmt::print(
          "  problem: class_type '{}' is already provided by plugin '{}'; the host would refuse this node "
          "(set overrides = \"{}\" to replace it deliberately)\n",
          d.contract.class_type, held->plugin, d.contract.class_type);
      ++problems;
    }
  }
  auto names = [&](const char* kind, const auto& defs, auto find) {
    for (const auto& d : defs) {
      const RegistryName* held = find(d.name);
      if (!held || d.overrides || held->plugin_path == self) continue;
      fmt::print(
          "  problem: {} name '{}' is already provided by plugin '{}'; the host would refuse it (set "
          "overrides = true to replace it deliberately)\n",
          kind, d.name, held->plugin);
      ++problems;
    }
  };
  names("schedule", reg.schedules, [&](const std::string& n) { return stock.find_schedule(n); });
  names("sampler", reg.samplers, [&](const std::string& n) { return stock.find_sampler(n); });
  return problems;
}

int run_self_test(const std::string& what, const std::function<Status()>& test) {
  if (!test) return 0;
  Status st = Internal("self-test threw");
  try {
    st = test();
  } catch (const std::exception& e) {
    st = Internal(std::string("self-test threw: ") + e.what());
  }
  fmt::print("    {} self-test: {}\n", what, st.ok() ? "passed" : "FAILED: " + st.message());
  return st.ok() ? 0 : 1;
}

int check_nodes(const Registered& reg, const Catalogue& known) {
  int problems = 0;
  for (const auto& d : reg.nodes) {
    const auto& c = d.contract;
    fmt::print("  node {} [{}] inputs:", c.class_type, c.category);
    for (const auto& in : c.inputs) fmt::print(" {}:{}{}", in.name, in.type, in.optional ? "?" : "");
    fmt::print(" outputs:");
    for (const auto& out : c.outputs) fmt::print(" {}", out.type);
    fmt::print("\n");
    for (const auto& p : check_contract(c)) {
      fmt::print("    problem: {}\n", p);
      ++problems;
    }
    for (const auto& t : unknown_port_types(c, known)) {
      fmt::print("    problem: port type {} is produced or consumed by no other loaded node\n", t);
      ++problems;
    }
    problems += run_self_test("node", d.self_test);
  }
  for (const auto& s : reg.schedules) {
    fmt::print("  schedule {}\n", s.name);
    problems += run_self_test("schedule", s.self_test);
  }
  for (const auto& s : reg.samplers) {
    fmt::print("  sampler {} ({}{})\n", s.name, s.traits.stochastic ? "stochastic" : "deterministic",
               s.traits.multistep ? ", multistep" : "");
    problems += run_self_test("sampler", s.self_test);
  }
  return problems;
}

// The child's work. Never returns.
[[noreturn]] void check_in_child(const CliOptions& o, const std::string& path, int done_fd) {
  reset_fatal_signal_handlers();
  PluginHost others;
  scan_plugins(others, o, true);
  Registered reg;
  sf_build_record r{};
  Status st = load_plugin(path, reg, r, nullptr);
  if (!st.ok()) {
    fmt::print(stderr, "{}: refused: {}\n", path, st.message());
    std::fflush(nullptr);
    (void)!::write(done_fd, "done", 4);
    _exit(kExitFailure);
  }
  fmt::print("plugin {} {} ({})\n", record_string(r.plugin_name, sizeof r.plugin_name),
             record_string(r.plugin_version, sizeof r.plugin_version), path);
  fmt::print("  build record: API {}.{}, LibTorch {} ({}), _GLIBCXX_USE_CXX11_ABI={}, {}\n", r.api_major, r.api_minor,
             record_string(r.torch_version, sizeof r.torch_version), r.torch_cuda ? "CUDA" : "CPU", r.cxx11_abi,
             record_string(r.compiler, sizeof r.compiler));
  Catalogue known = others.catalogue();
  for (const auto& d : reg.nodes) known.put({d.contract, "(checked)", path, {}});
  int problems = check_names(reg, others.catalogue(), path) + check_nodes(reg, known);
  fmt::print("{} problem(s)\n", problems);
  std::fflush(nullptr);
  (void)!::write(done_fd, "done", 4);  // the handshake: a plugin that exit()s while loading never gets here
  _exit(problems ? kExitFailure : kExitOk);
}

}  // namespace

int cmd_plugin_check(const CliOptions& o) {
  const std::string path = std::filesystem::absolute(o.plugin_file).string();
  int fds[2];
  if (::pipe(fds) != 0) {
    fmt::print(stderr, "error: cannot create a pipe: {}\n", std::strerror(errno));
    return kExitFailure;
  }
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    fmt::print(stderr, "error: cannot fork: {}\n", std::strerror(errno));
    return kExitFailure;
  }
  if (pid == 0) {
    ::close(fds[0]);
    check_in_child(o, path, fds[1]);
  }
  ::close(fds[1]);
  const int timeout = plugin_timeout_seconds();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      fmt::print(stderr,
                 "{}: the check did not finish within {} s (the plugin hangs while loading or in a "
                 "self-test); killed\n",
                 o.plugin_file, timeout);
      return kExitFailure;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFSIGNALED(status)) {
    fmt::print(stderr, "{}: the plugin crashed the checker (signal {}, {})\n", o.plugin_file, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    return kExitFailure;
  }
  char buf[8] = {0};
  bool handshake = ::read(fds[0], buf, sizeof buf) == 4;
  ::close(fds[0]);
  if (!handshake) {
    fmt::print(stderr, "{}: exited with status {} while loading (before completing the load); it is refused\n",
               o.plugin_file, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return kExitFailure;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? kExitOk : kExitFailure;
}

}  // namespace sf::host
