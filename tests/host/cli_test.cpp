// The sigmaflow executable: subcommands, exit codes, JSON output.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace {

namespace fs = std::filesystem;

struct Cmd {
  int rc;
  std::string out;
};

// Runs the CLI with the fixture plugins visible; captures stdout (and stderr when asked).
Cmd sigmaflow(const std::string& args, bool merge_stderr = true, const std::string& env = "") {
  std::string cmd = env + " SIGMAFLOW_CACHE_DIR=" + fs::temp_directory_path().string() +
                    "/sigmaflow-cli-cache SIGMAFLOW_PLUGIN_PATH=" + SF_FIXTURE_DIR + "/good " + SF_SIGMAFLOW_EXE + " " +
                    args + (merge_stderr ? " 2>&1" : " 2>/dev/null");
  Cmd c{0, ""};
  FILE* p = popen(cmd.c_str(), "r");
  std::array<char, 4096> buf{};
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) c.out.append(buf.data(), n);
  int status = pclose(p);
  c.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return c;
}

std::string write_graph(const std::string& name, const std::string& text) {
  fs::path dir = fs::temp_directory_path() / "sigmaflow-cli-test";
  fs::create_directories(dir);
  std::ofstream((dir / name).string()) << text;
  return (dir / name).string();
}

const char* kGraph = R"({"1": {"class_type": "FixtureConst", "inputs": {"value": 4}},
                         "2": {"class_type": "FixtureWrite", "inputs": {"name": "w.txt", "value": ["1", 0]}}})";

TEST(Cli, VersionNamesTorchAndPluginFolders) {
  auto c = sigmaflow("--version");
  EXPECT_EQ(c.rc, 0);
  EXPECT_NE(c.out.find("LibTorch"), std::string::npos);
  EXPECT_NE(c.out.find("CUDA available"), std::string::npos);
  EXPECT_NE(c.out.find(std::string(SF_FIXTURE_DIR) + "/good"), std::string::npos) << c.out;
}

// Under torchrun (LOCAL_WORLD_SIZE processes on this machine) the default thread count is the
// cores divided among them; SIGMAFLOW_THREADS still decides when set.
TEST(Cli, ThreadsAreSharedAmongTheLocalRanks) {
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // `env -u` first: the caller's own settings must not decide the defaults tested here.
  auto threads = [](const std::string& env) {
    Cmd c = sigmaflow("--version", true, "env -u SIGMAFLOW_THREADS -u LOCAL_WORLD_SIZE " + env);
    const auto at = c.out.find("intra-op threads: ");
    return at == std::string::npos ? -1 : std::stoi(c.out.substr(at + 18));
  };
  EXPECT_EQ(threads(""), cores);
  EXPECT_EQ(threads("LOCAL_WORLD_SIZE=" + std::to_string(cores)), 1);
  EXPECT_EQ(threads("LOCAL_WORLD_SIZE=" + std::to_string(2 * cores)), 1);
  EXPECT_EQ(threads("LOCAL_WORLD_SIZE=" + std::to_string(cores) + " SIGMAFLOW_THREADS=" + std::to_string(cores)),
            cores);
  EXPECT_EQ(threads("LOCAL_WORLD_SIZE=1"), cores);
  EXPECT_EQ(threads("LOCAL_WORLD_SIZE=junk"), cores);
}

TEST(Cli, RunWritesOutputsAndSaysWhere) {
  fs::path out = fs::temp_directory_path() / "sigmaflow-cli-out";
  fs::remove_all(out);
  auto c = sigmaflow("run " + write_graph("ok.json", kGraph) + " --out " + out.string() + " --device cpu");
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_TRUE(fs::exists(out / "w.txt"));
  EXPECT_NE(c.out.find("node 1 FixtureConst done"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find(out.string()), std::string::npos);
}

TEST(Cli, RunJsonIsMachineReadable) {
  fs::path out = fs::temp_directory_path() / "sigmaflow-cli-json";
  auto c = sigmaflow("run " + write_graph("ok.json", kGraph) + " --json --out " + out.string(), false);
  ASSERT_EQ(c.rc, 0) << c.out;
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["status"], "ok");
  EXPECT_EQ(j["files"].size(), 1u);
  EXPECT_EQ(j["nodes"].size(), 2u);
}

