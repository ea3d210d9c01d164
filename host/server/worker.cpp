// The child side of the server's executor (worker_protocol.h): runs prompts in order through the
// host's executor, keeps node outputs cached between prompts, and turns run events into
// ComfyUI's websocket messages (execution_start, execution_cached, executing, progress, executed,
// execution_success / execution_error / execution_interrupted) written to the server.
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "exec/allocator.h"
#include "exec/crash_guard.h"
#include "server/core_state.h"
#include "server/worker_protocol.h"
#include "validate/validate.h"

namespace sf::host {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using server_detail::now_ms;

// Protocol lines to the server; whole lines only (one write per line, under a lock).
class ProtocolOut {
 public:
  void line(const json& j) {
    std::string text = j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    std::lock_guard<std::mutex> lock(m_);
    for (size_t done = 0; done < text.size();) {
      ssize_t n = ::write(kWorkerProtocolFd, text.data() + done, text.size() - done);
      if (n <= 0) return;  // the server has gone; stdin's end stops the loop
      done += static_cast<size_t>(n);
    }
  }

 private:
  std::mutex m_;
};

// ComfyUI's output listing: {"images": [{filename, subfolder, type}], "files": [...]}.
json output_of(const std::vector<std::string>& files, const std::string& out_dir) {
  json images = json::array(), others = json::array();
  std::error_code ec;
  fs::path root = fs::weakly_canonical(out_dir, ec);
  for (const auto& f : files) {
    fs::path p = fs::weakly_canonical(f, ec);
    fs::path rel = p.lexically_relative(root);
    json item = {{"filename", p.filename().string()},
                 {"subfolder", rel.has_parent_path() ? rel.parent_path().string() : ""},
                 {"type", "output"}};
    std::string ext = p.extension().string();
    (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".webp" ? images : others).push_back(item);
  }
  json out = json::object();
  if (!images.empty()) out["images"] = images;
  if (!others.empty()) out["files"] = others;
  return out;
}

// Forwards run events to the server and records what the history needs.
class PromptObserver : public RunObserver {
 public:
  PromptObserver(ProtocolOut& out, std::string prompt_id, std::string out_dir)
      : out_(out), id_(std::move(prompt_id)), out_dir_(std::move(out_dir)) {}

  void node_started(size_t, size_t, const PlannedNode& node) override {
    send("executing", {{"node", node.id}, {"display_node", node.id}, {"prompt_id", id_}});
  }
  void node_progress(const PlannedNode& node, int64_t done, int64_t total) override {
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_progress_ < std::chrono::milliseconds(50)) return;  // at most ~20/s per node
    last_progress_ = now;
    send("progress", {{"value", done}, {"max", total}, {"prompt_id", id_}, {"node", node.id}});
  }
  void node_finished(const PlannedNode& node, double, bool) override { executed.push_back(node.id); }
  void node_files(const PlannedNode& node, const std::vector<std::string>& files) override {
    json o = output_of(files, out_dir_);
    outputs[node.id] = o;
    send("executed", {{"node", node.id}, {"display_node", node.id}, {"output", o}, {"prompt_id", id_}});
  }
  void send(const std::string& type, json data) {
    if (type != "progress" && type != "executing" && type != "executed") messages.push_back(json::array({type, data}));
    out_.line({{"type", type}, {"data", std::move(data)}});
  }

  json outputs = json::object();
  json messages = json::array();
  std::vector<std::string> executed;

 private:
  ProtocolOut& out_;
  std::string id_;
  std::string out_dir_;
  std::chrono::steady_clock::time_point last_progress_{};
};

// The failure events: ComfyUI's execution_interrupted or execution_error.
void report_failure(PromptObserver& obs, const std::string& id, const Graph& graph, const std::string& failed_node,
                    const Status& status) {
  const GraphNode* node = graph.find(failed_node);
  json base = {{"prompt_id", id},
               {"node_id", failed_node},
               {"node_type", node ? node->class_type : ""},
               {"executed", obs.executed},
               {"timestamp", now_ms()}};
  if (status.code() == Code::kCancelled) {
    obs.send("execution_interrupted", base);
    return;
  }
  base["exception_message"] = status.message();
  base["exception_type"] = std::string("sigmaflow.") + code_name(status.code());
  base["traceback"] = json::array();
  base["current_inputs"] = json::object();
  base["current_outputs"] = json::object();
  obs.send("execution_error", base);
}

