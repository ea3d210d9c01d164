// Validation: every ComfyUI error type, all problems at once, and the execution plan.
#include <gtest/gtest.h>

#include "sigmaflow/number_list.h"

#include <nlohmann/json.hpp>

#include "graph/graph.h"
#include "registry/contract_check.h"
#include "registry/contract_json.h"
#include "validate/validate.h"

namespace sf::host {
namespace {

Catalogue test_catalogue() {
  Catalogue cat;
  auto add = [&](NodeContract c) { cat.put({std::move(c), "test", "/test.so", {}}); };
  NodeContract model;
  model.class_type = "ModelNode";
  model.outputs = {{"MODEL", "MODEL"}};
  add(model);
  NodeContract sched;
  sched.class_type = "Sched";
  sched.inputs = {Port("model", "MODEL"), Int("steps", 20, 1, 10000), Float("denoise", 1.0, 0.0, 1.0),
                  Combo("kind", {"karras", "exponential"})};
  sched.outputs = {{"SIGMAS", "SIGMAS"}};
  add(sched);
  NodeContract sink;
  sink.class_type = "Sink";
  sink.inputs = {Port("sigmas", "SIGMAS")};
  sink.output_node = true;
  add(sink);
  NodeContract any;
  any.class_type = "AnySink";
  any.inputs = {Port("value", "*"), Optional(Port("extra", "FLOAT,INT"))};
  any.output_node = true;
  add(any);
  NodeContract num;
  num.class_type = "Num";
  num.inputs = {Float("x", 1.0)};
  num.outputs = {{"FLOAT", "FLOAT"}};
  add(num);
  NodeContract passthrough;
  passthrough.class_type = "Pass";
  passthrough.inputs = {Port("in", "SIGMAS")};
  passthrough.outputs = {{"SIGMAS", "SIGMAS"}};
  add(passthrough);
  NodeContract lists;
  lists.class_type = "Lists";
  lists.inputs = {List("values"), Bool("flag", false), String("name", "n")};
  lists.outputs = {{"FLOAT", "FLOAT"}};
  add(lists);
  return cat;
}

Validated check(const std::string& text) {
  auto g = parse_graph(text);
  EXPECT_TRUE(g.ok()) << g.status().message();
  static Catalogue cat = test_catalogue();
  return validate_graph(*g, cat);
}

const char* kGood = R"({
  "1": {"class_type": "ModelNode", "inputs": {}},
  "2": {"class_type": "Sched", "inputs": {"model": ["1", 0], "steps": 10, "denoise": 0.5, "kind": "karras"}},
  "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}},
  "9": {"class_type": "Num", "inputs": {"x": 2}}
})";

TEST(Validate, CleanGraphPlansOnlyWhatOutputsNeedInOrder) {
  auto v = check(kGood);
  ASSERT_TRUE(v.report.ok()) << v.report.to_text();
  ASSERT_EQ(v.plan.order.size(), 3u);  // "9" is not needed by any output
  EXPECT_EQ(v.plan.order[0].id, "1");
  EXPECT_EQ(v.plan.order[1].id, "2");
  EXPECT_EQ(v.plan.order[2].id, "3");
  EXPECT_EQ(v.plan.outputs, std::vector<std::string>{"3"});
  EXPECT_EQ(v.plan.order[1].literals.at("steps").as_int(), 10);
  EXPECT_TRUE(v.plan.order[1].literals.at("denoise").is_float());
}

TEST(Validate, DefaultsFillMissingLiterals) {
  auto v = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                     "2": {"class_type": "Sched", "inputs": {"model": ["1", 0]}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}}})");
  ASSERT_TRUE(v.report.ok()) << v.report.to_text();
  EXPECT_EQ(v.plan.order[1].literals.at("steps").as_int(), 20);
  EXPECT_EQ(v.plan.order[1].literals.at("kind").as_string(), "karras");
}

struct Expected {
  std::string node, type, input;
};

void expect_issues(const Validated& v, const std::vector<Expected>& want) {
  ASSERT_EQ(v.report.issues.size(), want.size()) << v.report.to_text();
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(v.report.issues[i].node_id, want[i].node) << i;
    EXPECT_EQ(v.report.issues[i].type, want[i].type) << i;
    EXPECT_EQ(v.report.issues[i].input_name, want[i].input) << i;
  }
  EXPECT_TRUE(v.plan.order.empty());
}

