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
  const GraphNode& n = g->at("3");
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
  const auto* in = g->at("7").find_input("m");
  ASSERT_TRUE(in->link.has_value());
  EXPECT_EQ(in->link->source_id, "5");
  EXPECT_EQ(in->link->output_index, 1);
}

TEST(GraphParse, MarksMalformedLinks) {
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {"m": ["5"], "n": ["5", "x"], "o": {"a": 1}}}})");
  ASSERT_TRUE(g.ok());
  for (const char* name : {"m", "n", "o"}) EXPECT_TRUE(g->at("1").find_input(name)->malformed_link) << name;
}

TEST(GraphParse, NodeIdOrderIsNumericAware) {
  EXPECT_TRUE(node_id_less("2", "10"));
  EXPECT_FALSE(node_id_less("10", "2"));
  EXPECT_TRUE(node_id_less("9", "a"));
  EXPECT_TRUE(node_id_less("a", "b"));
  // Strict: equal values order by length, so no two distinct ids are equivalent.
  EXPECT_TRUE(node_id_less("7", "007"));
  EXPECT_FALSE(node_id_less("007", "7"));
  EXPECT_FALSE(node_id_less("7", "7"));
  EXPECT_TRUE(node_id_less("99999999999999999", "100000000000000000"));  // 17 digits, then text
}

// The graph is read from the parser's events, with a JSON document's semantics: the last of
// duplicate keys wins and every duplicate is a problem.
TEST(GraphParse, DuplicateNodeIdsKeepTheLastAndReportEachRepeat) {
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {}}, "2": {"class_type": "C", "inputs": {}},
                           "1": {"class_type": "B", "inputs": {}}, "3": {"class_type": "D"}, "3": 5})");
  ASSERT_TRUE(g.ok()) << g.status().message();
  ASSERT_EQ(g->nodes.size(), 2u);
  EXPECT_EQ(g->at("1").class_type, "B");
  EXPECT_EQ(g->find("3"), nullptr);  // its last value is not a node
  int duplicates = 0;
  for (const auto& p : g->problems)
    if (p.message.find("duplicate node id") != std::string::npos) ++duplicates;
  EXPECT_EQ(duplicates, 2);
  EXPECT_EQ(g->problems.size(), 3u);  // and "3" is not an object
}

TEST(GraphParse, DuplicateInputsAndFieldsKeepTheLast) {
  std::string many;  // past the builder's switch to a name index
  for (int i = 0; i < 40; ++i) many += "\"i" + std::to_string(i) + "\": " + std::to_string(i) + ", ";
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {"x": 1, "x": 2}, "class_type": "B",
                                 "_meta": {"title": "t1"}, "_meta": {"title": "t2"}},
                           "2": {"class_type": "A", "inputs": {)" +
                       many + R"("i7": "last"}}})");
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GraphNode& one = g->at("1");
  EXPECT_EQ(one.class_type, "B");
  EXPECT_EQ(one.title, "t2");
  ASSERT_EQ(one.inputs.size(), 1u);
  EXPECT_EQ(one.find_input("x")->literal.as_int(), 2);
  const GraphNode& two = g->at("2");
  EXPECT_EQ(two.inputs.size(), 40u);
  EXPECT_EQ(two.find_input("i7")->literal.as_string(), "last");
  std::vector<std::string> messages;
  for (const auto& p : g->problems) messages.push_back(p.node_id + ": " + p.message);
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_NE(messages[0].find("1: duplicate key 'x'"), std::string::npos) << messages[0];
  EXPECT_NE(messages[1].find("1: duplicate key 'class_type'"), std::string::npos) << messages[1];
  EXPECT_NE(messages[2].find("1: duplicate key '_meta'"), std::string::npos) << messages[2];
  EXPECT_NE(messages[3].find("2: duplicate key 'i7'"), std::string::npos) << messages[3];
}

TEST(GraphParse, InputsAreKeptInNameOrder) {
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {"b": 1, "c": ["2", 0], "a": "x"}}})");
  ASSERT_TRUE(g.ok());
  const auto& in = g->at("1").inputs;
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[0].name, "a");
  EXPECT_EQ(in[1].name, "b");
  EXPECT_EQ(in[2].name, "c");
}

TEST(GraphParse, PromptIsAWrapperOnlyWhenItIsTheOnlyKey) {
  auto node = parse_graph(R"({"prompt": {"class_type": "A", "inputs": {}}, "2": {"class_type": "B", "inputs": {}}})");
  ASSERT_TRUE(node.ok());
  EXPECT_TRUE(node->problems.empty());
  ASSERT_EQ(node->nodes.size(), 2u);
  EXPECT_EQ(node->at("prompt").class_type, "A");
  auto scalar = parse_graph(R"({"prompt": 5})");
  ASSERT_TRUE(scalar.ok());
  ASSERT_EQ(scalar->problems.size(), 1u);
  EXPECT_EQ(scalar->problems[0].node_id, "prompt");
  EXPECT_NE(scalar->problems[0].message.find("got number"), std::string::npos);
}

