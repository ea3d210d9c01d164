#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <unistd.h>

#include <ATen/Parallel.h>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "cli/app.h"
#include "cli/commands.h"
#include "cli/front_commands.h"
#include "cli/progress.h"
#include "distributed/process_group.h"
#include "exec/crash_guard.h"
#include "exec/executor.h"
#include "graph/graph.h"
#include "plugins/build_gate.h"
#include "server/net.h"
#include "server/worker_protocol.h"
#include "validate/validate.h"

#ifndef SIGMAFLOW_VERSION
#define SIGMAFLOW_VERSION "0.0.0"
#endif

namespace sf::host {

namespace {

// --out before any node runs: not empty (an unset shell variable would write into the working
// directory's root), not a file, and writable (the folder, or the nearest folder above it that
// exists, since the output folder is created at the first write).
Status check_out_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  if (dir.empty()) return InvalidArgument("--out is empty (an unset shell variable?); name a folder");
  std::error_code ec;
  fs::path p = fs::absolute(dir, ec);
  if (fs::exists(p, ec) && !fs::is_directory(p, ec))
    return InvalidArgument("--out '" + dir.substr(0, 200) + "' is a file, not a folder");
  while (!p.empty() && !fs::exists(p, ec) && p != p.parent_path()) p = p.parent_path();
  if (!fs::is_directory(p, ec))
    return InvalidArgument("--out '" + dir.substr(0, 200) + "': '" + p.string() + "' is a file, not a folder");
  if (::access(p.c_str(), W_OK | X_OK) != 0)
    return InvalidArgument("--out '" + dir.substr(0, 200) + "': cannot write in '" + p.string() + "'");
  return Status::Ok();
}

using json = nlohmann::ordered_json;

// Parses --device; returns false with a message when it names no usable device. `auto` and
// `cuda` mean the GPU of this process's local rank (torchrun's LOCAL_RANK, modulo the visible
// GPUs; 0 alone), as torch.cuda.set_device(local_rank) does; `cuda:N` pins N.
bool parse_device(const std::string& text, int local_rank, c10::Device& device, std::string& error) {
  auto rank_gpu = [&] {
    const int count = std::max(1, static_cast<int>(torch::cuda::device_count()));
    return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(local_rank % count));
  };
  if (text == "auto") {
    device = torch::cuda::is_available() ? rank_gpu() : c10::Device(c10::kCPU);
    return true;
  }
  if (text == "cpu") {
    device = c10::Device(c10::kCPU);
    return true;
  }
  if (text.rfind("cuda", 0) == 0) {
    int index = -1;
    if (text.size() > 4) {
      if (text[4] != ':' || text.size() == 5 || text.size() > 8 ||
          text.find_first_not_of("0123456789", 5) != std::string::npos) {
        error = "--device '" + text.substr(0, 40) + "': expected auto, cpu, cuda or cuda:N";
        return false;
      }
      index = std::stoi(text.substr(5));
    }
    int count = static_cast<int>(torch::cuda::device_count());
    if (index < 0 && count > 0) {
      device = rank_gpu();
      return true;
    }
    if (index < 0) index = 0;
    if (index >= count) {
      error = "--device '" + text + "': no such CUDA device (" + std::to_string(count) + " visible)";
      return false;
    }
    device = c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
    return true;
  }
  error = "--device '" + text.substr(0, 40) + "': expected auto, cpu, cuda or cuda:N";
  return false;
}

void print_result_json(const RunResult& result, const CliOptions& o, double seconds) {
  json j;
  j["status"] = result.status.ok() ? "ok" : result.status.code() == Code::kCancelled ? "interrupted" : "error";
  if (!result.status.ok())
    j["error"] = {
        {"message", result.status.message()}, {"node_id", result.failed_node}, {"input_name", result.failed_input}};
  j["output_dir"] = std::filesystem::absolute(o.out_dir).string();
  j["files"] = result.files;
  json nodes = json::array();
  for (const auto& n : result.nodes)
    nodes.push_back({{"id", n.id}, {"class_type", n.class_type}, {"seconds", n.seconds}, {"cached", n.cached}});
  j["nodes"] = nodes;
  j["seconds"] = seconds;
  fmt::print("{}\n", j.dump(2, ' ', false, json::error_handler_t::replace));
}

}  // namespace

LiteralChecks literal_checks(const PluginHost& host) {
  return [&host](const Plan& plan) { return check_literal_inputs(host, plan); };
}

