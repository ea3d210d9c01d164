#include "server/server_core.h"

#include "server/core_state.h"

#include <arpa/inet.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

namespace sf::host {

namespace server_detail {

const NodeDef* LockedSource::node(const std::string& c) const {
  std::lock_guard<std::mutex> lock(m_);
  return inner_.node(c);
}
const ScheduleDef* LockedSource::schedule(const std::string& n) const {
  std::lock_guard<std::mutex> lock(m_);
  return inner_.schedule(n);
}
const SamplerDef* LockedSource::sampler(const std::string& n) const {
  std::lock_guard<std::mutex> lock(m_);
  return inner_.sampler(n);
}
std::string LockedSource::load_problem(const std::string& p) const {
  std::lock_guard<std::mutex> lock(m_);
  return inner_.load_problem(p);
}

double now_ms() {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

std::string uuid4() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  uint64_t a = rng(), b = rng();
  a = (a & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  b = (b & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  char s[40];
  std::snprintf(s, sizeof s, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(a >> 32),
                static_cast<unsigned>((a >> 16) & 0xffff), static_cast<unsigned>(a & 0xffff),
                static_cast<unsigned>(b >> 48), static_cast<unsigned long long>(b & 0xffffffffffffULL));
  return s;
}

std::string event(const std::string& type, json data) {
  return json{{"type", type}, {"data", std::move(data)}}.dump(-1, ' ', false, json::error_handler_t::replace);
}

json number_json(double n) {
  if (std::floor(n) == n && std::fabs(n) < 9e15) return static_cast<int64_t>(n);
  return n;
}

std::string queue_entry(const QueuedPrompt& p) {
  return "[" + number_json(p.number).dump() + "," + json(p.id).dump() + "," + p.prompt_text + "," + p.extra_text + "," +
         json(p.outputs).dump() + "]";
}

}  // namespace server_detail

using namespace server_detail;

ServerCore::ServerCore(const NodeSource& source, ServeOptions options, EventSink sink)
    : state_(std::make_unique<State>(source, options.worker_argv)), options_(std::move(options)) {
  state_->sink = std::move(sink);
}

ServerCore::~ServerCore() { stop(); }

std::string ServerCore::status_message(const std::string& sid) const {
  std::lock_guard<std::mutex> lock(state_->m);
  return event("status", {{"status", {{"exec_info", {{"queue_remaining", state_->remaining()}}}}}, {"sid", sid}});
}

void ServerCore::begin_stop() {
  std::vector<std::shared_ptr<QueuedPrompt>> dropped;
  {
    std::lock_guard<std::mutex> lock(state_->m);
    if (state_->stopping) return;
    state_->stopping = true;
    dropped.assign(state_->pending.begin(), state_->pending.end());
    state_->pending.clear();
    state_->pending_bytes = 0;
    if (state_->running) state_->worker.send(json{{"interrupt", state_->running->id}}.dump());
  }
  state_->cv.notify_all();
  for (const auto& p : dropped) {
    state_->send(p->client_id, event("execution_interrupted", {{"prompt_id", p->id},
                                                               {"node_id", nullptr},
                                                               {"node_type", nullptr},
                                                               {"executed", json::array()},
                                                               {"timestamp", now_ms()},
                                                               {"reason", "the server is shutting down"}}));
    state_->send(p->client_id,
                 event("executing", {{"node", nullptr}, {"display_node", nullptr}, {"prompt_id", p->id}}));
  }
  state_->broadcast_status();
}

bool ServerCore::executor_done() const {
  std::lock_guard<std::mutex> lock(state_->m);
  return state_->executor_done || !state_->executor.joinable();
}

void ServerCore::stop() {
  begin_stop();
  if (state_->executor.joinable()) state_->executor.join();
}

namespace {

// "host[:port]" or "[v6]:port" -> (lower-case host, port or "" when absent).
std::pair<std::string, std::string> split_host_port(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  if (!s.empty() && s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string::npos) return {s, ""};
    std::string rest = s.substr(close + 1);
    return {s.substr(0, close + 1), rest.size() > 1 && rest[0] == ':' ? rest.substr(1) : ""};
  }
  size_t colon = s.rfind(':');
  if (colon == std::string::npos) return {s, ""};
  return {s.substr(0, colon), s.substr(colon + 1)};
}

bool ip_literal(const std::string& host) {
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') return true;
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1;
}

}  // namespace

std::string check_origin(const std::string& host_header, const std::string& origin, const ServeOptions& options) {
  auto [host, port] = split_host_port(host_header);
  if (!host_header.empty() && !ip_literal(host) && host != "localhost" &&
      std::find(options.allowed_hosts.begin(), options.allowed_hosts.end(), host) == options.allowed_hosts.end())
    return "Host '" + host_header.substr(0, 100) +
           "' is not this server's address; start it with --allow-host NAME to serve that name";
  if (origin.empty() || (!options.cors_origin.empty() && origin == options.cors_origin)) return {};
  // ComfyUI's origin middleware: the Origin's host and port must be the Host's.
  size_t scheme_end = origin.find("://");
  if (scheme_end == std::string::npos)
    return "Origin '" + origin.substr(0, 100) + "' is not this server (requests from other sites are refused)";
  const std::string scheme = origin.substr(0, scheme_end);
  auto [o_host, o_port] = split_host_port(origin.substr(scheme_end + 3));
  if (o_port.empty()) o_port = scheme == "https" ? "443" : "80";
  if (port.empty()) port = "80";
  if (o_host != host || o_port != port)
    return "Origin '" + origin.substr(0, 100) + "' does not match Host '" + host_header.substr(0, 100) +
           "' (requests from other sites are refused; --enable-cors-header ORIGIN allows one)";
  return {};
}

}  // namespace sf::host