struct Inbox {
  std::mutex m;
  std::condition_variable cv;
  std::deque<json> runs;
  std::string running;  // the prompt id being run
  // An interrupt that arrived before its prompt's run line (the server sends both from two
  // threads): honoured when that prompt starts.
  std::string early_interrupt;
  bool closed = false;
};

}  // namespace

int run_serve_worker(const NodeSource& source, const RunOptions& base) {
  ProtocolOut out;
  Inbox inbox;
  std::atomic<bool> interrupt{false};
  // SIGINT / SIGTERM from the server: remove in-flight temporary files and exit.
  InterruptExit on_signal(nullptr);
  std::thread reader([&] {
    for (std::string line; std::getline(std::cin, line);) {
      json msg = json::parse(line, nullptr, false);
      if (msg.is_discarded() || !msg.is_object()) continue;
      std::lock_guard<std::mutex> lock(inbox.m);
      if (msg.contains("run")) {
        inbox.runs.push_back(std::move(msg["run"]));
        inbox.cv.notify_one();
      } else if (msg.contains("interrupt") && msg["interrupt"].is_string()) {
        const std::string id = msg["interrupt"].get<std::string>();
        if (!inbox.running.empty() && id == inbox.running)
          interrupt = true;
        else
          inbox.early_interrupt = id;
      }
    }
    std::lock_guard<std::mutex> lock(inbox.m);
    inbox.closed = true;
    interrupt = true;
    inbox.cv.notify_one();
  });
  OutputCache cache;
  for (;;) {
    json run;
    {
      std::unique_lock<std::mutex> lock(inbox.m);
      inbox.cv.wait(lock, [&] { return inbox.closed || !inbox.runs.empty(); });
      if (inbox.closed) break;
      run = std::move(inbox.runs.front());
      inbox.runs.pop_front();
      inbox.running = run.value("id", "");
      interrupt = !inbox.running.empty() && inbox.early_interrupt == inbox.running;
      inbox.early_interrupt.clear();
    }
    const std::string id = run.value("id", "");
    PromptObserver obs(out, id, base.output_dir);
    obs.send("execution_start", {{"prompt_id", id}, {"timestamp", now_ms()}});
    bool ok = false;
    auto graph = parse_graph(run.contains("prompt") ? run["prompt"].dump() : std::string("{}"));
    Validated v;
    if (graph.ok()) {
      v = validate_graph(*graph, source.catalogue());
      if (v.report.ok()) v.report.issues = check_literal_inputs(source, v.plan);
    }
    if (!graph.ok() || !v.report.ok()) {
      // The server validated this prompt already; this only guards against plugins changing.
      Status st = InvalidArgument(graph.ok() ? v.report.to_text() : graph.status().message());
      report_failure(obs, id, graph.ok() ? *graph : Graph{}, "", st);
    } else {
      obs.send("execution_cached",
               {{"nodes", cached_nodes(v.plan, cache)}, {"prompt_id", id}, {"timestamp", now_ms()}});
      RunOptions opts = base;
      opts.interrupt = &interrupt;
      RunResult r = execute_plan(source, *graph, v.plan, opts, &obs, &cache);
      keep_only(cache, v.plan);
      ok = r.status.ok();
      if (ok)
        obs.send("execution_success", {{"prompt_id", id}, {"timestamp", now_ms()}});
      else
        report_failure(obs, id, *graph, r.failed_node, r.status);
    }
    {
      std::lock_guard<std::mutex> lock(inbox.m);
      inbox.running.clear();
    }
    out.line({{"done", {{"ok", ok}, {"outputs", obs.outputs}, {"messages", obs.messages}}}});
    release_freed_memory();  // an idle worker holds only what its cache keeps
  }
  reader.join();
  return 0;
}

}  // namespace sf::host
