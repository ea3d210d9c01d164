// Internal to the server: the shared state of ServerCore, used by its parts (requests, the
// executor thread). Guarded by State::m unless a member says otherwise.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "exec/executor.h"
#include "graph/graph.h"
#include "server/server_core.h"
#include "server/worker_protocol.h"
#include "validate/validate.h"

namespace sf::host::server_detail {

using json = nlohmann::ordered_json;

// The PluginHost loads plugins on first use; the network thread (validation) and the executor
// thread may both ask, so every call is serialised. Definitions stay valid once loaded.
class LockedSource : public NodeSource {
 public:
  explicit LockedSource(const NodeSource& inner) : inner_(inner) {}
  const Catalogue& catalogue() const override { return inner_.catalogue(); }
  const NodeDef* node(const std::string& c) const override;
  const ScheduleDef* schedule(const std::string& n) const override;
  const SamplerDef* sampler(const std::string& n) const override;
  std::string load_problem(const std::string& p) const override;

 private:
  const NodeSource& inner_;
  mutable std::mutex m_;
};

// Milliseconds since the epoch (ComfyUI's event timestamps).
double now_ms();
// A random (version 4) UUID, as ComfyUI's prompt ids.
std::string uuid4();
// {"type": type, "data": data} as text.
std::string event(const std::string& type, json data);

// A validated prompt waiting for (or in) the executor: ComfyUI's queue entry, kept as JSON text
// (about the size of the request; a parsed DOM would be several times larger). Immutable once
// queued, so readers serialise it without the lock.
struct QueuedPrompt {
  double number = 0;   // priority: the lowest runs first (ComfyUI's number; "front" negates it)
  uint64_t bytes = 0;  // request size, counted against ServeOptions::max_queue_bytes
  std::string id;
  std::string prompt_text;  // the graph, as JSON text
  std::string extra_text;   // extra_data (with client_id), as JSON text
  std::string client_id;
  std::vector<std::string> outputs;  // the output nodes to execute
};

// ComfyUI's queue entry as JSON text: [number, prompt_id, prompt, extra_data, outputs_to_execute].
std::string queue_entry(const QueuedPrompt& p);
// Numbers print as integers when they are (ComfyUI's counters are ints).
json number_json(double n);

struct State {
  State(const NodeSource& s, std::vector<std::string> worker_argv) : source(s), worker(std::move(worker_argv)) {}
  LockedSource source;
  EventSink sink;
  mutable std::mutex m;
  std::condition_variable cv;
  std::deque<std::shared_ptr<QueuedPrompt>> pending;  // sorted by number, stable
  uint64_t pending_bytes = 0;
  std::shared_ptr<QueuedPrompt> running;
  // Finished prompts in order, each entry as JSON text; the oldest are dropped past
  // ServeOptions::max_history or max_history_bytes. Entries are immutable once stored (readers
  // copy the pointers under the lock and write the answer without it).
  std::deque<std::string> history_order;
  std::map<std::string, std::shared_ptr<const std::string>> history;
  uint64_t history_bytes = 0;
  int64_t counter = 0;
  bool stopping = false;
  bool executor_done = false;
  WorkerProcess worker;  // the executor process (thread-safe on its own)
  std::thread executor;

  bool known_id(const std::string& id) const {
    if (history.count(id) || (running && running->id == id)) return true;
    for (const auto& p : pending)
      if (p->id == id) return true;
    return false;
  }
  void erase_history(const std::string& id) {
    auto it = history.find(id);
    if (it == history.end()) return;
    history_bytes -= it->second->size();
    history.erase(it);
    history_order.erase(std::find(history_order.begin(), history_order.end(), id));
  }
  void clear_history() {
    history.clear();
    history_order.clear();
    history_bytes = 0;
  }
  size_t remaining() const { return pending.size() + (running ? 1 : 0); }
  void send(const std::string& client, const std::string& msg) const {
    if (sink) sink(client, msg);
  }
  void broadcast_status() const {
    size_t n;
    {
      std::lock_guard<std::mutex> lock(m);
      n = remaining();
    }
    send("", event("status", {{"status", {{"exec_info", {{"queue_remaining", n}}}}}}));
  }
};

}  // namespace sf::host::server_detail