TEST(Validate, UnknownClassTypeNamesTheMissingType) {
  auto v = check(
      R"({"1": {"class_type": "Nope", "inputs": {}}, "2": {"class_type": "Sink", "inputs": {"sigmas": ["1", 0]}}})");
  expect_issues(v, {{"1", "invalid_prompt", "class_type"}});
  EXPECT_NE(v.report.issues[0].message.find("'Nope'"), std::string::npos);
}

// ComfyUI's checkpoint, text-encoder and VAE nodes get the node that plays their part here.
TEST(Validate, ComfyUiLoaderNodesNameTheirCounterpart) {
  auto v = check(R"({"4": {"class_type": "CheckpointLoaderSimple", "inputs": {}},
                     "6": {"class_type": "CLIPTextEncode", "inputs": {}},
                     "2": {"class_type": "Sink", "inputs": {"sigmas": ["4", 0]}}})");
  ASSERT_GE(v.report.issues.size(), 2u);
  std::string all;
  for (const auto& i : v.report.issues) all += i.details + "\n";
  EXPECT_NE(all.find("(here: a MODEL node: TorchScriptModel"), std::string::npos) << all;
  EXPECT_NE(all.find("(here: a CONDITIONING source: LoadConditioning"), std::string::npos) << all;
}

// A plain JSON array where a literal list belongs reads as a link: the message says how to write it.
TEST(Validate, PlainArrayForALiteralListGetsTheValueHint) {
  auto v = check(R"({"1": {"class_type": "Lists", "inputs": {"values": [1, 2, 3]}},
                     "2": {"class_type": "AnySink", "inputs": {"value": 1, "extra": ["1", 0]}}})");
  bool found = false;
  for (const auto& i : v.report.issues)
    if (i.node_id == "1" && i.type == "bad_linked_input") {
      found = true;
      EXPECT_NE(i.details.find("{\"__value__\": [...]}"), std::string::npos) << i.details;
    }
  EXPECT_TRUE(found);
}

TEST(Validate, MissingRequiredLinkInput) {
  auto v = check(R"({"1": {"class_type": "Sink", "inputs": {}}})");
  expect_issues(v, {{"1", "required_input_missing", "sigmas"}});
}

TEST(Validate, LinkToMissingNode) {
  auto v = check(R"({"1": {"class_type": "Sink", "inputs": {"sigmas": ["42", 0]}}})");
  expect_issues(v, {{"1", "bad_linked_input", "sigmas"}});
  EXPECT_NE(v.report.issues[0].details.find("'42'"), std::string::npos);
}

TEST(Validate, LinkToMissingOutputIndex) {
  auto v = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                     "2": {"class_type": "Sched", "inputs": {"model": ["1", 3]}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}}})");
  expect_issues(v, {{"2", "bad_linked_input", "model"}});
  EXPECT_NE(v.report.issues[0].details.find("index 3"), std::string::npos);
}

TEST(Validate, MalformedLink) {
  auto v = check(R"({"1": {"class_type": "Sink", "inputs": {"sigmas": ["2"]}}})");
  expect_issues(v, {{"1", "bad_linked_input", "sigmas"}});
}

TEST(Validate, TypeMismatchAndWildcardsAndUnions) {
  auto bad = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                       "2": {"class_type": "Sink", "inputs": {"sigmas": ["1", 0]}}})");
  expect_issues(bad, {{"2", "return_type_mismatch", "sigmas"}});
  EXPECT_NE(bad.report.issues[0].details.find("received_type(MODEL) mismatch input_type(SIGMAS)"), std::string::npos);
  // "*" accepts anything; "FLOAT,INT" accepts FLOAT.
  auto ok = check(R"({"1": {"class_type": "ModelNode", "inputs": {}}, "5": {"class_type": "Num", "inputs": {}},
                      "2": {"class_type": "AnySink", "inputs": {"value": ["1", 0], "extra": ["5", 0]}}})");
  EXPECT_TRUE(ok.report.ok()) << ok.report.to_text();
  auto union_bad = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                             "2": {"class_type": "AnySink", "inputs": {"value": 1, "extra": ["1", 0]}}})");
  expect_issues(union_bad, {{"2", "return_type_mismatch", "extra"}});
  EXPECT_TRUE(types_compatible("FLOAT", "INT,FLOAT"));
  EXPECT_TRUE(types_compatible("A,B", "B"));
  EXPECT_FALSE(types_compatible("A,B", "C,D"));
  EXPECT_TRUE(types_compatible("*", "MODEL"));
}

