// Plugin scanning, the build gate, load failures, name resolution and lazy loading, with fixture
// plugins built by the test tree.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

#include "plugins/build_gate.h"
#include "plugins/plugin_host.h"
#include "plugins/scanner.h"
#include "registry/contract_check.h"
#include "sigmaflow/files.h"

namespace sf::host {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(SF_FIXTURE_DIR) + "/" + name; }
std::string fixture_so(const std::string& name) { return fixture(name) + "/fixture_" + name + ".so"; }

std::string problems_text(const PluginHost& h) {
  std::string s;
  for (const auto& p : h.problems()) s += p.path + ": " + p.message + "\n";
  return s;
}

ScanOptions in_process(std::vector<std::string> dirs = {}) {
  ScanOptions o;
  o.dirs = std::move(dirs);
  o.isolate = false;
  return o;
}

ScanOptions isolated(std::vector<std::string> dirs = {}, std::string cache = {}) {
  ScanOptions o;
  o.dirs = std::move(dirs);
  o.cache_dir = std::move(cache);
  o.timeout_seconds = 5;
  return o;
}

Status add(PluginHost& h, const std::string& name, const ScanOptions& o) { return h.add_file(fixture_so(name), o); }

TEST(PluginHost, LoadsGoodPluginWithRecordNodesSchedulesSamplers) {
  PluginHost h;
  ASSERT_TRUE(add(h, "good", in_process()).ok()) << problems_text(h);
  ASSERT_EQ(h.plugins().size(), 1u);
  EXPECT_EQ(h.plugins()[0].name, "fixture_good");
  EXPECT_EQ(h.plugins()[0].version, "1.2.3");
  EXPECT_NE(h.node("FixtureConst"), nullptr);
  EXPECT_EQ(h.catalogue().find("FixtureConst")->plugin, "fixture_good");
  EXPECT_NE(h.schedule("fixture_linear"), nullptr);
  EXPECT_NE(h.sampler("fixture_identity"), nullptr);
  EXPECT_EQ(h.catalogue().schedule_names(), std::vector<std::string>{"fixture_linear"});
}

TEST(PluginHost, RefusesWrongApiMajorFromTheElfRecordNamingBothValues) {
  for (const auto& o : {in_process(), isolated()}) {
    PluginHost h;
    Status st = add(h, "wrong_major", o);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("major version 99"), std::string::npos) << st.message();
    EXPECT_NE(st.message().find("host's " + std::to_string(SIGMAFLOW_PLUGIN_API_MAJOR)), std::string::npos);
    EXPECT_TRUE(h.plugins().empty());
  }
}

TEST(PluginHost, RefusesOtherTorchVersionFromTheEntryRecord) {
  PluginHost h;
  Status st = add(h, "wrong_torch", in_process());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("LibTorch 0.4.1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(std::string("LibTorch ") + host_build_record().torch_version), std::string::npos);
}

TEST(PluginHost, AnotherCxxAbiIsReportedAsSuchNotAsAMangledSymbol) {
  for (const auto& o : {in_process(), isolated()}) {
    PluginHost h;
    Status st = add(h, "abi0", o);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("_GLIBCXX_USE_CXX11_ABI=0"), std::string::npos) << st.message();
    EXPECT_EQ(st.message().find("undefined symbol"), std::string::npos) << st.message();
  }
}

TEST(PluginHost, ReportsMissingEntrySymbol) {
  PluginHost h;
  Status st = add(h, "no_entry", in_process());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("sigmaflow_plugin_entry"), std::string::npos) << st.message();
}

TEST(PluginHost, ReportsUnresolvedSymbol) {
  PluginHost h;
  Status st = add(h, "unresolved", in_process());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("undefined symbol"), std::string::npos) << st.message();
}

TEST(PluginHost, InitThatThrowsIsAFailedLoad) {
  PluginHost h;
  Status st = add(h, "throwing_init", in_process());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("fixture init failure"), std::string::npos) << st.message();
  EXPECT_TRUE(h.plugins().empty());
}

TEST(PluginHost, InitThatCrashesIsIsolatedInAChildProcess) {
  PluginHost h;
  Status st = add(h, "crashing_init", isolated());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("crashed while loading (signal 11"), std::string::npos) << st.message();
}

