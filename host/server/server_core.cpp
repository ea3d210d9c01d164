#include "server/server_core.h"

#include "server/core_state.h"

#include <chrono>
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

}  // namespace server_detail

using namespace server_detail;

ServerCore::ServerCore(const NodeSource& source, ServeOptions options, EventSink sink)
    : state_(std::make_unique<State>(source)), options_(std::move(options)) {
  state_->sink = std::move(sink);
}

ServerCore::~ServerCore() { stop(); }

std::string ServerCore::status_message(const std::string& sid) const {
  std::lock_guard<std::mutex> lock(state_->m);
  return event("status", {{"status", {{"exec_info", {{"queue_remaining", state_->remaining()}}}}}, {"sid", sid}});
}

void ServerCore::stop() {
  {
    std::lock_guard<std::mutex> lock(state_->m);
    if (state_->stopping && !state_->executor.joinable()) return;
    state_->stopping = true;
    state_->pending.clear();
  }
  state_->interrupt = true;
  state_->cv.notify_all();
  if (state_->executor.joinable()) state_->executor.join();
}

}  // namespace sf::host
