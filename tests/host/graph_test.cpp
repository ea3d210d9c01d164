// Graph file parsing: ComfyUI API prompt format.
#include <gtest/gtest.h>

#include "graph/graph.h"

namespace sf::host {
namespace {

TEST(GraphParse, ReadsNodesLinksLiteralsAndMeta) {
  auto g = parse_graph(R"({
    "3": {"class_type": "KSampler", "inputs": {"seed": 8566257, "cfg": 8.0, "name": "x", "on": true,
          "model": ["4", 0], "list": {"__value__": [1, [2, 3.5]]}}, "_meta": {"title": "My sampler"}},
    "4": {"class_type": "Loader", "inputs": {}}
  })");
  ASSERT_TRUE(g.ok()) << g.status().message();
  ASSERT_EQ(g->nodes.size(), 2u);
  const GraphNode& n = g->nodes.at("3");
  EXPECT_EQ(n.class_type, "KSampler");
  EXPECT_EQ(n.title, "My sampler");
  EXPECT_EQ(n.find_input("seed")->literal.as_int(), 8566257);
  EXPECT_DOUBLE_EQ(n.find_input("cfg")->literal.as_number(), 8.0);
  EXPECT_TRUE(n.find_input("cfg")->literal.is_float());
  EXPECT_EQ(n.find_input("name")->literal.as_string(), "x");
  EXPECT_TRUE(n.find_input("on")->literal.as_bool());
  ASSERT_TRUE(n.find_input("model")->link.has_value());
  EXPECT_EQ(n.find_input("model")->link->source_id, "4");
  EXPECT_EQ(n.find_input("model")->link->output_index, 0);
  const Literal& list = n.find_input("list")->literal;
  ASSERT_TRUE(list.is_list());
  EXPECT_EQ(list.to_json(), "[1,[2,3.5]]");
  EXPECT_TRUE(g->problems.empty());
}

TEST(GraphParse, MalformedJsonNamesLineAndColumn) {
  auto g = parse_graph("{\n  \"1\": {\"class_type\": \"A\",\n    \"inputs\": {\"x\": 1,}\n  }\n}");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("line 3, column 23"), std::string::npos) << g.status().message();
}

TEST(GraphParse, StructuralProblemsAreCollectedPerNode) {
  auto g = parse_graph(
      R"({"1": 5, "2": {"inputs": {}}, "3": {"class_type": "A", "inputs": [1]}, "4": {"class_type": "B"}})");
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->problems.size(), 3u);
  EXPECT_EQ(g->problems[0].node_id, "1");
  EXPECT_EQ(g->problems[1].node_id, "2");
  EXPECT_NE(g->problems[1].message.find("class_type"), std::string::npos);
  EXPECT_EQ(g->problems[2].node_id, "3");
  EXPECT_EQ(g->nodes.size(), 1u);  // only "4" is usable
}

TEST(GraphParse, TopLevelMustBeObject) {
  auto g = parse_graph("[1, 2]");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("JSON object"), std::string::npos);
}

TEST(GraphParse, AcceptsPromptWrapperAndNumericLinkIds) {
  auto g = parse_graph(R"({"prompt": {"7": {"class_type": "A", "inputs": {"m": [5, 1]}}}})");
  ASSERT_TRUE(g.ok());
  const auto* in = g->nodes.at("7").find_input("m");
  ASSERT_TRUE(in->link.has_value());
  EXPECT_EQ(in->link->source_id, "5");
  EXPECT_EQ(in->link->output_index, 1);
}

TEST(GraphParse, MarksMalformedLinks) {
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {"m": ["5"], "n": ["5", "x"], "o": {"a": 1}}}})");
  ASSERT_TRUE(g.ok());
  for (const char* name : {"m", "n", "o"}) EXPECT_TRUE(g->nodes.at("1").find_input(name)->malformed_link) << name;
}

TEST(GraphParse, NodeIdOrderIsNumericAware) {
  EXPECT_TRUE(node_id_less("2", "10"));
  EXPECT_FALSE(node_id_less("10", "2"));
  EXPECT_TRUE(node_id_less("9", "a"));
  EXPECT_TRUE(node_id_less("a", "b"));
}

TEST(LiteralJson, RoundTripsNumbersAndEscapes) {
  EXPECT_EQ(Literal(int64_t{3}).to_json(), "3");
  EXPECT_EQ(Literal(3.0).to_json(), "3.0");
  EXPECT_EQ(Literal(0.1).to_json(), "0.10000000000000001");
  EXPECT_EQ(Literal("a\"b\n").to_json(), "\"a\\\"b\\n\"");
  EXPECT_EQ(Literal(true).to_json(), "true");
  EXPECT_EQ(Literal().to_json(), "null");
}

}  // namespace
}  // namespace sf::host
