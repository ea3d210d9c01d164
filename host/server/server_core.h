// The state behind `sigmaflow serve` (ComfyUI's server API), free of networking: HTTP requests
// in, responses out; websocket events out through an EventSink; one executor thread that runs
// queued prompts in order and keeps node outputs cached between prompts, as ComfyUI does.
//
// Threading: handle() may be called from any thread (the network thread); the executor thread
// is the only one that runs nodes. Shared state is guarded by one mutex; the node source is
// wrapped so plugin loading is serialised. The EventSink is called from both threads and must be
// thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "exec/node_source.h"

namespace sf::host {

namespace server_detail {
struct State;
}

struct ServeOptions {
  std::string listen = "127.0.0.1";
  int port = 8188;
  std::string out_dir = "output";
  std::string cache_dir;
  std::string versions;
  size_t max_queue = 1000;     // pending prompts; more are refused with 503
  size_t max_history = 10000;  // finished prompts kept; the oldest are dropped
  std::string cors_origin;     // empty: no CORS headers (as ComfyUI)
  uint64_t max_body_bytes = uint64_t{64} << 20;
  int idle_timeout_s = 60;                // HTTP keep-alive and header reads (slowloris)
  size_t max_ws_message_bytes = 1 << 16;  // incoming websocket messages
  size_t max_connections = 256;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as received
  std::string body;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string file;  // when set, the body is this file's content (GET /view)
};

// (client_id, JSON text): client_id empty means every connected client.
using EventSink = std::function<void(const std::string& client_id, const std::string& message)>;

class ServerCore {
 public:
  ServerCore(const NodeSource& source, ServeOptions options, EventSink sink);
  ~ServerCore();
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  HttpResponse handle(const HttpRequest& request);
  // The "status" message a client gets when its websocket opens (sid = its client id).
  std::string status_message(const std::string& sid) const;

  void start();  // the executor thread
  // Interrupts the running prompt, drops the pending ones, joins the executor thread.
  void stop();
  const ServeOptions& options() const { return options_; }
  // While a prompt runs, a "status" message to every client (the net layer calls it every few
  // seconds): clients with an inactivity timeout (@saintno/comfyui-sdk reconnects after 10 s
  // without a message) stay connected through long nodes that report no progress.
  void keepalive() const;

 private:
  HttpResponse submit(const std::string& body);
  HttpResponse queue_request(const std::string& method, const std::string& body);
  HttpResponse history_request(const std::string& method, const std::string& rest, const std::string& query,
                               const std::string& body);
  HttpResponse view(const std::string& query) const;
  HttpResponse system_stats() const;
  void run_executor();

  std::unique_ptr<server_detail::State> state_;
  ServeOptions options_;
};

}  // namespace sf::host