std::string versions_line() {
  return fmt::format("sigmaflow {}, plugin API {}.{}, LibTorch {} ({}), CUDA available: {}", SIGMAFLOW_VERSION,
                     SIGMAFLOW_PLUGIN_API_MAJOR, SIGMAFLOW_PLUGIN_API_MINOR, TORCH_VERSION,
                     host_build_record().torch_cuda ? "CUDA build" : "CPU build",
                     torch::cuda::is_available() ? "yes" : "no");
}

int cmd_run(const CliOptions& o) {
  if (Status out = check_out_dir(o.out_dir); !out.ok()) {
    fmt::print(stderr, "error: {}\n", out.message());
    return kExitUsage;
  }
  auto launch = launch_from_environment();
  if (!launch.ok()) {
    fmt::print(stderr, "error: {}\n", launch.status().message());
    return kExitUsage;
  }
  c10::Device device(c10::kCPU);
  std::string err;
  if (!parse_device(o.device, launch->has_value() ? (*launch)->local_rank : 0, device, err)) {
    fmt::print(stderr, "error: {}\n", err);
    return kExitUsage;
  }
  PluginHost host;
  scan_plugins(host, o, false);
  Graph graph;
  Plan plan;
  ValidationReport report;
  if (check_graph_file(host, o, literal_checks(host), graph, plan, report) != kExitOk) {
    print_validation_problems(report, o);
    return kExitValidation;
  }
  if (o.overwrite) {
    // Fixed names: two nodes with one prefix would replace each other's files.
    std::map<std::string, const PlannedNode*> by_prefix;
    for (const auto& n : plan.order) {
      auto p = n.literals.find("filename_prefix");
      if (p == n.literals.end() || !p->second.is_string()) continue;
      auto [it, fresh] = by_prefix.emplace(p->second.as_string(), &n);
      if (fresh) continue;
      fmt::print(stderr,
                 "error: nodes {} ({}) and {} ({}) both write filename_prefix {}; with --overwrite one would replace "
                 "the other's files: give them different prefixes\n",
                 it->second->id, it->second->entry->contract.class_type, n.id, n.entry->contract.class_type,
                 shorten_json(p->second.to_json()));
      return kExitValidation;
    }
  }
  RunOptions opts;
  opts.output_dir = o.out_dir;
  opts.cache_dir = default_cache_dir();
  opts.device = device;
  opts.versions = versions_line();
  opts.overwrite = o.overwrite;
  opts.graph_dir = std::filesystem::path(o.graph_path).parent_path().string();
  if (opts.graph_dir.empty()) opts.graph_dir = ".";
  // Under torchrun: join the process group after validation (a bad graph fails on every rank
  // the same way, before any collective). Ranks other than 0 write into a scratch folder that
  // is removed, and print nothing unless SIGMAFLOW_LOG_RANKS=1 (then with a rank prefix).
  std::unique_ptr<ProcessGroup> group;
  std::string scratch;
  if (launch->has_value() && (*launch)->world_size > 1) {
    auto joined = ProcessGroup::join(**launch);
    if (!joined.ok()) {
      fmt::print(stderr, "error: {}\n", joined.status().message());
      return kExitRuntime;
    }
    group = std::move(*joined);
    opts.collectives = group.get();
    if (group->rank() != 0) {
      scratch = (std::filesystem::temp_directory_path() /
                 ("sigmaflow-rank" + std::to_string(group->rank()) + "-" + std::to_string(getpid())))
                    .string();
      opts.output_dir = scratch;
    }
  }
  const bool quiet_rank = group && group->rank() != 0 && !std::getenv("SIGMAFLOW_LOG_RANKS");
  std::FILE* progress_out = quiet_rank ? std::fopen("/dev/null", "w") : o.as_json ? stderr : stdout;
  ConsoleProgress progress(progress_out, !group && isatty(fileno(progress_out)) != 0, o.as_json);
  if (group && group->rank() != 0) progress.line_prefix = "[rank " + std::to_string(group->rank()) + "] ";
  std::atomic<bool> interrupted{false};
  opts.interrupt = &interrupted;
  InterruptExit on_interrupt(&interrupted);
  auto t0 = std::chrono::steady_clock::now();
  RunResult result = execute_plan(host, graph, plan, opts, &progress);
  if (group && result.status.ok()) result.status = group->finish();
  if (group && !result.status.ok()) group->record_failure(result.status.message());
  if (quiet_rank) std::fclose(progress_out);
  if (!scratch.empty()) std::filesystem::remove_all(scratch);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (o.as_json && !quiet_rank) print_result_json(result, o, seconds);
  if (!result.status.ok()) {
    if (!o.as_json)
      fmt::print(stderr, "{}error: {}\n", group ? "[rank " + std::to_string(group->rank()) + "] " : "",
                 printable(result.status.message(), 8000, true));
    return result.status.code() == Code::kCancelled ? kExitInterrupted : kExitRuntime;
  }
  if (group && group->rank() != 0) return kExitOk;
  if (!o.as_json) {
    fmt::print("done in {:.2f} s; outputs in {}\n", seconds, std::filesystem::absolute(o.out_dir).string());
    for (const auto& f : result.files) fmt::print("  {}\n", f);
  }
  return kExitOk;
}