TEST(Validate, LiteralNotCoercible) {
  auto v = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                     "2": {"class_type": "Sched", "inputs": {"model": ["1", 0], "steps": "ten", "denoise": [1, 2]}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}}})");
  expect_issues(v, {{"2", "invalid_input_type", "steps"}, {"2", "bad_linked_input", "denoise"}});
  // A literal where a MODEL link is required; a fractional INT; a non-bool BOOLEAN; a number LIST.
  auto w = check(R"({"2": {"class_type": "Sched", "inputs": {"model": 5, "steps": 2.5}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}},
                     "4": {"class_type": "Lists", "inputs": {"values": 3, "flag": 1}},
                     "5": {"class_type": "AnySink", "inputs": {"value": ["4", 0]}}})");
  expect_issues(w, {{"2", "invalid_input_type", "model"},
                    {"2", "invalid_input_type", "steps"},
                    {"4", "invalid_input_type", "values"},
                    {"4", "invalid_input_type", "flag"}});
}

TEST(Validate, CoercesNumericStringsAndIntegralFloats) {
  auto v = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                     "2": {"class_type": "Sched", "inputs": {"model": ["1", 0], "steps": "12", "denoise": "0.25"}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}},
                     "4": {"class_type": "Lists", "inputs": {"values": {"__value__": [1, 2]}, "name": 5}},
                     "5": {"class_type": "AnySink", "inputs": {"value": ["4", 0]}}})");
  ASSERT_TRUE(v.report.ok()) << v.report.to_text();
  EXPECT_EQ(v.plan.order[1].literals.at("steps").as_int(), 12);
  EXPECT_DOUBLE_EQ(v.plan.order[1].literals.at("denoise").as_number(), 0.25);
}

TEST(Validate, MinMaxAndComboChoices) {
  auto v = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                     "2": {"class_type": "Sched", "inputs": {"model": ["1", 0], "steps": 0, "denoise": 1.5, "kind": "linear"}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}}})");
  expect_issues(v, {{"2", "value_smaller_than_min", "steps"},
                    {"2", "value_bigger_than_max", "denoise"},
                    {"2", "value_not_in_list", "kind"}});
  EXPECT_EQ(v.report.issues[0].message, "Value 0 smaller than min of 1");
  EXPECT_EQ(v.report.issues[0].value, "0");
  EXPECT_NE(v.report.issues[2].details.find("'linear' not in [karras, exponential]"), std::string::npos);
}

TEST(Validate, CycleListsItsNodes) {
  auto v = check(R"({"1": {"class_type": "Pass", "inputs": {"in": ["2", 0]}},
                     "2": {"class_type": "Pass", "inputs": {"in": ["1", 0]}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}}})");
  expect_issues(v, {{"1", "dependency_cycle", ""}, {"2", "dependency_cycle", ""}});
  EXPECT_EQ(v.report.issues[0].message, "Dependency cycle detected");
  EXPECT_NE(v.report.issues[0].details.find("1 -> 2 -> 1"), std::string::npos) << v.report.issues[0].details;
}

TEST(Validate, NoOutputNode) {
  auto v = check(R"({"1": {"class_type": "ModelNode", "inputs": {}}})");
  expect_issues(v, {{"", "prompt_no_outputs", ""}});
}

TEST(Validate, ReportsAllProblemsAtOnce) {
  auto v = check(R"({"1": {"class_type": "Nope", "inputs": {}},
                     "2": {"class_type": "Sched", "inputs": {"model": ["1", 0], "steps": -3, "kind": "x"}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}},
                     "4": {"class_type": "Sink", "inputs": {}}})");
  expect_issues(v, {{"1", "invalid_prompt", "class_type"},
                    {"2", "value_smaller_than_min", "steps"},
                    {"2", "value_not_in_list", "kind"},
                    {"4", "required_input_missing", "sigmas"}});
}