// Isolated scans exec the helper (a fresh process image, never a fork of this process, which has
// LibTorch loaded): a stand-in helper named by SIGMAFLOW_PLUGIN_SCANNER records how it was
// started; a helper that cannot start is a refusal saying so.
TEST(PluginHost, IsolatedScansExecTheScannerHelper) {
  // In the build tree, not the temp folder: that may be mounted noexec.
  const fs::path dir = fs::path(SF_FIXTURE_DIR).parent_path() / ("scanner-helper-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path helper = dir / "helper.sh", args = dir / "args.txt";
  {
    std::ofstream f(helper);
    f << "#!/bin/sh\necho \"$2\" > '" << args.string() << "'\nexit 0\n";
  }
  fs::permissions(helper, fs::perms::owner_all);
  ::setenv("SIGMAFLOW_PLUGIN_SCANNER", helper.c_str(), 1);
  ScanRecord r = scan_in_child(fixture_so("good"), 5);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("before completing the load"), std::string::npos) << r.message;
  std::ifstream recorded(args);
  std::string plugin;
  std::getline(recorded, plugin);
  EXPECT_EQ(plugin, fixture_so("good"));
  ::setenv("SIGMAFLOW_PLUGIN_SCANNER", (dir / "missing").c_str(), 1);
  r = scan_in_child(fixture_so("good"), 5);
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("the plugin scanner helper '" + (dir / "missing").string() + "' did not start"),
            std::string::npos)
      << r.message;
  ::unsetenv("SIGMAFLOW_PLUGIN_SCANNER");
  fs::remove_all(dir);
  r = scan_in_child(fixture_so("good"), 30);  // the real helper, found beside this build
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_FALSE(r.nodes.empty());
  EXPECT_NE(scanner_helper_path().find("libexec/sigmaflow/sigmaflow-plugin-scanner"), std::string::npos);
}

// One helper scans a batch; a plugin that crashes or exits takes only itself down: it is refused
// with its own verdict and a new helper goes on with the rest.
TEST(PluginHost, ABatchScanRefusesOnlyThePluginsThatFail) {
  const std::vector<std::string> paths = {fixture_so("good"), fixture_so("crashing_init"), fixture_so("exiting"),
                                          fixture_so("step_forms")};
  std::vector<ScanRecord> r = scan_in_helper(paths, 30);
  ASSERT_EQ(r.size(), 4u);
  for (size_t i = 0; i < r.size(); ++i) EXPECT_EQ(r[i].path, paths[i]);
  EXPECT_TRUE(r[0].ok) << r[0].message;
  EXPECT_FALSE(r[0].nodes.empty());
  EXPECT_FALSE(r[1].ok);
  EXPECT_NE(r[1].message.find("crashed while loading (signal 11"), std::string::npos) << r[1].message;
  EXPECT_FALSE(r[2].ok);
  EXPECT_NE(r[2].message.find("exited with status 0 while loading"), std::string::npos) << r[2].message;
  EXPECT_TRUE(r[3].ok) << r[3].message;
  EXPECT_EQ(r[3].samplers.size(), 3u);
}

TEST(PluginHost, ExitInAConstructorIsARefusalNotASuccess) {
  PluginHost h;
  Status st = add(h, "exiting", isolated());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("exited with status 0 while loading"), std::string::npos) << st.message();
}

TEST(PluginHost, HangingConstructorIsKilledAfterTheTimeout) {
  PluginHost h;
  ScanOptions o = isolated();
  o.timeout_seconds = 1;
  auto t0 = std::chrono::steady_clock::now();
  Status st = add(h, "hanging", o);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("hung for 1 s while loading (killed)"), std::string::npos) << st.message();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(10));
}

TEST(PluginHost, DuplicateClassTypeIsRefusedNamingBothPluginsAndKeepsTheFirst) {
  PluginHost h;
  h.scan(in_process({fixture("good"), fixture("duplicate")}));
  ASSERT_EQ(h.problems().size(), 1u) << problems_text(h);
  const std::string& m = h.problems()[0].message;
  EXPECT_NE(m.find(fixture_so("good")), std::string::npos) << m;
  EXPECT_NE(m.find(fixture_so("duplicate")), std::string::npos) << m;
  EXPECT_NE(m.find("overrides"), std::string::npos) << m;
  EXPECT_EQ(h.catalogue().find("FixtureConst")->plugin, "fixture_good");
  EXPECT_NE(h.node("FixtureOnlyInDuplicate"), nullptr);
}

