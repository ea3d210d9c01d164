// Execution: demand-driven planning, caching by input signature, node failures, output checks,
// outputs already written staying whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "exec/host_context.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

std::string good_plugin() { return std::string(SF_FIXTURE_DIR) + "/good/fixture_good.so"; }

int64_t ticks_of(const std::map<std::string, Outputs>& outs, const std::string& id) {
  return outs.at(id).at(0).literal().as_int();
}

TEST(Executor, SharedNodeRunsOnceAndIdenticalNodesShareResults) {
  testing::NodeRunner runner({good_plugin()});
  std::map<std::string, Outputs> outs;
  auto r = runner.run_graph(R"({
    "1": {"class_type": "FixtureTick", "inputs": {"salt": 7}},
    "2": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}},
    "3": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}},
    "4": {"class_type": "FixtureTick", "inputs": {"salt": 7}},
    "5": {"class_type": "FixtureSink", "inputs": {"value": ["4", 0]}},
    "6": {"class_type": "FixtureTick", "inputs": {"salt": 8}},
    "7": {"class_type": "FixtureSink", "inputs": {"value": ["6", 0]}}
  })",
                            &outs);
  ASSERT_TRUE(r.ok) << r.error;
  // Node 1 feeds two sinks but runs once; node 4 has the same signature as 1 (cached);
  // node 6 differs by a literal and runs.
  EXPECT_EQ(ticks_of(outs, "4"), ticks_of(outs, "1"));
  EXPECT_EQ(ticks_of(outs, "6"), ticks_of(outs, "1") + 1);
  ASSERT_EQ(r.messages.size(), 4u);
}

TEST(Executor, OnlyWhatOutputsNeedRuns) {
  testing::NodeRunner runner({good_plugin()});
  std::map<std::string, Outputs> outs;
  auto r = runner.run_graph(R"({
    "1": {"class_type": "FixtureConst", "inputs": {"value": 2.0}},
    "2": {"class_type": "FixtureThrow", "inputs": {"value": ["1", 0]}},
    "3": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}
  })",
                            &outs);
  ASSERT_TRUE(r.ok) << r.error;  // the throwing node feeds no output, so it never runs
  EXPECT_EQ(outs.count("2"), 0u);
  EXPECT_EQ(r.messages, std::vector<std::string>{"value 2.0"});
}

TEST(Executor, ThrowingNodeStopsTheRunNamingNodeClassPluginAndMessage) {
  testing::NodeRunner runner({good_plugin()});
  auto r = runner.run_graph(R"({
    "1": {"class_type": "FixtureConst", "inputs": {}},
    "2": {"class_type": "FixtureThrow", "inputs": {"value": ["1", 0], "message": "kaput"}},
    "3": {"class_type": "FixtureSink", "inputs": {"value": ["2", 0]}}
  })");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error_kind, "execution");
  EXPECT_EQ(r.error, "node 2 (FixtureThrow, plugin fixture_good): kaput");
}

TEST(Executor, InputErrorsNameTheInputAndValue) {
  testing::NodeRunner runner({good_plugin()});
  auto r = runner.run_graph(R"({
    "1": {"class_type": "FixtureInputError", "inputs": {"steps": 5}},
    "3": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}
  })");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error, "node 1 (FixtureInputError, plugin fixture_good), input 'steps' = 5: steps must be even");
  EXPECT_EQ(r.error_input, "steps");
}

TEST(Executor, WrongOutputCountAndTypeAreHostErrorsNamingThePlugin) {
  testing::NodeRunner runner({good_plugin()});
  auto count = runner.run_graph(R"({"1": {"class_type": "FixtureWrongCount", "inputs": {}},
                                    "2": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}})");
  ASSERT_FALSE(count.ok);
  EXPECT_EQ(count.error,
            "node 1 (FixtureWrongCount, plugin fixture_good): execute returned 2 output(s), its contract declares 1");
  auto type = runner.run_graph(R"({"1": {"class_type": "FixtureWrongType", "inputs": {}},
                                   "2": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}})");
  ASSERT_FALSE(type.ok);
  EXPECT_EQ(type.error,
            "node 1 (FixtureWrongType, plugin fixture_good): output 0 should be FLOAT, execute returned STRING");
}

