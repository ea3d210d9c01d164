// The CLI's progress output in plain (non-terminal) logs: a long node reports each tenth of its
// progress with the time left, a short one stays quiet, a finished node gets its one line.
#include "cli/progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "registry/catalogue.h"

namespace sf::host {
namespace {

std::string contents(std::FILE* f) {
  std::fflush(f);
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) out.append(buf, n);
  return out;
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ConsoleProgress, PlainLogsGetATenthLineOnlyFromLongNodes) {
  CatalogueEntry entry;
  entry.contract.class_type = "OptimalStepsScheduler";
  PlannedNode node;
  node.id = "7";
  node.entry = &entry;
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  ConsoleProgress long_node(f, /*tty=*/false);
  long_node.quiet_seconds = 0;  // as if it had run for minutes
  long_node.node_started(1, 2, node);
  for (int i = 1; i <= 40; ++i) long_node.node_progress(node, i, 40);
  long_node.node_finished(node, 12.5, false);
  std::string text = contents(f);
  // 10 % .. 90 %, once each (4 calls per tenth), none at 100 % (the finished line says it).
  EXPECT_EQ(count(text, "node 7 OptimalStepsScheduler "), 10u) << text;
  for (int t = 10; t <= 90; t += 10)
    EXPECT_EQ(count(text, " " + std::to_string(t) + " % (" + std::to_string(t * 40 / 100) + "/40)"), 1u) << text;
  EXPECT_EQ(count(text, " s left"), 9u);
  EXPECT_EQ(count(text, "node 7 OptimalStepsScheduler done 12.500s"), 1u);

  std::FILE* g = std::tmpfile();
  ConsoleProgress short_node(g, false);  // the default: quiet for the first 5 s
  short_node.node_started(1, 1, node);
  for (int i = 1; i <= 40; ++i) short_node.node_progress(node, i, 40);
  EXPECT_EQ(count(contents(g), "%"), 0u);
  std::fclose(f);
  std::fclose(g);
}

}  // namespace
}  // namespace sf::host