TEST(PluginHost, StockNamesCannotBeReplacedSilentlyWhateverTheFolderOrder) {
  for (bool clash_first : {true, false}) {
    PluginHost h;
    h.scan(clash_first ? in_process({fixture("clash"), SF_PLUGIN_DIR}) : in_process({SF_PLUGIN_DIR, fixture("clash")}));
    EXPECT_EQ(h.catalogue().find("KarrasScheduler")->plugin, "schedulers");
    EXPECT_EQ(h.catalogue().find_schedule("karras")->plugin, "schedulers");
    EXPECT_EQ(h.catalogue().find_sampler("euler")->plugin, "sampling");
    EXPECT_EQ(h.catalogue().find("ClashOwnNode")->plugin, "fixture_clash");
    std::string all = problems_text(h);
    for (const char* what : {"class_type 'KarrasScheduler'", "schedule name 'karras'", "sampler name 'euler'"})
      EXPECT_NE(all.find(what), std::string::npos) << all;
    EXPECT_NE(all.find("plugin 'schedulers'"), std::string::npos) << all;
    EXPECT_NE(all.find("plugin 'fixture_clash'"), std::string::npos) << all;
    EXPECT_TRUE(h.override_notes().empty());
  }
}

TEST(PluginHost, DeclaredOverridesReplaceAndAreReported) {
  PluginHost h;
  h.scan(in_process({fixture("override"), SF_PLUGIN_DIR}));
  EXPECT_TRUE(h.problems().empty()) << problems_text(h);
  EXPECT_EQ(h.catalogue().find("KarrasScheduler")->plugin, "fixture_override");
  EXPECT_EQ(h.catalogue().find_schedule("karras")->plugin, "fixture_override");
  ASSERT_EQ(h.override_notes().size(), 2u);
  EXPECT_NE(h.override_notes()[0].find("KarrasScheduler is provided by plugin 'fixture_override'"), std::string::npos)
      << h.override_notes()[0];
  EXPECT_NE(h.override_notes()[0].find("overriding plugin 'schedulers'"), std::string::npos);
}

TEST(PluginHost, BadContractsAreRefusedOneByOne) {
  PluginHost h;
  ASSERT_TRUE(add(h, "bad_contract", in_process()).ok());
  EXPECT_NE(h.node("SoundNode"), nullptr);
  EXPECT_EQ(h.node("BadDuplicateInputs"), nullptr);
  EXPECT_EQ(h.node("BadDefaultRange"), nullptr);
  EXPECT_EQ(h.node("BadTypeString"), nullptr);
  std::string all = problems_text(h);
  EXPECT_NE(all.find("duplicate input name 'x'"), std::string::npos) << all;
  EXPECT_NE(all.find("default 0 is outside [min, max]"), std::string::npos) << all;
  EXPECT_NE(all.find("invalid type string 'float'"), std::string::npos) << all;
}

TEST(PluginHost, ScanSkipsFailuresAndKeepsGoing) {
  PluginHost h;
  h.scan(isolated({fixture("wrong_major"), fixture("crashing_init"), fixture("good"), "/nonexistent/folder"}));
  EXPECT_NE(h.node("FixtureConst"), nullptr);
  EXPECT_EQ(h.problems().size(), 2u) << problems_text(h);
  EXPECT_EQ(h.scanned_dirs().size(), 3u);
}

TEST(PluginHost, ScanCacheHoldsContractsSoNothingLoadsUntilUsed) {
  std::string cache = (fs::temp_directory_path() / "sigmaflow-scan-cache-test").string();
  fs::remove_all(cache);
  {
    PluginHost h;
    h.scan(isolated({SF_PLUGIN_DIR, fixture("crashing_init")}, cache));
    EXPECT_EQ(h.loaded_count(), 0u);  // scanned in children only
  }
  ASSERT_TRUE(fs::exists(cache + "/plugin-scan-v2.json"));
  PluginHost h;  // from the cache: contracts, names and verdicts without any child or load
  h.scan(isolated({SF_PLUGIN_DIR, fixture("crashing_init")}, cache));
  EXPECT_EQ(h.loaded_count(), 0u);
  ASSERT_NE(h.catalogue().find("KSampler"), nullptr);
  EXPECT_EQ(h.catalogue().sampler_names().size(), 15u);  // the stock table: 14 of ComfyUI's samplers and dpmpp_3m
  EXPECT_NE(problems_text(h).find("signal 11"), std::string::npos);
  EXPECT_NE(h.node("KarrasScheduler"), nullptr);  // loads the schedulers plugin, and only it
  EXPECT_EQ(h.loaded_count(), 1u);
  // Entries with fields of the wrong type are dropped (rescanned), not a type_error for every command.
  {
    std::ifstream in(cache + "/plugin-scan-v2.json");
    auto j = nlohmann::json::parse(in);
    int n = 0;
    for (auto& [path, entry] : j["plugins"].items()) {
      if (n % 3 == 0) entry["size"] = "big";
      if (n % 3 == 1) entry["mtime_ns"] = nlohmann::json::array();
      if (n % 3 == 2) entry["scan"] = 7;
      ++n;
    }
    std::ofstream(cache + "/plugin-scan-v2.json") << j.dump();
  }
  PluginHost typed;
  typed.scan(isolated({SF_PLUGIN_DIR}, cache));
  EXPECT_NE(typed.catalogue().find("KSampler"), nullptr);
  EXPECT_TRUE(typed.problems().empty()) << problems_text(typed);
  for (const char* bad : {R"({"host": 5, "plugins": {}})", R"({"host": "x", "plugins": []})", "[]", "{not json"}) {
    { std::ofstream(cache + "/plugin-scan-v2.json") << bad; }
    PluginHost again;  // a corrupted cache is ignored, not trusted
    again.scan(isolated({fixture("good")}, cache));
    EXPECT_NE(again.node("FixtureConst"), nullptr) << bad;
  }
  fs::remove_all(cache);
}

