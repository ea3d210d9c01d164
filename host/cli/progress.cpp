#include "cli/progress.h"

#include <fmt/format.h>

namespace sf::host {

std::string ConsoleProgress::prefix(const PlannedNode& node) const {
  return fmt::format("[{}/{}] {} {}", index_, total_, node.id, node.entry->contract.class_type);
}

void ConsoleProgress::node_started(size_t index, size_t total, const PlannedNode& node) {
  index_ = index;
  total_ = total;
  bar_shown_ = false;
  if (tty_) {
    fmt::print(out_, "{}", prefix(node));
    std::fflush(out_);
  }
}

void ConsoleProgress::node_progress(const PlannedNode& node, int64_t done, int64_t total) {
  if (!tty_ || total <= 0) return;
  auto now = std::chrono::steady_clock::now();
  if (done < total && now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  const int width = 30;
  int filled = static_cast<int>(width * std::min<int64_t>(done, total) / total);
  fmt::print(out_, "\r\033[K{} [{}{}] {}/{}", prefix(node), std::string(static_cast<size_t>(filled), '#'),
             std::string(static_cast<size_t>(width - filled), '.'), done, total);
  std::fflush(out_);
  bar_shown_ = true;
}

void ConsoleProgress::node_finished(const PlannedNode& node, double seconds, bool cached) {
  if (tty_) {
    fmt::print(out_, "\r\033[K{} {}\n", prefix(node), cached ? "cached" : fmt::format("{:.3f} s", seconds));
  } else {
    fmt::print(out_, "node {} {} {} {:.3f}s\n", node.id, node.entry->contract.class_type, cached ? "cached" : "done",
               seconds);
  }
  std::fflush(out_);
}

void ConsoleProgress::message(const PlannedNode& node, bool warning, const std::string& text) {
  if (tty_) fmt::print(out_, "\r\033[K");
  fmt::print(out_, "{}node {} ({}): {}\n", warning ? "warning: " : "", node.id, node.entry->contract.class_type, text);
  if (tty_) fmt::print(out_, "{}", prefix(node));
  std::fflush(out_);
}

}  // namespace sf::host