TEST(Cli, ExitCodesDistinguishUsageValidationRuntime) {
  EXPECT_EQ(sigmaflow("run").rc, 2);
  EXPECT_EQ(sigmaflow("frobnicate").rc, 2);
  EXPECT_EQ(sigmaflow("run " + write_graph("ok.json", kGraph) + " --device cuda:7").rc, 2);
  auto bad =
      sigmaflow("run " + write_graph("bad.json", R"({"1": {"class_type": "FixtureConst", "inputs": {"value": 500}},
     "2": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}})"));
  EXPECT_EQ(bad.rc, 3);
  EXPECT_NE(bad.out.find("node 1 (FixtureConst): value_bigger_than_max"), std::string::npos) << bad.out;
  auto boom = sigmaflow("run " + write_graph("boom.json", R"({"1": {"class_type": "FixtureConst", "inputs": {}},
     "2": {"class_type": "FixtureThrow", "inputs": {"value": ["1", 0]}},
     "3": {"class_type": "FixtureSink", "inputs": {"value": ["2", 0]}}})") +
                        " --out " + (fs::temp_directory_path() / "sigmaflow-cli-boom").string());
  EXPECT_EQ(boom.rc, 4);
  EXPECT_NE(boom.out.find("error: node 2 (FixtureThrow, plugin fixture_good): boom"), std::string::npos) << boom.out;
  auto malformed = sigmaflow("validate " + write_graph("m.json", "{\"1\": }"));
  EXPECT_EQ(malformed.rc, 3);
  EXPECT_NE(malformed.out.find("line 1, column 7"), std::string::npos) << malformed.out;
}

TEST(Cli, ValidateJsonGivesNodeErrors) {
  auto c = sigmaflow("validate --json " + write_graph("v.json", R"({"1": {"class_type": "Missing", "inputs": {}},
     "2": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}})"),
                     false);
  EXPECT_EQ(c.rc, 3);
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["node_errors"]["1"]["errors"][0]["type"], "invalid_prompt");
}

// The front users type links no LibTorch (validate and nodes run in it alone); the executor it
// execs for the rest does.
TEST(Cli, FrontLinksNoLibTorchAndTheExecutorDoes) {
  const fs::path front = SF_SIGMAFLOW_EXE;
  const fs::path executor = front.parent_path().parent_path() / "libexec" / "sigmaflow" / "sigmaflow-exec";
  auto libraries = [](const fs::path& binary) {
    Cmd c{0, ""};
    FILE* p = popen(("ldd " + binary.string() + " 2>&1").c_str(), "r");
    std::array<char, 4096> buf{};
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) c.out.append(buf.data(), n);
    c.rc = pclose(p);
    return c.out;
  };
  const std::string front_libs = libraries(front), executor_libs = libraries(executor);
  ASSERT_NE(front_libs.find("libc.so"), std::string::npos) << front_libs;
  for (const char* torch_lib : {"libtorch", "libc10", "libsigmaflow_plugin_api"}) {
    EXPECT_EQ(front_libs.find(torch_lib), std::string::npos) << torch_lib << " in\n" << front_libs;
    EXPECT_NE(executor_libs.find(torch_lib), std::string::npos) << torch_lib << " not in\n" << executor_libs;
  }
}

// validate and nodes finish in the front: they work with no executor at all; run needs it and
// says which file it could not start.
TEST(Cli, ValidateAndNodesRunWithoutTheExecutor) {
  const std::string no_executor = "SIGMAFLOW_EXECUTOR=/nonexistent/sigmaflow-exec";
  auto v = sigmaflow("validate " + write_graph("front.json", kGraph), true, no_executor);
  EXPECT_EQ(v.rc, 0) << v.out;
  EXPECT_NE(v.out.find("valid; 2 node(s) to run for 1 output node(s)"), std::string::npos) << v.out;
  auto bad = sigmaflow("validate " + write_graph("front_bad.json", R"({"1": {"class_type": "Missing", "inputs": {}},
     "2": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}})"),
                       true, no_executor);
  EXPECT_EQ(bad.rc, 3) << bad.out;
  EXPECT_NE(bad.out.find("Missing"), std::string::npos) << bad.out;
  auto n = sigmaflow("nodes", true, no_executor);
  EXPECT_EQ(n.rc, 0) << n.out;
  EXPECT_NE(n.out.find("FixtureConst"), std::string::npos);
  auto r = sigmaflow("run " + write_graph("front.json", kGraph), true, no_executor);
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("cannot start sigmaflow's executor '/nonexistent/sigmaflow-exec'"), std::string::npos) << r.out;
}