TEST(Validate, NodeErrorsJsonHasComfyShape) {
  auto v = check(R"({"1": {"class_type": "ModelNode", "inputs": {}},
                     "2": {"class_type": "Sched", "inputs": {"model": ["1", 0], "steps": 0}},
                     "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}}})");
  auto j = nlohmann::json::parse(v.report.to_json());
  EXPECT_EQ(j["error"]["type"], "prompt_outputs_failed_validation");
  const auto& n = j["node_errors"]["2"];
  EXPECT_EQ(n["class_type"], "Sched");
  EXPECT_EQ(n["dependent_outputs"], nlohmann::json::array({"3"}));
  ASSERT_EQ(n["errors"].size(), 1u);
  EXPECT_EQ(n["errors"][0]["type"], "value_smaller_than_min");
  EXPECT_EQ(n["errors"][0]["extra_info"]["input_name"], "steps");
  EXPECT_EQ(n["errors"][0]["extra_info"]["received_value"], 0);
  // ComfyUI's input_config: the input's object_info entry, [type, {options}].
  const auto& config = n["errors"][0]["extra_info"]["input_config"];
  ASSERT_TRUE(config.is_array()) << config.dump();
  EXPECT_EQ(config[0], "INT");
  EXPECT_EQ(config[1]["min"], 1);
  auto unreadable = nlohmann::json::parse(report_for_unreadable_graph("malformed JSON at line 1, column 2").to_json());
  EXPECT_EQ(unreadable["error"]["type"], "invalid_prompt");
  EXPECT_TRUE(unreadable["node_errors"].empty());
}

TEST(Validate, ParseProblemsBecomeInvalidPrompt) {
  auto v = check(R"({"1": {"inputs": {}}, "3": {"class_type": "Sink", "inputs": {"sigmas": ["2", 0]}}})");
  ASSERT_FALSE(v.report.ok());
  EXPECT_EQ(v.report.issues[0].type, "invalid_prompt");
  EXPECT_EQ(v.report.issues[0].node_id, "1");
}

TEST(Catalogue, ExpandsRegistryChoicesAndServesObjectInfo) {
  Catalogue cat;
  NodeContract c;
  c.class_type = "Basic";
  c.category = "sampling";
  InputSpec s = Combo("scheduler", {"simple"});
  s.choices_from = "schedulers";
  c.inputs = {s, Optional(Float("denoise", 1.0, 0.0, 1.0))};
  c.outputs = {{"SIGMAS", "SIGMAS"}};
  cat.put({c, "p", "/p.so", {}});
  RegistryName so;
  so.name = "score_optimal";
  cat.put_schedule(so);
  cat.put_schedule(so);  // a name is listed once
  cat.expand_registry_choices();
  EXPECT_EQ(cat.find("Basic")->contract.inputs[0].choices, (std::vector<std::string>{"simple", "score_optimal"}));
  auto j = nlohmann::json::parse(cat.object_info_json());
  const auto& b = j["Basic"];
  EXPECT_EQ(b["input"]["required"]["scheduler"][0], nlohmann::json::array({"simple", "score_optimal"}));
  EXPECT_EQ(b["input"]["optional"]["denoise"][0], "FLOAT");
  EXPECT_EQ(b["input"]["optional"]["denoise"][1]["max"], 1.0);
  EXPECT_EQ(b["input_order"]["required"], nlohmann::json::array({"scheduler"}));
  EXPECT_EQ(b["output"], nlohmann::json::array({"SIGMAS"}));
  EXPECT_EQ(b["output_node"], false);
  EXPECT_EQ(b["category"], "sampling");
}

}  // namespace
}  // namespace sf::host

