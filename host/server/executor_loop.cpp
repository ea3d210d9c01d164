// The server's executor thread: runs queued prompts in order through the host's executor, keeps
// node outputs cached between prompts, and turns run events into ComfyUI's websocket messages
// (execution_start, execution_cached, executing, progress, executed, execution_success /
// execution_error / execution_interrupted) and history entries.
#include <chrono>
#include <filesystem>

#include "exec/allocator.h"
#include "server/core_state.h"
#include "sigmaflow/files.h"

namespace sf::host {

using namespace server_detail;

namespace {

namespace fs = std::filesystem;

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

// Forwards run events to the prompt's client and records what the history needs.
class PromptObserver : public RunObserver {
 public:
  PromptObserver(const State& state, const QueuedPrompt& p, std::string out_dir)
      : state_(state), p_(p), out_dir_(std::move(out_dir)) {}

  void node_started(size_t, size_t, const PlannedNode& node) override {
    current_ = node.id;
    send("executing", {{"node", node.id}, {"display_node", node.id}, {"prompt_id", p_.id}});
  }
  void node_progress(const PlannedNode& node, int64_t done, int64_t total) override {
    auto now = std::chrono::steady_clock::now();
    if (done < total && now - last_progress_ < std::chrono::milliseconds(50)) return;  // at most ~20/s per node
    last_progress_ = now;
    send("progress", {{"value", done}, {"max", total}, {"prompt_id", p_.id}, {"node", node.id}});
  }
  void node_finished(const PlannedNode& node, double, bool) override { executed.push_back(node.id); }
  void node_files(const PlannedNode& node, const std::vector<std::string>& files) override {
    json out = output_of(files, out_dir_);
    outputs[node.id] = out;
    send("executed", {{"node", node.id}, {"display_node", node.id}, {"output", out}, {"prompt_id", p_.id}});
  }
  void send(const std::string& type, json data) {
    if (type != "progress" && type != "executing" && type != "executed") messages.push_back(json::array({type, data}));
    state_.send(p_.client_id, event(type, std::move(data)));
  }

  json outputs = json::object();
  json messages = json::array();
  std::vector<std::string> executed;
  std::string current_;

 private:
  const State& state_;
  const QueuedPrompt& p_;
  std::string out_dir_;
  std::chrono::steady_clock::time_point last_progress_{};
};

// The failure events: ComfyUI's execution_interrupted or execution_error.
void report_failure(PromptObserver& obs, const QueuedPrompt& p, const RunResult& r) {
  const auto* node = p.graph.nodes.count(r.failed_node) ? &p.graph.nodes.at(r.failed_node) : nullptr;
  json base = {{"prompt_id", p.id},
               {"node_id", r.failed_node},
               {"node_type", node ? node->class_type : ""},
               {"executed", obs.executed},
               {"timestamp", now_ms()}};
  if (r.status.code() == Code::kCancelled) {
    obs.send("execution_interrupted", base);
    return;
  }
  base["exception_message"] = r.status.message();
  base["exception_type"] = std::string("sigmaflow.") + code_name(r.status.code());
  base["traceback"] = json::array();
  base["current_inputs"] = json::object();
  base["current_outputs"] = json::object();
  obs.send("execution_error", base);
}

}  // namespace

void ServerCore::keepalive() const {
  bool running;
  {
    std::lock_guard<std::mutex> lock(state_->m);
    running = state_->running != nullptr;
  }
  if (running) state_->broadcast_status();
}

void ServerCore::start() {
  state_->executor = std::thread([this] { run_executor(); });
}

void ServerCore::run_executor() {
  for (;;) {
    std::shared_ptr<QueuedPrompt> p;
    {
      std::unique_lock<std::mutex> lock(state_->m);
      state_->cv.wait(lock, [&] { return state_->stopping || !state_->pending.empty(); });
      if (state_->stopping) return;
      p = state_->pending.front();
      state_->pending.pop_front();
      state_->running = p;
      state_->interrupt = false;
    }
    state_->broadcast_status();
    PromptObserver obs(*state_, *p, options_.out_dir);
    obs.send("execution_start", {{"prompt_id", p->id}, {"timestamp", now_ms()}});
    obs.send("execution_cached",
             {{"nodes", cached_nodes(p->plan, state_->cache)}, {"prompt_id", p->id}, {"timestamp", now_ms()}});
    RunOptions opts;
    opts.output_dir = options_.out_dir;
    opts.cache_dir = options_.cache_dir;
    opts.versions = options_.versions;
    opts.interrupt = &state_->interrupt;
    RunResult r = execute_plan(state_->source, p->graph, p->plan, opts, &obs, &state_->cache);
    keep_only(state_->cache, p->plan);
    if (r.status.ok())
      obs.send("execution_success", {{"prompt_id", p->id}, {"timestamp", now_ms()}});
    else
      report_failure(obs, *p, r);
    json meta = json::object();
    for (const auto& [id, _] : obs.outputs.items())
      meta[id] = {{"node_id", id}, {"display_node", id}, {"parent_node", nullptr}, {"real_node_id", id}};
    json entry = {{"prompt", state_->queue_entry(*p)},
                  {"outputs", obs.outputs},
                  {"status",
                   {{"status_str", r.status.ok() ? "success" : "error"},
                    {"completed", r.status.ok()},
                    {"messages", obs.messages}}},
                  {"meta", meta}};
    {
      std::lock_guard<std::mutex> lock(state_->m);
      state_->running.reset();
      state_->history[p->id] = std::move(entry);
      state_->history_order.push_back(p->id);
      while (state_->history_order.size() > options_.max_history) {
        state_->history.erase(state_->history_order.front());
        state_->history_order.erase(state_->history_order.begin());
      }
    }
    // As ComfyUI's prompt_worker: the history entry exists before `executing {node: null}`, which
    // clients take as "done, fetch /history now".
    state_->send(p->client_id,
                 event("executing", {{"node", nullptr}, {"display_node", nullptr}, {"prompt_id", p->id}}));
    state_->broadcast_status();
    release_freed_memory();  // an idle server holds only what its cache keeps
  }
}

}  // namespace sf::host