int cmd_version(const CliOptions& o) {
  fmt::print("{}\n", versions_line());
  fmt::print("intra-op threads: {}\n", at::get_num_threads());
  fmt::print("plugin folders:\n");
  for (const auto& d : default_plugin_dirs(o.plugin_dirs))
    fmt::print("  {}{}\n", d, std::filesystem::is_directory(d) ? "" : " (missing)");
  fmt::print("cache folder: {}\n", default_cache_dir());
  return kExitOk;
}

int cmd_serve(const CliOptions& o) {
  if (Status out = check_out_dir(o.out_dir); !out.ok()) {
    fmt::print(stderr, "error: {}\n", out.message());
    return kExitUsage;
  }
  PluginHost host;
  scan_plugins(host, o, false);
  ServeOptions so;
  so.listen = o.listen;
  so.port = o.port;
  so.out_dir = o.out_dir;
  so.cache_dir = default_cache_dir();
  so.versions = versions_line();
  so.max_queue = o.max_queue;
  so.cors_origin = o.cors_origin;
  so.max_body_bytes = o.max_body_mb << 20;
  so.idle_timeout_s = o.idle_timeout_s;
  so.max_connections = o.max_connections;
  so.max_queue_bytes = o.max_queue_mb << 20;
  so.allowed_hosts = o.allowed_hosts;
  for (auto& h : so.allowed_hosts)
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return std::tolower(c); });
  // ComfyUI's layout: input/, models/ and temp/ beside the output folder unless named.
  const std::filesystem::path beside = std::filesystem::absolute(o.out_dir).parent_path();
  so.input_dir = o.input_dir.empty() ? (beside / "input").string() : o.input_dir;
  so.models_dir = o.models_dir.empty() ? (beside / "models").string() : o.models_dir;
  so.temp_dir = (beside / "temp").string();
  for (const auto& dir : {so.input_dir, so.temp_dir}) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) {
      fmt::print(stderr, "error: cannot create folder '{}': {}\n", dir, ec.message());
      return kExitUsage;
    }
  }
  std::string err;
  if (!parse_device(o.device, 0, so.device, err)) {
    fmt::print(stderr, "error: {}\n", err);
    return kExitUsage;
  }
  // The executor process: this executable, told the same folders, device and plugins.
  std::error_code ec;
  const std::string self = std::filesystem::read_symlink("/proc/self/exe", ec).string();
  if (ec) {
    fmt::print(stderr, "error: cannot find this executable (/proc/self/exe): {}\n", ec.message());
    return kExitFailure;
  }
  so.worker_argv = {self,         "serve-worker", "--out",       so.out_dir, "--input-dir",
                    so.input_dir, "--models-dir", so.models_dir, "--device", o.device};
  for (const auto& d : o.plugin_dirs) so.worker_argv.insert(so.worker_argv.end(), {"--plugins", d});
  return run_server(host, so);
}

int cmd_serve_worker(const CliOptions& o) {
  // Ends with the server: its stdin closes when the server exits, and a killed server kills it.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  PluginHost host;
  scan_plugins(host, o, true);
  RunOptions opts;
  opts.output_dir = o.out_dir;
  opts.cache_dir = default_cache_dir();
  opts.versions = versions_line();
  opts.input_roots = {o.input_dir, o.models_dir};
  std::string err;
  if (!parse_device(o.device, 0, opts.device, err)) {
    fmt::print(stderr, "error: {}\n", err);
    return kExitUsage;
  }
  return run_serve_worker(host, opts);
}

}  // namespace sf::host
