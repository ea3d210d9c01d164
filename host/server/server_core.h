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
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <c10/core/Device.h>

#include "exec/node_source.h"

namespace sf::host {

namespace server_detail {
struct State;
}

struct ServeOptions {
  std::string listen = "127.0.0.1";
  int port = 8188;
  std::string out_dir = "output";
  // File inputs of served graphs (LoadSigmas, LoadLatent, TorchScriptModel, ...) resolve only
  // inside these folders, as ComfyUI's loaders read only its input and models folders.
  std::string input_dir = "input";
  std::string models_dir = "models";
  std::string temp_dir = "temp";  // /view and /upload type=temp
  // Host header names accepted besides IP literals and localhost (DNS rebinding defence).
  std::vector<std::string> allowed_hosts;
  c10::Device device = c10::Device(c10::kCPU);  // default device of served graphs (--device)
  // The command that starts the executor process (`sigmaflow serve-worker ...`, which reads
  // these same options from its command line). Empty: this executable with the options above.
  std::vector<std::string> worker_argv;
  std::string cache_dir;
  std::string versions;
  size_t max_queue = 1000;     // pending prompts; more are refused with 503
  size_t max_history = 10000;  // finished prompts kept; the oldest are dropped
  // Memory budgets: the pending prompts' request bytes (503 past it), one prompt's extra_data
  // (413), and the history's stored bytes (the oldest entries are dropped past it).
  uint64_t max_queue_bytes = uint64_t{512} << 20;
  uint64_t max_extra_data_bytes = uint64_t{1} << 20;
  uint64_t max_history_bytes = uint64_t{256} << 20;
  std::string cors_origin;  // empty: no CORS headers (as ComfyUI)
  uint64_t max_body_bytes = uint64_t{64} << 20;
  int idle_timeout_s = 60;                // HTTP keep-alive and header reads (slowloris)
  size_t max_ws_message_bytes = 1 << 16;  // incoming websocket messages
  size_t max_connections = 256;
  // Websockets counted on their own too, so idle pinging sockets cannot take every slot.
  size_t max_websockets = 128;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as received
  std::string body;
  std::string content_type;  // the Content-Type header (multipart uploads)
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string file;                                          // when set, the body is this file's content (GET /view)
  std::vector<std::pair<std::string, std::string>> headers;  // extra response headers
};

using Query = std::map<std::string, std::string>;

// Percent-decoding of URL parts ('+' is a space in query strings).
std::string url_decode(const std::string& s, bool plus_is_space);

// ComfyUI's origin rule plus a Host allow-list: empty when the request may proceed, else why it
// is refused (403). `host` and `origin` are the raw header values ("" when absent). A Host must
// be an IP literal, localhost, or listed in ServeOptions::allowed_hosts (a DNS-rebinding page
// sends its own name); an Origin, when present, must name the same host and port as Host, or be
// the --enable-cors-header origin.
std::string check_origin(const std::string& host, const std::string& origin, const ServeOptions& options);

// (client_id, JSON text): client_id empty means every connected client.
using EventSink = std::function<void(const std::string& client_id, const std::string& message)>;

class ServerCore {
 public:
  ServerCore(const NodeSource& source, ServeOptions options, EventSink sink);
  ~ServerCore();
  ServerCore(const ServerCore&) = delete;
  ServerCore& operator=(const ServerCore&) = delete;

  // Never throws: a handler's exception is logged and answered with 500.
  HttpResponse handle(const HttpRequest& request);
  // The "status" message a client gets when its websocket opens (sid = its client id).
  std::string status_message(const std::string& sid) const;

  void start();  // the executor thread
  // Refuses new prompts, interrupts the running one, and drops the pending ones, telling each
  // prompt's client (execution_interrupted) and every client the final status. Returns at once.
  void begin_stop();
  // True once the executor thread has finished its last prompt (after begin_stop).
  bool executor_done() const;
  // begin_stop, then joins the executor thread.
  void stop();
  // Ends the executor process (SIGTERM; `force`: SIGKILL) for a node that does not stop when
  // interrupted. Its prompt ends as interrupted (while stopping) or with an error. Returns at once.
  void kill_executor_process(bool force);
  const ServeOptions& options() const { return options_; }
  std::string check_origin_of(const std::string& host, const std::string& origin) const {
    return check_origin(host, origin, options_);
  }
  // While a prompt runs, a "status" message to every client (the net layer calls it every few
  // seconds): clients with an inactivity timeout (@saintno/comfyui-sdk reconnects after 10 s
  // without a message) stay connected through long nodes that report no progress.
  void keepalive() const;

 private:
  HttpResponse route(const HttpRequest& request);
  HttpResponse submit(const std::string& body);
  HttpResponse interrupt(const std::string& body);
  HttpResponse queue_request(const std::string& method, const std::string& body);
  HttpResponse history_request(const std::string& method, const std::string& rest, const Query& query,
                               const std::string& body);
  const std::string* folder_of(const std::string& type) const;
  HttpResponse view(const Query& query) const;
  HttpResponse upload(const HttpRequest& request, bool mask);
  HttpResponse system_stats() const;
  void run_executor();

  std::unique_ptr<server_detail::State> state_;
  ServeOptions options_;
};

}  // namespace sf::host