TEST(Executor, FilesWrittenBeforeAFailureStayWhole) {
  fs::path out = fs::temp_directory_path() / "sigmaflow-exec-files";
  fs::remove_all(out);
  testing::NodeRunner runner({good_plugin()}, out.string());
  auto r = runner.run_graph(R"({
    "1": {"class_type": "FixtureConst", "inputs": {}},
    "2": {"class_type": "FixtureWrite", "inputs": {"name": "a.txt", "value": ["1", 0]}},
    "3": {"class_type": "FixtureThrow", "inputs": {"value": ["1", 0]}},
    "4": {"class_type": "FixtureSink", "inputs": {"value": ["3", 0]}}
  })");
  ASSERT_FALSE(r.ok);
  ASSERT_TRUE(fs::exists(out / "a.txt"));
  EXPECT_EQ(fs::file_size(out / "a.txt"), 100000u);
  // No temporary files are left behind.
  size_t entries = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(out)) ++entries;
  EXPECT_EQ(entries, 1u);
  fs::remove_all(out);
}

TEST(Executor, UnwritableOutputFolderIsAClearError) {
  testing::NodeRunner runner({good_plugin()}, "/proc/sigmaflow-cannot-write-here");
  auto r = runner.run_graph(R"({"1": {"class_type": "FixtureConst", "inputs": {}},
                               "2": {"class_type": "FixtureWrite", "inputs": {"value": ["1", 0]}}})");
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.find("cannot create folder '/proc/sigmaflow-cannot-write-here'"), std::string::npos) << r.error;
}

TEST(NodeRunnerHarness, RunsOneNodeWithLiteralsDefaultsAndValues) {
  testing::NodeRunner runner({good_plugin()});
  auto r = runner.run("FixtureConst", R"({"value": 3})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_DOUBLE_EQ(r.outputs[0].literal().as_number(), 3.0);
  auto d = runner.run("FixtureConst");
  ASSERT_TRUE(d.ok);
  EXPECT_DOUBLE_EQ(d.outputs[0].literal().as_number(), 1.5);
  auto sum = runner.run("FixtureAdd", "{}", {{"a", Value("FLOAT", Literal(1.0))}, {"b", Value("INT", Literal(2))}});
  ASSERT_TRUE(sum.ok) << sum.error;
  EXPECT_DOUBLE_EQ(sum.outputs[0].literal().as_number(), 3.0);
  auto bad = runner.run("FixtureConst", R"({"value": 1000})");
  ASSERT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_type, "value_bigger_than_max");
  EXPECT_EQ(runner.run("NoSuchNode").error_type, "invalid_prompt");
}

// Relative input paths: the working directory first, then the graph file's folder; when neither
// holds the file, the error names both places.
TEST(ResolvePath, WorkingDirectoryThenGraphFolderThenBothNamed) {
  fs::path dir = fs::temp_directory_path() / "sigmaflow-resolve";
  fs::remove_all(dir);
  fs::create_directories(dir / "assets");
  std::ofstream(dir / "assets" / "s.json") << "[1, 0]";
  auto beside = host::resolve_input_path("assets/s.json", dir.string());
  ASSERT_TRUE(beside.ok()) << beside.status().message();
  EXPECT_EQ(fs::path(*beside), dir / "assets" / "s.json");
  auto absolute = host::resolve_input_path((dir / "assets" / "s.json").string(), "");
  ASSERT_TRUE(absolute.ok());
  auto missing = host::resolve_input_path("assets/none.json", dir.string());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find("(the working directory)"), std::string::npos);
  EXPECT_NE(missing.status().message().find(dir.string() + " (the graph file's folder)"), std::string::npos)
      << missing.status().message();
  // Through a node: the error names the input and both folders.
  testing::NodeRunner runner({SF_PLUGIN_DIR});
  auto r = runner.run_graph(
      R"({"1": {"class_type": "LoadSigmas", "inputs": {"path": "assets/none.json"}},
          "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "s"}}})",
      nullptr, dir.string());
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "path");
  EXPECT_NE(r.error.find("the graph file's folder"), std::string::npos) << r.error;
  auto ok = runner.run_graph(
      R"({"1": {"class_type": "LoadSigmas", "inputs": {"path": "assets/s.json"}},
          "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "s"}}})",
      nullptr, dir.string());
  EXPECT_TRUE(ok.ok) << ok.error;
  fs::remove_all(dir);
}

