#include "cli/app.h"

#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "cli/progress.h"
#include "exec/executor.h"
#include "graph/graph.h"
#include "plugins/plugin_host.h"
#include "validate/validate.h"

#ifndef SIGMAFLOW_VERSION
#define SIGMAFLOW_VERSION "0.0.0"
#endif

namespace sf::host {

namespace {

using json = nlohmann::ordered_json;

std::string versions_line() {
  return fmt::format("sigmaflow {}, plugin API {}.{}, LibTorch {} ({}), CUDA available: {}", SIGMAFLOW_VERSION,
                     SIGMAFLOW_PLUGIN_API_MAJOR, SIGMAFLOW_PLUGIN_API_MINOR, TORCH_VERSION,
                     host_build_record().torch_cuda ? "CUDA build" : "CPU build", torch::cuda::is_available() ? "yes" : "no");
}

void set_threads() {
  int n = static_cast<int>(std::thread::hardware_concurrency());
  if (const char* env = std::getenv("SIGMAFLOW_THREADS")) n = std::max(1, std::atoi(env));
  if (n > 0) at::set_num_threads(n);
}

// Parses --device; returns false with a message when it names no usable device.
bool parse_device(const std::string& text, c10::Device& device, std::string& error) {
  if (text == "auto") {
    device = torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
    return true;
  }
  if (text == "cpu") {
    device = c10::Device(c10::kCPU);
    return true;
  }
  if (text.rfind("cuda", 0) == 0) {
    int index = 0;
    if (text.size() > 4) {
      if (text[4] != ':' || text.size() == 5 || text.find_first_not_of("0123456789", 5) != std::string::npos) {
        error = "--device '" + text + "': expected auto, cpu, cuda or cuda:N";
        return false;
      }
      index = std::stoi(text.substr(5));
    }
    int count = static_cast<int>(torch::cuda::device_count());
    if (index >= count) {
      error = "--device '" + text + "': no such CUDA device (" + std::to_string(count) + " visible)";
      return false;
    }
    device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
    return true;
  }
  error = "--device '" + text + "': expected auto, cpu, cuda or cuda:N";
  return false;
}

void print_plugin_problems(const PluginHost& host) {
  for (const auto& p : host.problems()) fmt::print(stderr, "warning: plugin {}: {}\n", p.path, p.message);
}

void load_plugins(PluginHost& host, const std::vector<std::string>& cli_dirs, bool quiet) {
  ScanOptions opts;
  opts.dirs = default_plugin_dirs(cli_dirs);
  opts.cache_dir = default_cache_dir();
  host.scan(opts);
  if (!quiet) print_plugin_problems(host);
}

// Parses and validates; prints problems. Returns kExitOk or kExitValidation.
int parse_and_validate(const PluginHost& host, const std::string& path, bool as_json, Graph& graph, Plan& plan) {
  auto parsed = load_graph_file(path);
  ValidationReport report;
  if (!parsed.ok()) {
    report = report_for_unreadable_graph(parsed.status().message());
  } else {
    graph = std::move(parsed.value());
    auto v = validate_graph(graph, host.catalogue());
    report = std::move(v.report);
    plan = std::move(v.plan);
  }
  if (report.ok()) return kExitOk;
  if (as_json) {
    fmt::print("{}\n", report.to_json());
  } else {
    fmt::print(stderr, "{}: the graph failed validation ({} problem{}):\n{}", path, report.issues.size(),
               report.issues.size() == 1 ? "" : "s", report.to_text());
  }
  return kExitValidation;
}

int cmd_run(const std::string& graph_path, const std::string& out_dir, const std::string& device_text,
            const std::vector<std::string>& plugin_dirs, bool as_json) {
  c10::Device device(c10::kCPU);
  std::string err;
  if (!parse_device(device_text, device, err)) {
    fmt::print(stderr, "error: {}\n", err);
    return kExitUsage;
  }
  PluginHost host;
  load_plugins(host, plugin_dirs, false);
  Graph graph;
  Plan plan;
  int rc = parse_and_validate(host, graph_path, as_json, graph, plan);
  if (rc != kExitOk) return rc;

  RunOptions opts;
  opts.output_dir = out_dir;
  opts.cache_dir = default_cache_dir();
  opts.device = device;
  opts.versions = versions_line();
  std::FILE* progress_out = as_json ? stderr : stdout;
  ConsoleProgress progress(progress_out, isatty(fileno(progress_out)) != 0);
  auto t0 = std::chrono::steady_clock::now();
  RunResult result = execute_plan(host, graph, plan, opts, &progress);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  if (as_json) {
    json j;
    j["status"] = result.status.ok() ? "ok" : "error";
    if (!result.status.ok()) {
      j["error"] = {{"message", result.status.message()}, {"node_id", result.failed_node}, {"input_name", result.failed_input}};
    }
    j["output_dir"] = std::filesystem::absolute(out_dir).string();
    j["files"] = result.files;
    json nodes = json::array();
    for (const auto& n : result.nodes)
      nodes.push_back({{"id", n.id}, {"class_type", n.class_type}, {"seconds", n.seconds}, {"cached", n.cached}});
    j["nodes"] = nodes;
    j["seconds"] = seconds;
    fmt::print("{}\n", j.dump(2, ' ', false, json::error_handler_t::replace));
  }
  if (!result.status.ok()) {
    if (!as_json) fmt::print(stderr, "error: {}\n", result.status.message());
    return kExitRuntime;
  }
  if (!as_json) {
    fmt::print("done in {:.2f} s; outputs in {}\n", seconds, std::filesystem::absolute(out_dir).string());
    for (const auto& f : result.files) fmt::print("  {}\n", f);
  }
  return kExitOk;
}

int cmd_validate(const std::string& graph_path, const std::vector<std::string>& plugin_dirs, bool as_json) {
  PluginHost host;
  load_plugins(host, plugin_dirs, as_json);
  Graph graph;
  Plan plan;
  int rc = parse_and_validate(host, graph_path, as_json, graph, plan);
  if (rc != kExitOk) return rc;
  if (as_json) {
    fmt::print("{}\n", ValidationReport{}.to_json());
  } else {
    fmt::print("{}: valid; {} node(s) to run for {} output node(s)\n", graph_path, plan.order.size(), plan.outputs.size());
  }
  return kExitOk;
}

int cmd_nodes(const std::vector<std::string>& plugin_dirs, bool as_json) {
  PluginHost host;
  load_plugins(host, plugin_dirs, as_json);
  if (as_json) {
    fmt::print("{}\n", host.catalogue().object_info_json());
    return kExitOk;
  }
  std::string category;
  std::vector<const CatalogueEntry*> entries;
  for (const auto& [_, e] : host.catalogue().entries()) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) {
    return std::tie(a->contract.category, a->contract.class_type) < std::tie(b->contract.category, b->contract.class_type);
  });
  for (const auto* e : entries) {
    if (e->contract.category != category) {
      category = e->contract.category;
      fmt::print("{}\n", category.empty() ? "(no category)" : category);
    }
    std::string ins, outs;
    for (const auto& in : e->contract.inputs) ins += (ins.empty() ? "" : ", ") + in.name + (in.optional ? "?" : "");
    for (const auto& o : e->contract.outputs) outs += (outs.empty() ? "" : ", ") + o.type;
    fmt::print("  {}({}) -> ({}){}  [{}]\n", e->contract.class_type, ins, outs, e->contract.output_node ? " output" : "",
               e->plugin);
  }
  fmt::print("schedules: {}\n", fmt::join(host.catalogue().schedule_names(), ", "));
  fmt::print("samplers: {}\n", fmt::join(host.catalogue().sampler_names(), ", "));
  return kExitOk;
}

