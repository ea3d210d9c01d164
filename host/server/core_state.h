// Internal to the server: the shared state of ServerCore, used by its parts (requests, the
// executor thread). Guarded by State::m unless a member says otherwise.
#pragma once

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

// A validated prompt waiting for (or in) the executor: ComfyUI's queue entry and our plan.
struct QueuedPrompt {
  int64_t number = 0;
  std::string id;
  json prompt;
  json extra_data;
  std::string client_id;
  Graph graph;
  Plan plan;
};

struct State {
  explicit State(const NodeSource& s) : source(s) {}
  LockedSource source;
  EventSink sink;
  mutable std::mutex m;
  std::condition_variable cv;
  std::deque<std::shared_ptr<QueuedPrompt>> pending;
  std::shared_ptr<QueuedPrompt> running;
  // Finished prompts in order; the oldest are dropped past ServeOptions::max_history.
  std::vector<std::string> history_order;
  std::map<std::string, json> history;
  int64_t counter = 0;
  bool stopping = false;
  std::atomic<bool> interrupt{false};
  OutputCache cache;  // executor thread only
  std::thread executor;

  json queue_entry(const QueuedPrompt& p) const {
    json outputs = json::array();
    for (const auto& o : p.plan.outputs) outputs.push_back(o);
    return json::array({p.number, p.id, p.prompt, p.extra_data, outputs});
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