// The server's rule for file inputs: only regular files inside the input or models folder.
TEST(ResolvePath, ConfinedToTheInputAndModelsFolders) {
  fs::path dir = fs::temp_directory_path() / "sigmaflow-confined";
  fs::remove_all(dir);
  fs::create_directories(dir / "input" / "sub");
  fs::create_directories(dir / "models");
  fs::create_directories(dir / "outside");
  std::ofstream(dir / "input" / "sub" / "a.csv") << "1\n0\n";
  std::ofstream(dir / "models" / "m.pt") << "x";
  std::ofstream(dir / "outside" / "secret.csv") << "secret\n";
  fs::create_symlink(dir / "outside", dir / "input" / "out_link");
  fs::create_symlink(dir / "input" / "sub" / "a.csv", dir / "input" / "inner_link.csv");
  const std::vector<std::string> roots = {(dir / "input").string(), (dir / "models").string()};
  auto ok = host::resolve_confined_path("sub/a.csv", roots);
  ASSERT_TRUE(ok.ok()) << ok.status().message();
  EXPECT_EQ(fs::path(*ok), fs::canonical(dir / "input" / "sub" / "a.csv"));
  auto model = host::resolve_confined_path("m.pt", roots);  // the second folder
  ASSERT_TRUE(model.ok());
  EXPECT_EQ(fs::path(*model), fs::canonical(dir / "models" / "m.pt"));
  EXPECT_TRUE(host::resolve_confined_path("inner_link.csv", roots).ok());  // a link that stays inside
  struct Case {
    std::string path, says;
  };
  for (const Case& c : std::vector<Case>{{(dir / "outside" / "secret.csv").string(), "not an absolute one"},
                                         {"/etc/passwd", "not an absolute one"},
                                         {"/no/such/file", "not an absolute one"},  // same answer: no oracle
                                         {"../outside/secret.csv", "'..'"},
                                         {"sub/../../outside/secret.csv", "'..'"},
                                         {"out_link/secret.csv", "leads outside the folder"},
                                         {"sub", "not a regular file"},
                                         {"a\nb.csv", "control characters"},
                                         {"", "empty"}}) {
    auto r = host::resolve_confined_path(c.path, roots);
    ASSERT_FALSE(r.ok()) << c.path;
    EXPECT_NE(r.status().message().find(c.says), std::string::npos) << c.path << ": " << r.status().message();
    EXPECT_EQ(r.status().message().find("secret\n"), std::string::npos);
  }
  auto missing = host::resolve_confined_path("none.csv", roots);
  EXPECT_EQ(missing.status().code(), Code::kNotFound);
  EXPECT_NE(missing.status().message().find(roots[0]), std::string::npos) << missing.status().message();
  EXPECT_NE(missing.status().message().find(roots[1]), std::string::npos);
  fs::remove_all(dir);
}

// An output prefix whose folder is a symlink out of the output folder is refused, nothing written.
TEST(Executor, OutputPrefixesDoNotFollowLinksOutOfTheOutputFolder) {
  fs::path out = fs::temp_directory_path() / "sigmaflow-exec-links";
  fs::path elsewhere = fs::temp_directory_path() / "sigmaflow-exec-links-elsewhere";
  fs::remove_all(out);
  fs::remove_all(elsewhere);
  fs::create_directories(out);
  fs::create_directories(elsewhere);
  fs::create_symlink(elsewhere, out / "escape");
  testing::NodeRunner runner({SF_PLUGIN_DIR}, out.string());
  auto r = runner.run_graph(R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "escape/s"}}})");
  ASSERT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "filename_prefix") << r.error;
  EXPECT_NE(r.error.find("leads outside the output folder"), std::string::npos) << r.error;
  EXPECT_TRUE(fs::is_empty(elsewhere));
  auto inside = runner.run_graph(R"({"1": {"class_type": "KarrasScheduler", "inputs": {"steps": 3}},
      "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0], "filename_prefix": "sub/s"}}})");
  EXPECT_TRUE(inside.ok) << inside.error;
  fs::remove_all(out);
  fs::remove_all(elsewhere);
}

}  // namespace
}  // namespace sf
