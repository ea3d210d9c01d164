// The server's executor thread: hands queued prompts one at a time to the executor process
// (worker_protocol.h), forwards its websocket events to the prompt's client, and stores the
// history entry. When the process dies mid-prompt (a node crashed, or it was killed), the prompt
// ends with execution_error naming the node that was running, and the next prompt gets a new
// process: the server carries on, without the cached outputs.
#include <signal.h>

#include <chrono>

#include "exec/allocator.h"
#include "server/core_state.h"
#include "server/worker_protocol.h"

namespace sf::host {

using namespace server_detail;

namespace {

// What one prompt produced, for its history entry.
struct PromptEnd {
  bool ok = false;
  json outputs = json::object();
  json messages = json::array();
};

// The events a prompt gets when its executor process ends without finishing it.
PromptEnd lost_worker(const State& state, const QueuedPrompt& p, const std::string& node, const std::string& how,
                      bool stopping, json messages) {
  // The node's class_type, from the prompt (this path is rare: parsing it again is fine).
  json graph = json::parse(p.prompt_text, nullptr, false);
  std::string node_type;
  if (graph.is_object() && graph.contains(node) && graph[node].is_object() && graph[node].contains("class_type") &&
      graph[node]["class_type"].is_string())
    node_type = graph[node]["class_type"].get<std::string>();
  json base = {{"prompt_id", p.id},
               {"node_id", node},
               {"node_type", node_type},
               {"executed", json::array()},
               {"timestamp", now_ms()}};
  std::string type = "execution_interrupted";
  if (!stopping) {
    type = "execution_error";
    base["exception_message"] = (node.empty() ? std::string("the executor process")
                                              : "node " + node + " (" + base["node_type"].get<std::string>() + ")") +
                                " ended the executor process: " + how +
                                ". The server goes on with a new executor process; cached node outputs were lost.";
    base["exception_type"] = "sigmaflow.crash";
    base["traceback"] = json::array();
    base["current_inputs"] = json::object();
    base["current_outputs"] = json::object();
  }
  messages.push_back(json::array({type, base}));
  state.send(p.client_id, event(type, base));
  PromptEnd end;
  end.messages = std::move(messages);
  return end;
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
  std::string error;
  if (!state_->worker.ensure_started(error)) std::fprintf(stderr, "serve: %s\n", error.c_str());
  state_->executor = std::thread([this] { run_executor(); });
}

void ServerCore::kill_executor_process(bool force) { state_->worker.signal(force ? SIGKILL : SIGTERM); }

void ServerCore::run_executor() {
  for (;;) {
    std::shared_ptr<QueuedPrompt> p;
    {
      std::unique_lock<std::mutex> lock(state_->m);
      state_->cv.wait(lock, [&] { return state_->stopping || !state_->pending.empty(); });
      if (state_->stopping) {
        state_->executor_done = true;
        return;
      }
      p = state_->pending.front();
      state_->pending.pop_front();
      state_->pending_bytes -= p->bytes;
      state_->running = p;
    }
    state_->broadcast_status();
    PromptEnd end;
    std::string error, node, line, closing;
    json messages = json::array();
    // A worker that died while idle (killed from outside, out of memory) is replaced before the
    // prompt is handed over, so the prompt does not pay for it.
    bool sent = false;
    for (int attempt = 0; attempt < 2 && !sent; ++attempt) {
      if (!state_->worker.ensure_started(error)) break;
      sent = state_->worker.send("{\"run\":{\"id\":" + json(p->id).dump() + ",\"prompt\":" + p->prompt_text + "}}");
      if (!sent)
        std::fprintf(stderr, "serve: the idle executor process %s; starting a new one\n",
                     state_->worker.reap().c_str());
    }
    bool finished = false;
    while (sent && state_->worker.read_line(line)) {
      json msg = json::parse(line, nullptr, false);
      if (msg.is_discarded() || !msg.is_object()) continue;
      if (msg.contains("done")) {
        const json& d = msg["done"];
        end.ok = d.value("ok", false);
        if (d.contains("outputs")) end.outputs = d["outputs"];
        if (d.contains("messages")) end.messages = d["messages"];
        finished = true;
        break;
      }
      const std::string type = msg.value("type", "");
      if (type.empty() || !msg.contains("data")) continue;
      if (type == "executing" && msg["data"].contains("node") && msg["data"]["node"].is_string())
        node = msg["data"]["node"].get<std::string>();
      if (type != "progress" && type != "executing" && type != "executed")
        messages.push_back(json::array({type, msg["data"]}));
      // The prompt's last event waits until its history entry is stored: clients fetch /history
      // when it arrives (the executor process sends it before the server stores the entry).
      if (type == "execution_success" || type == "execution_error" || type == "execution_interrupted")
        closing = event(type, msg["data"]);
      else
        state_->send(p->client_id, event(type, msg["data"]));
    }
    if (!finished) {
      std::string how = sent ? state_->worker.reap() : (error.empty() ? state_->worker.reap() : error);
      bool stopping;
      {
        std::lock_guard<std::mutex> lock(state_->m);
        stopping = state_->stopping;
      }
      std::fprintf(stderr, "serve: prompt %s: the executor process %s\n", p->id.c_str(), how.c_str());
      end = lost_worker(*state_, *p, node, how, stopping, std::move(messages));
    }
    json meta = json::object();
    for (const auto& [id, _] : end.outputs.items())
      meta[id] = {{"node_id", id}, {"display_node", id}, {"parent_node", nullptr}, {"real_node_id", id}};
    const json rest = {
        {"outputs", end.outputs},
        {"status", {{"status_str", end.ok ? "success" : "error"}, {"completed", end.ok}, {"messages", end.messages}}},
        {"meta", meta}};
    // The entry as text: {"prompt": <queue entry>, "outputs": ..., "status": ..., "meta": ...}.
    auto entry = std::make_shared<const std::string>(
        "{\"prompt\":" + queue_entry(*p) + "," + rest.dump(-1, ' ', false, json::error_handler_t::replace).substr(1));
    {
      std::lock_guard<std::mutex> lock(state_->m);
      state_->running.reset();
      state_->erase_history(p->id);
      state_->history[p->id] = entry;
      state_->history_bytes += entry->size();
      state_->history_order.push_back(p->id);
      while (state_->history_order.size() > 1 && (state_->history_order.size() > options_.max_history ||
                                                  state_->history_bytes > options_.max_history_bytes))
        state_->erase_history(state_->history_order.front());
    }
    // As ComfyUI's prompt_worker: the history entry exists before `executing {node: null}`, which
    // clients take as "done, fetch /history now" (and here before the closing event too).
    if (!closing.empty()) state_->send(p->client_id, closing);
    state_->send(p->client_id,
                 event("executing", {{"node", nullptr}, {"display_node", nullptr}, {"prompt_id", p->id}}));
    state_->broadcast_status();
    release_freed_memory();
  }
}

}  // namespace sf::host