namespace sf::host {
namespace {
// Found by the fuzzer: a number that overflows is a parse error, not an exception.
TEST(GraphParse, NumberOverflowIsMalformedJson) {
  auto g = parse_graph(R"({"1": {"class_type": "A", "inputs": {"x": 20e30000}}})");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("malformed JSON"), std::string::npos);
}

// Found by the fuzzer: invalid UTF-8 inside strings must not make reports throw.
TEST(Validate, InvalidUtf8InStringsIsReportedNotThrown) {
  std::string text =
      "{\"1\": {\"class_type\": \"Sched\", \"inputs\": {\"kind\": \"\xff\xfe\", \"model\": [\"\xff\", 0]}}}";
  auto g = parse_graph(text);
  if (!g.ok()) {  // the JSON reader refuses the bytes: the report of that must still serialise
    EXPECT_NO_THROW(nlohmann::json::parse(report_for_unreadable_graph(g.status().message()).to_json()));
    return;
  }
  static Catalogue cat = test_catalogue();
  auto v = validate_graph(*g, cat);
  EXPECT_FALSE(v.report.ok());
  std::string json;
  EXPECT_NO_THROW(json = v.report.to_json());
  EXPECT_NO_THROW(nlohmann::json::parse(json));
}

// API 3.1's product rule: product(a) / product(b) <= bound over literals, in double precision;
// a quotient blames its divisor, a product its first factor; links and zero divisors are the
// node's to handle at run time.
TEST(Validate, ProductRuleBoundsTheSizesInputsImply) {
  Catalogue cat;
  NodeContract sized;
  sized.class_type = "Sized";
  sized.inputs = {Int("steps", 20, 1, 10000), Float("denoise", 1.0, 0.0, 1.0), Int("width", 512, 1, 1 << 20),
                  Int("height", 512, 1, 1 << 20), Int("batch", 1, 1, 1 << 20)};
  sized.constraints = {ProductAtMost({"steps"}, {"denoise"}, 1e6, "the schedule's full length"),
                       ProductAtMost({"width", "height", "batch"}, {}, 1e9)};
  sized.output_node = true;
  cat.put({sized, "test", "/test.so", {}});
  NodeContract num;
  num.class_type = "Num";
  num.inputs = {Float("x", 1.0)};
  num.outputs = {{"FLOAT", "FLOAT"}};
  cat.put({num, "test", "/test.so", {}});
  auto issues = [&](const std::string& inputs) {
    auto g = parse_graph(R"({"n": {"class_type": "Num", "inputs": {}}, "1": {"class_type": "Sized", "inputs": )" +
                         inputs + "}}");
    EXPECT_TRUE(g.ok()) << g.status().message();
    return nlohmann::json::parse(validate_graph(*g, cat).report.to_json());
  };
  auto j = issues(R"({"steps": 10000, "denoise": 1e-5})");
  ASSERT_EQ(j["node_errors"]["1"]["errors"].size(), 1u) << j.dump();
  const auto& e = j["node_errors"]["1"]["errors"][0];
  EXPECT_EQ(e["type"], "value_bigger_than_max");
  EXPECT_EQ(e["extra_info"]["input_name"], "denoise");
  const std::string details = e["details"].get<std::string>();
  EXPECT_NE(details.find("steps / denoise = 10000 / "), std::string::npos) << details;
  EXPECT_NE(details.find("= 1e+09 is more than 1e+06 (the schedule's full length)"), std::string::npos) << details;
  // At the bound, a zero divisor, a linked divisor: not refused here.
  EXPECT_TRUE(issues(R"({"steps": 10000, "denoise": 0.01})")["node_errors"].empty());
  EXPECT_TRUE(issues(R"({"steps": 10000, "denoise": 0})")["node_errors"].empty());
  EXPECT_TRUE(issues(R"({"steps": 10000, "denoise": ["n", 0]})")["node_errors"].empty());
  // A product past int64 (2^60 x 2^20 x 2^20 would overflow an integer) is computed in doubles.
  auto big = issues(R"({"width": 1048576, "height": 1048576, "batch": 1048576})");
  ASSERT_EQ(big["node_errors"]["1"]["errors"].size(), 1u) << big.dump();
  EXPECT_EQ(big["node_errors"]["1"]["errors"][0]["extra_info"]["input_name"], "width");
  EXPECT_NE(big["node_errors"]["1"]["errors"][0]["details"].get<std::string>().find(
                "width x height x batch = 1048576 x 1048576 x 1048576 = 1.153e+18 is more than 1e+09"),
            std::string::npos)
      << big.dump();
  EXPECT_TRUE(issues(R"({"width": 1000, "height": 1000, "batch": 1000})")["node_errors"].empty());
}

// A malformed product rule is a contract problem (the plugin is refused), and the rule survives
// the scan cache's JSON.
TEST(Validate, ProductRulesAreCheckedInContractsAndRoundTrip) {
  NodeContract c;
  c.class_type = "P";
  c.inputs = {Int("n", 1), Float("x", 1.0), String("s", "a")};
  c.constraints = {ProductAtMost({"n"}, {"x"}, 10)};
  EXPECT_TRUE(check_contract(c).empty());
  const NodeContract back = contract_from_json(contract_to_json(c));
  ASSERT_EQ(back.constraints.size(), 1u);
  EXPECT_EQ(back.constraints[0].kind, Constraint::Kind::kProductAtMost);
  EXPECT_EQ(back.constraints[0].a, "n");
  EXPECT_EQ(back.constraints[0].b, "x");
  EXPECT_EQ(std::stod(back.constraints[0].value), 10.0);
  const std::vector<std::pair<Constraint, std::string>> bad = {
      {ProductAtMost({"n", "missing"}, {}, 10), "unknown input 'missing'"},
      {ProductAtMost({"n"}, {"s"}, 10), "input 's' of type STRING"},
      {ProductAtMost({}, {"x"}, 10), "at least one input"},
      {ProductAtMost({"n"}, {}, -1), "not a positive number"},
      {Constraint{Constraint::Kind::kProductAtMost, "n", "", "ten", ""}, "'ten' is not a positive number"},
  };
  for (const auto& [rule, message] : bad) {
    c.constraints = {rule};
    const auto problems = check_contract(c);
    ASSERT_EQ(problems.size(), 1u) << message;
    EXPECT_NE(problems[0].find(message), std::string::npos) << problems[0];
  }
  nlohmann::json forged = contract_to_json(c);
  forged["constraints"][0]["kind"] = static_cast<int>(Constraint::Kind::kNumberList) + 1;
  EXPECT_THROW(contract_from_json(forged), std::runtime_error);
}

// API 3.2's number-list grammar (sigmaflow/number_list.h), against hand-written answers: the
// node parses with it at run time and validation applies it, so both give one verdict.
TEST(NumberList, SeedListsParseExactlyAndRefuseWhatTheSweepRefuses) {
  NumberListRule seeds;
  seeds.integers = seeds.commas_only = seeds.blank_is_empty = seeds.unique = true;
  seeds.max_count = 64;
  seeds.noun = "seed";
  const NumberList ok = parse_number_list(" 0 ,18446744073709551615,\t7 ", seeds);
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.integers, (std::vector<uint64_t>{0, 18446744073709551615ull, 7}));
  EXPECT_TRUE(parse_number_list("  ", seeds).ok());
  EXPECT_TRUE(parse_number_list("  ", seeds).integers.empty());
  std::string sixty_five;
  for (int i = 0; i < 65; ++i) sixty_five += (i ? "," : "") + std::to_string(i);
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"1,,2", "an empty entry in the seed list"},
      {"1,", "an empty entry in the seed list"},
      {"-3", "seed '-3' is negative"},
      {"1.5", "'1.5' is not a seed (an integer in 0..2^64-1)"},
      {"18446744073709551616", "is not a seed"},
      {"1 2", "'1 2' is not a seed"},
      {"4, 5, 4", "seed 4 is listed twice"},
      {sixty_five, "at most 64 seeds, got 65"}};
  for (const auto& [text, message] : bad) {
    const NumberList r = parse_number_list(text, seeds);
    EXPECT_NE(r.error.find(message), std::string::npos) << text << ": " << r.error;
  }
}