TEST(GraphParse, OnlyTwoElementListsOfIdAndIntegerAreLinks) {
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {
      "ok": ["2", 1], "numeric": [2, 0], "three": ["2", 0, 1], "nested": [["2", 0]], "float": ["2", 1.0],
      "empty": [], "one": ["2"], "object": {"a": ["2", 0]}, "value": {"__value__": ["2", 0]}}},
      "2": {"class_type": "B", "inputs": {}}})");
  ASSERT_TRUE(g.ok()) << g.status().message();
  const GraphNode& n = g->at("1");
  EXPECT_EQ(n.find_input("ok")->link->source_id, "2");
  EXPECT_EQ(n.find_input("ok")->source_index, g->index_of("2"));
  EXPECT_EQ(n.find_input("ok")->raw_json(), R"(["2",1])");
  EXPECT_EQ(n.find_input("numeric")->link->source_id, "2");
  for (const char* name : {"three", "nested", "float", "empty", "one", "object"}) {
    EXPECT_TRUE(n.find_input(name)->malformed_link) << name;
    EXPECT_FALSE(n.find_input(name)->link.has_value()) << name;
  }
  EXPECT_EQ(n.find_input("three")->raw_json(), R"(["2",0,1])");
  EXPECT_EQ(n.find_input("nested")->raw_json(), R"([["2",0]])");
  EXPECT_EQ(n.find_input("object")->raw_json(), R"({"a":["2",0]})");
  const GraphInput* value = n.find_input("value");
  EXPECT_FALSE(value->malformed_link);
  EXPECT_EQ(value->literal.to_json(), R"(["2",0])");
  EXPECT_EQ(value->raw_json(), R"({"__value__":["2",0]})");
}

TEST(GraphParse, DuplicateKeysInsideALiteralAreProblems) {
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {"x": {"__value__": [1], "__value__": [2]}}}})");
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->problems.size(), 1u);
  EXPECT_NE(g->problems[0].message.find("duplicate key '__value__'"), std::string::npos);
  EXPECT_EQ(g->at("1").find_input("x")->literal.to_json(), "[2]");
}

TEST(GraphParse, NodesSitInIdOrderAndLinksFindTheirSource) {
  auto g = parse_graph(R"({"a": {"class_type": "A", "inputs": {"m": ["007", 0], "n": ["8", 0]}},
      "10": {"class_type": "A", "inputs": {}}, "2": {"class_type": "A", "inputs": {}},
      "007": {"class_type": "A", "inputs": {}}, "7": {"class_type": "A", "inputs": {}}})");
  ASSERT_TRUE(g.ok());
  std::vector<std::string> ids;
  for (const auto& n : g->nodes) ids.push_back(n.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"2", "7", "007", "10", "a"}));
  EXPECT_EQ(g->index_of("007"), 2u);
  EXPECT_EQ(g->index_of("8"), kNoNode);
  EXPECT_EQ(g->at("a").find_input("m")->source_index, 2u);
  EXPECT_EQ(g->at("a").find_input("n")->source_index, kNoNode);
  EXPECT_THROW(g->at("8"), std::out_of_range);
}

TEST(GraphParse, TopLevelScalarsAndStructuralProblemsNameTheType) {
  for (const auto& [text, type] : std::vector<std::pair<std::string, std::string>>{
           {"5", "number"}, {"\"x\"", "string"}, {"null", "null"}, {"true", "boolean"}, {"[{\"a\": 1}]", "array"}}) {
    auto g = parse_graph(text);
    ASSERT_FALSE(g.ok()) << text;
    EXPECT_NE(g.status().message().find("got " + type), std::string::npos) << g.status().message();
  }
  auto g = parse_graph(R"({"1": {"class_type": 3, "inputs": {}}, "2": {"class_type": "A", "inputs": [1]},
                           "3": [1, {"class_type": "A"}], "4": {"class_type": "A", "inputs": {"x": 1}, "extra": {"y": [1]}}})");
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->problems.size(), 3u);
  EXPECT_NE(g->problems[0].message.find("no class_type string"), std::string::npos);
  EXPECT_NE(g->problems[1].message.find("inputs must be an object"), std::string::npos);
  EXPECT_NE(g->problems[2].message.find("got array"), std::string::npos);
  ASSERT_EQ(g->nodes.size(), 1u);
  EXPECT_EQ(g->at("4").find_input("x")->literal.as_int(), 1);
}

TEST(GraphParse, MalformedTextAfterANonObjectTopLevelIsStillMalformed) {
  auto g = parse_graph("[1, 2");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("malformed JSON"), std::string::npos) << g.status().message();
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