// Without HOME the cache is the account's home folder's or a private one, never a shared folder.
TEST(PluginHost, TheCacheFolderIsNeverShared) {
  const char* keep[] = {"SIGMAFLOW_CACHE_DIR", "XDG_CACHE_HOME", "HOME"};
  std::vector<std::optional<std::string>> saved;
  for (const char* k : keep) {
    const char* v = std::getenv(k);
    saved.push_back(v ? std::optional<std::string>(v) : std::nullopt);
    unsetenv(k);
  }
  const std::string dir = user_cache_dir();
  for (size_t i = 0; i < saved.size(); ++i)
    if (saved[i]) setenv(keep[i], saved[i]->c_str(), 1);
  EXPECT_NE(dir, "/tmp/sigmaflow-cache");
  if (dir.rfind("/tmp/", 0) == 0) {
    struct stat st {};
    ASSERT_EQ(lstat(dir.c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, getuid());
    EXPECT_EQ(st.st_mode & 077, 0u);
  } else {
    EXPECT_NE(dir.find("/.cache/sigmaflow"), std::string::npos) << dir;
  }
}

TEST(PluginHost, ContractChecks) {
  NodeContract c;
  c.class_type = "X";
  c.inputs = {Combo("mode", {"a", "b"}, std::string("c")), Float("f", 5.0, 0.0, 1.0)};
  c.outputs = {{"MODEL,SIGMAS", "m"}, {"bad type", "n"}};
  auto problems = check_contract(c);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("not one of its choices"), std::string::npos);
  EXPECT_NE(problems[1].find("outside [min, max]"), std::string::npos);
  EXPECT_NE(problems[2].find("output 1"), std::string::npos);
  EXPECT_TRUE(valid_type_string("MODEL,SIGMAS"));
  EXPECT_FALSE(valid_type_string("MODEL,"));
}

TEST(PluginHost, UnknownPortTypesGetTheNearestKnownOne) {
  PluginHost h;
  h.scan(in_process({SF_PLUGIN_DIR}));
  NodeContract c;
  c.class_type = "Typo";
  c.inputs = {Port("sigmas", "SIGMSA"), Float("x", 1.0)};
  c.outputs = {{"FLAOT", "y"}, {"SIGMAS", "z"}};
  auto unknown = unknown_port_types(c, h.catalogue());
  ASSERT_EQ(unknown.size(), 2u);
  EXPECT_EQ(unknown[0], "SIGMSA (did you mean SIGMAS?)");
  EXPECT_EQ(unknown[1], "FLAOT (did you mean FLOAT?)");
}

TEST(PluginHost, StockPluginsLoadCleanly) {
  PluginHost h;
  h.scan(isolated({SF_PLUGIN_DIR}));
  EXPECT_TRUE(h.problems().empty()) << problems_text(h);
  for (const char* ct : {"BasicScheduler", "KarrasScheduler", "KSampler", "SamplerCustom", "GaussianMixtureModel"})
    EXPECT_NE(h.node(ct), nullptr) << ct;
  EXPECT_GE(h.catalogue().schedule_names().size(), 9u);
  EXPECT_EQ(h.catalogue().sampler_names().size(), 15u);
  EXPECT_EQ(h.catalogue().sampler_names("stochastic").size(), 7u);
  EXPECT_EQ(h.catalogue().sampler_names("multistep").size(),
            7u);  // lms, dpmpp_2m, dpmpp_2m_sde, dpmpp_3m_sde, dpmpp_3m, ipndm, ipndm_v
}

}  // namespace
}  // namespace sf::host