TEST(NumberList, SchedulesParseAsDecimalsAndTheRuleRoundTrips) {
  NumberListRule sigmas;
  sigmas.min_count = 2;
  sigmas.min_value = 0.0;
  sigmas.strictly_decreasing = true;
  sigmas.noun = "sigma";
  const NumberList ok = parse_number_list("14.6, 7 [3.5];1e-1\n0", sigmas);
  ASSERT_TRUE(ok.ok()) << ok.error;
  EXPECT_EQ(ok.values, (std::vector<double>{14.6, 7, 3.5, 0.1, 0}));
  EXPECT_NE(parse_number_list("nan, 0", sigmas).error.find("'nan' is not a number"), std::string::npos);
  EXPECT_NE(parse_number_list("2, 2", sigmas).error.find("sigma 1 = 2 follows 2"), std::string::npos);
  EXPECT_NE(parse_number_list("2, -0.5", sigmas).error.find("sigma 1 = -0.5 is below 0"), std::string::npos);
  EXPECT_NE(parse_number_list(" ", sigmas).error.find("no sigmas found"), std::string::npos);
  const auto back = number_list_rule_from_text(number_list_rule_text(sigmas));
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(number_list_rule_text(*back), number_list_rule_text(sigmas));
  EXPECT_EQ(back->min_value, 0.0);
  for (const char* forged : {"integers=2", "min_count=3;max_count=2", "noun=", "colour=1", "min_value=abc",
                             "min_count=99999999999", "integers"})
    EXPECT_FALSE(number_list_rule_from_text(forged).has_value()) << forged;
}