// Loads one plugin in a child process, prints its record and contracts, checks them and runs the
// nodes' self-tests. The child does the work so a crashing plugin cannot take the checker down.
int cmd_plugin_check(const std::string& file) {
  std::fflush(nullptr);
  pid_t pid = fork();
  if (pid < 0) {
    fmt::print(stderr, "error: cannot fork: {}\n", std::strerror(errno));
    return kExitFailure;
  }
  if (pid == 0) {
    reset_fatal_signal_handlers();
    PluginHost host;
    std::string path = std::filesystem::absolute(file).string();
    Status st = host.load(path, /*isolate=*/false);
    if (!st.ok()) {
      fmt::print(stderr, "{}: refused: {}\n", path, st.message());
      std::fflush(nullptr);
      _exit(kExitFailure);
    }
    const PluginInfo& info = host.plugins().front();
    const auto& r = info.record;
    fmt::print("plugin {} {} ({})\n", info.name, info.version, path);
    fmt::print("  build record: API {}.{}, LibTorch {} ({}), _GLIBCXX_USE_CXX11_ABI={}, {}\n", r.api_major, r.api_minor,
               r.torch_version, r.torch_cuda ? "CUDA" : "CPU", r.cxx11_abi, r.compiler);
    int problems = 0;
    for (const auto& p : host.problems()) {
      fmt::print("  problem: {}\n", p.message);
      ++problems;
    }
    for (const auto& ct : info.class_types) {
      const auto* e = host.catalogue().find(ct);
      const NodeDef* def = host.node(ct);
      fmt::print("  node {} [{}] inputs:", ct, e->contract.category);
      for (const auto& in : e->contract.inputs) fmt::print(" {}:{}{}", in.name, in.type, in.optional ? "?" : "");
      fmt::print(" outputs:");
      for (const auto& o : e->contract.outputs) fmt::print(" {}", o.type);
      fmt::print("\n");
      if (def->self_test) {
        std::string msg;
        try {
          msg = def->self_test();
        } catch (const std::exception& ex) {
          msg = std::string("self-test threw: ") + ex.what();
        }
        fmt::print("    self-test: {}\n", msg.empty() ? "passed" : "FAILED: " + msg);
        if (!msg.empty()) ++problems;
      }
    }
    for (const auto& s : host.catalogue().schedule_names()) fmt::print("  schedule {}\n", s);
    for (const auto& s : host.catalogue().sampler_names()) fmt::print("  sampler {}\n", s);
    fmt::print("{} problem(s)\n", problems);
    std::fflush(nullptr);
    _exit(problems ? kExitFailure : kExitOk);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFSIGNALED(status)) {
    fmt::print(stderr, "{}: the plugin crashed the checker (signal {}, {})\n", file, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    return kExitFailure;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : kExitFailure;
}

}  // namespace

int run_cli(int argc, char** argv) {
  CLI::App app{"sigmaflow: run node-based diffusion sampling graphs (ComfyUI API prompt format)", "sigmaflow"};
  app.require_subcommand(0, 1);
  bool show_version = false;
  app.add_flag("--version", show_version, "Print versions (sigmaflow, plugin API, LibTorch, CUDA) and plugin folders");

  std::string graph_path, out_dir = "output", device_text = "auto", plugin_file;
  std::vector<std::string> plugin_dirs;
  bool as_json = false;

  auto* run = app.add_subcommand("run", "Validate a graph file and run what its output nodes need");
  run->add_option("graph", graph_path, "Graph file (ComfyUI API prompt JSON)")->required();
  run->add_option("--out", out_dir, "Folder for output files")->capture_default_str();
  run->add_option("--device", device_text, "auto, cpu, cuda or cuda:N")->capture_default_str();
  run->add_option("--plugins", plugin_dirs, "Extra plugin folder (repeatable), searched first");
  run->add_flag("--json", as_json, "Machine-readable result on stdout (progress on stderr)");

  auto* val = app.add_subcommand("validate", "Check a graph file without running it");
  val->add_option("graph", graph_path, "Graph file")->required();
  val->add_option("--plugins", plugin_dirs, "Extra plugin folder (repeatable)");
  val->add_flag("--json", as_json, "Problems as ComfyUI node_errors JSON");

  auto* nodes = app.add_subcommand("nodes", "List the node catalogue");
  nodes->add_option("--plugins", plugin_dirs, "Extra plugin folder (repeatable)");
  nodes->add_flag("--json", as_json, "ComfyUI object_info-shaped JSON");

  auto* plugin = app.add_subcommand("plugin", "Plugin tools");
  plugin->require_subcommand(1);
  auto* check = plugin->add_subcommand("check", "Load a plugin in a child process and check its build record and contracts");
  check->add_option("file", plugin_file, "Plugin shared library (.so)")->required()->check(CLI::ExistingFile);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  set_threads();
  try {
    if (show_version) {
      fmt::print("{}\n", versions_line());
      fmt::print("intra-op threads: {}\n", at::get_num_threads());
      fmt::print("plugin folders:\n");
      for (const auto& d : default_plugin_dirs(plugin_dirs))
        fmt::print("  {}{}\n", d, std::filesystem::is_directory(d) ? "" : " (missing)");
      fmt::print("cache folder: {}\n", default_cache_dir());
      return kExitOk;
    }
    if (*run) return cmd_run(graph_path, out_dir, device_text, plugin_dirs, as_json);
    if (*val) return cmd_validate(graph_path, plugin_dirs, as_json);
    if (*nodes) return cmd_nodes(plugin_dirs, as_json);
    if (*check) return cmd_plugin_check(plugin_file);
  } catch (const std::exception& e) {
    fmt::print(stderr, "error: {}\n", e.what());
    return kExitRuntime;
  }
  fmt::print("{}", app.help());
  return kExitUsage;
}

}  // namespace sf::host