// A node that checks its literals with its own code (the fixture's check_inputs hook): the front
// hands validate to the executor, which loads the plugin and reports the node's verdict.
TEST(Cli, ValidateHandsNodesWithTheirOwnChecksToTheExecutor) {
  const std::string graph = write_graph("checked.json", R"({"1": {"class_type": "FixtureChecked",
      "inputs": {"word": "bad"}}, "2": {"class_type": "FixtureSink", "inputs": {"value": ["1", 0]}}})");
  auto v = sigmaflow("validate " + graph);
  EXPECT_EQ(v.rc, 3) << v.out;
  EXPECT_NE(v.out.find("node 1 (FixtureChecked): custom_validation_failed"), std::string::npos) << v.out;
  EXPECT_NE(v.out.find("input 'word' = \"bad\": the fixture refuses the word 'bad'"), std::string::npos) << v.out;
  auto without = sigmaflow("validate " + graph, true, "SIGMAFLOW_EXECUTOR=/nonexistent/sigmaflow-exec");
  EXPECT_EQ(without.rc, 1) << without.out;
  EXPECT_NE(without.out.find("cannot start sigmaflow's executor"), std::string::npos) << without.out;
}

// Number lists typed into strings (ManualSigmas, ScheduleSweep's seeds) are contract rules (API
// 3.2): the front checks them with the nodes' own grammar, no executor needed.
TEST(Cli, NumberListsAreCheckedInTheFront) {
  const std::string no_executor = "SIGMAFLOW_EXECUTOR=/nonexistent/sigmaflow-exec";
  auto manual = [&](const std::string& text) {
    return sigmaflow("validate " + write_graph("manual.json", R"({"1": {"class_type": "ManualSigmas",
      "inputs": {"sigmas": ")" + text + R"("}}, "2": {"class_type": "SaveSigmas", "inputs": {"sigmas": ["1", 0]}}})"),
                     true, no_executor);
  };
  auto good = manual("14.6, 7 3.5; [1] 0");
  EXPECT_EQ(good.rc, 0) << good.out;
  const std::pair<const char*, const char*> bad[] = {{"3, x, 0", "'x' is not a number"},
                                                     {"0x10, 0", "'0x10' is not a number"},
                                                     {"14.6", "at least 2 sigmas are needed, got 1"},
                                                     {"", "no sigmas found"},
                                                     {"3, 3, 0", "strictly descending: sigma 1 = 3 follows 3"},
                                                     {"3, -1", "sigma 1 = -1 is below 0"},
                                                     {"1e999, 0", "'1e999' is not a number"}};
  for (const auto& [text, message] : bad) {
    auto r = manual(text);
    EXPECT_EQ(r.rc, 3) << text << "\n" << r.out;
    EXPECT_NE(r.out.find("node 1 (ManualSigmas): custom_validation_failed"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(message), std::string::npos) << text << "\n" << r.out;
  }
}

TEST(Cli, NodesJsonIsObjectInfo) {
  auto c = sigmaflow("nodes --json", false);
  ASSERT_EQ(c.rc, 0);
  auto j = nlohmann::json::parse(c.out);
  EXPECT_EQ(j["FixtureConst"]["output"][0], "FLOAT");
  EXPECT_EQ(j["FixtureSink"]["output_node"], true);
}

TEST(Cli, PluginCheckPrintsRecordAndFailsOnBadPlugins) {
  auto good = sigmaflow(std::string("plugin check ") + SF_FIXTURE_DIR + "/good/fixture_good.so");
  EXPECT_EQ(good.rc, 0) << good.out;
  EXPECT_NE(good.out.find("plugin fixture_good 1.2.3"), std::string::npos) << good.out;
  EXPECT_NE(good.out.find("self-test: passed"), std::string::npos);
  auto bad = sigmaflow(std::string("plugin check ") + SF_FIXTURE_DIR + "/bad_contract/fixture_bad_contract.so");
  EXPECT_EQ(bad.rc, 1) << bad.out;
  EXPECT_NE(bad.out.find("duplicate input name"), std::string::npos);
  auto crash = sigmaflow(std::string("plugin check ") + SF_FIXTURE_DIR + "/crashing_init/fixture_crashing_init.so");
  EXPECT_EQ(crash.rc, 1) << crash.out;
  EXPECT_NE(crash.out.find("crashed the checker"), std::string::npos) << crash.out;
  auto major = sigmaflow(std::string("plugin check ") + SF_FIXTURE_DIR + "/wrong_major/fixture_wrong_major.so");
  EXPECT_EQ(major.rc, 1);
  EXPECT_NE(major.out.find("major version 99"), std::string::npos) << major.out;
}

TEST(Cli, BrokenPluginInPathIsReportedButGraphsStillRun) {
  fs::path out = fs::temp_directory_path() / "sigmaflow-cli-broken";
  std::string cmd = "run " + write_graph("ok.json", kGraph) + " --out " + out.string() + " --plugins " +
                    SF_FIXTURE_DIR + "/crashing_init";
  auto c = sigmaflow(cmd);
  EXPECT_EQ(c.rc, 0) << c.out;
  EXPECT_NE(c.out.find("warning: plugin"), std::string::npos) << c.out;
  EXPECT_NE(c.out.find("crashed while loading"), std::string::npos) << c.out;
}

}  // namespace