// The rule in a contract: checked on literals at validation (the input named, the node's own
// message), links left to the node; a malformed rule is a contract problem; the scan cache keeps it.
TEST(Validate, NumberListRuleIsCheckedOnLiteralsAndInContracts) {
  NumberListRule seeds;
  seeds.integers = seeds.commas_only = seeds.blank_is_empty = seeds.unique = true;
  seeds.noun = "seed";
  Catalogue cat;
  NodeContract sweep;
  sweep.class_type = "Sweep";
  sweep.inputs = {String("seeds", ""), Int("n", 1)};
  sweep.constraints = {NumberListOf("seeds", seeds, "evaluation seeds")};
  sweep.output_node = true;
  EXPECT_TRUE(check_contract(sweep).empty());
  cat.put({sweep, "test", "/test.so", {}});
  NodeContract text;
  text.class_type = "Text";
  text.outputs = {{"STRING", "STRING"}};
  cat.put({text, "test", "/test.so", {}});
  auto issues = [&](const std::string& inputs) {
    auto g = parse_graph(R"({"t": {"class_type": "Text", "inputs": {}}, "1": {"class_type": "Sweep", "inputs": )" +
                         inputs + "}}");
    EXPECT_TRUE(g.ok()) << g.status().message();
    return nlohmann::json::parse(validate_graph(*g, cat).report.to_json());
  };
  auto j = issues(R"({"seeds": "0, 1, 1"})");
  ASSERT_EQ(j["node_errors"]["1"]["errors"].size(), 1u) << j.dump();
  const auto& e = j["node_errors"]["1"]["errors"][0];
  EXPECT_EQ(e["type"], "custom_validation_failed");
  EXPECT_EQ(e["extra_info"]["input_name"], "seeds");
  EXPECT_EQ(e["details"], "input 'seeds' = \"0, 1, 1\": seed 1 is listed twice (evaluation seeds)");
  EXPECT_TRUE(issues(R"({"seeds": "3, 4"})")["node_errors"].empty());
  EXPECT_TRUE(issues(R"({})")["node_errors"].empty());
  EXPECT_TRUE(issues(R"({"seeds": ["t", 0]})")["node_errors"].empty());
  const NodeContract back = contract_from_json(contract_to_json(sweep));
  ASSERT_EQ(back.constraints.size(), 1u);
  EXPECT_EQ(back.constraints[0].kind, Constraint::Kind::kNumberList);
  EXPECT_EQ(back.constraints[0].value, number_list_rule_text(seeds));
  const std::vector<std::pair<Constraint, std::string>> bad = {
      {NumberListOf("missing", seeds), "unknown input 'missing'"},
      {NumberListOf("n", seeds), "input 'n' of type INT, not STRING"},
      {Constraint{Constraint::Kind::kNumberList, "seeds", "", "integers=maybe", ""}, "'integers=maybe' is malformed"}};
  for (const auto& [rule, message] : bad) {
    sweep.constraints = {rule};
    const auto problems = check_contract(sweep);
    ASSERT_EQ(problems.size(), 1u) << message;
    EXPECT_NE(problems[0].find(message), std::string::npos) << problems[0];
  }
}

}  // namespace
}  // namespace sf::host
