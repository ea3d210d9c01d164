#include "cli/progress.h"

#include <fmt/format.h>

#include <algorithm>

#include <nlohmann/json.hpp>

namespace sf::host {

using json = nlohmann::json;

std::string ConsoleProgress::prefix(const PlannedNode& node) const {
  return fmt::format("[{}/{}] {} {}", index_, total_, node.id, node.entry->contract.class_type);
}

void ConsoleProgress::event(const std::string& text) {
  fmt::print(out_, "{}\n", text);
  std::fflush(out_);
}

void ConsoleProgress::node_started(size_t index, size_t total, const PlannedNode& node) {
  index_ = index;
  total_ = total;
  node_start_ = std::chrono::steady_clock::now();
  last_tenth_ = 0;
  if (json_) {
    event(json{{"event", "executing"},
               {"node", node.id},
               {"class_type", node.entry->contract.class_type},
               {"index", index},
               {"total", total}}
              .dump());
  } else if (tty_) {
    fmt::print(out_, "{}", prefix(node));
    std::fflush(out_);
  }
}

void ConsoleProgress::node_progress(const PlannedNode& node, int64_t done, int64_t total) {
  if (total <= 0) return;
  if (!tty_ && !json_) {
    // Plain logs: a line per tenth, once the node has run long enough to be worth one.
    const int64_t tenth = std::min<int64_t>(10, std::max<int64_t>(0, done) * 10 / total);
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - node_start_).count();
    if (tenth <= last_tenth_ || tenth >= 10 || elapsed < quiet_seconds) return;
    last_tenth_ = tenth;
    const double left = elapsed * static_cast<double>(total - done) / static_cast<double>(std::max<int64_t>(1, done));
    fmt::print(out_, "{}node {} {} {} % ({}/{}), {:.0f} s so far, about {:.0f} s left\n", line_prefix, node.id,
               node.entry->contract.class_type, tenth * 10, done, total, elapsed, left);
    std::fflush(out_);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(json_ ? 100 : 50)) return;
  last_draw_ = now;
  if (json_) {
    event(json{{"event", "progress"}, {"node", node.id}, {"value", done}, {"max", total}}.dump());
    return;
  }
  const int width = 30;
  int filled = static_cast<int>(width * std::min<int64_t>(done, total) / total);
  fmt::print(out_, "\r\033[K{} [{}{}] {}/{}", prefix(node), std::string(static_cast<size_t>(filled), '#'),
             std::string(static_cast<size_t>(width - filled), '.'), done, total);
  std::fflush(out_);
}

void ConsoleProgress::node_finished(const PlannedNode& node, double seconds, bool cached) {
  if (json_) {
    event(json{{"event", cached ? "execution_cached" : "executed"}, {"node", node.id}, {"seconds", seconds}}.dump());
    return;
  }
  if (tty_) {
    fmt::print(out_, "\r\033[K{} {}\n", prefix(node), cached ? "cached" : fmt::format("{:.3f} s", seconds));
  } else {
    fmt::print(out_, "{}node {} {} {} {:.3f}s\n", line_prefix, node.id, node.entry->contract.class_type,
               cached ? "cached" : "done", seconds);
  }
  std::fflush(out_);
}

void ConsoleProgress::message(const PlannedNode& node, bool warning, const std::string& text) {
  if (json_) {
    event(json{{"event", "message"}, {"node", node.id}, {"level", warning ? "warning" : "info"}, {"text", text}}.dump(
        -1, ' ', false, json::error_handler_t::replace));
    return;
  }
  if (tty_) fmt::print(out_, "\r\033[K");
  fmt::print(out_, "{}{}node {} ({}): {}\n", line_prefix, warning ? "warning: " : "", node.id,
             node.entry->contract.class_type, text);
  if (tty_) fmt::print(out_, "{}", prefix(node));
  std::fflush(out_);
}

}  // namespace sf::host
