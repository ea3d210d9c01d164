// Plugin scanning, the build gate and load failures, with fixture plugins built by the test tree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "plugins/plugin_host.h"

namespace sf::host {
namespace {

std::string fixture(const std::string& name) { return std::string(SF_FIXTURE_DIR) + "/" + name; }
std::string fixture_so(const std::string& name) { return fixture(name) + "/fixture_" + name + ".so"; }

std::string problems_text(const PluginHost& h) {
  std::string s;
  for (const auto& p : h.problems()) s += p.path + ": " + p.message + "\n";
  return s;
}

TEST(PluginHost, LoadsGoodPluginWithRecordNodesSchedulesSamplers) {
  PluginHost h;
  ASSERT_TRUE(h.load(fixture_so("good"), false).ok());
  ASSERT_EQ(h.plugins().size(), 1u);
  EXPECT_EQ(h.plugins()[0].name, "fixture_good");
  EXPECT_EQ(h.plugins()[0].version, "1.2.3");
  EXPECT_NE(h.node("FixtureConst"), nullptr);
  EXPECT_EQ(h.catalogue().find("FixtureConst")->plugin, "fixture_good");
  EXPECT_NE(h.schedule("fixture_linear"), nullptr);
  EXPECT_NE(h.sampler("fixture_identity"), nullptr);
  EXPECT_EQ(h.catalogue().schedule_names(), std::vector<std::string>{"fixture_linear"});
}

TEST(PluginHost, RefusesWrongApiMajorNamingBothValues) {
  PluginHost h;
  Status st = h.load(fixture_so("wrong_major"), false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("major version 99"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("host's " + std::to_string(SIGMAFLOW_PLUGIN_API_MAJOR)), std::string::npos);
  EXPECT_TRUE(h.plugins().empty());
}

TEST(PluginHost, RefusesOtherTorchVersionNamingBothValues) {
  PluginHost h;
  Status st = h.load(fixture_so("wrong_torch"), false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("LibTorch 0.4.1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(std::string("LibTorch ") + host_build_record().torch_version), std::string::npos);
}

TEST(PluginHost, ReportsMissingEntrySymbol) {
  PluginHost h;
  Status st = h.load(fixture_so("no_entry"), false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("sigmaflow_plugin_entry"), std::string::npos) << st.message();
}

TEST(PluginHost, ReportsUnresolvedSymbol) {
  PluginHost h;
  Status st = h.load(fixture_so("unresolved"), false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("undefined symbol"), std::string::npos) << st.message();
}

TEST(PluginHost, InitThatThrowsIsAFailedLoad) {
  PluginHost h;
  Status st = h.load(fixture_so("throwing_init"), false);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("fixture init failure"), std::string::npos) << st.message();
  EXPECT_TRUE(h.plugins().empty());
}

TEST(PluginHost, InitThatCrashesIsIsolatedInAChildProcess) {
  PluginHost h;
  Status st = h.load(fixture_so("crashing_init"), /*isolate=*/true);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("crashed while loading (signal 11"), std::string::npos) << st.message();
}

TEST(PluginHost, DuplicateClassTypeNamesBothFilesAndKeepsTheFirst) {
  PluginHost h;
  ScanOptions o;
  o.dirs = {fixture("good"), fixture("duplicate")};
  o.isolate = false;
  h.scan(o);
  ASSERT_EQ(h.problems().size(), 1u) << problems_text(h);
  const std::string& m = h.problems()[0].message;
  EXPECT_NE(m.find(fixture_so("good")), std::string::npos) << m;
  EXPECT_NE(m.find(fixture_so("duplicate")), std::string::npos) << m;
  EXPECT_EQ(h.catalogue().find("FixtureConst")->plugin, "fixture_good");
  EXPECT_NE(h.node("FixtureOnlyInDuplicate"), nullptr);
}

TEST(PluginHost, BadContractsAreRefusedOneByOne) {
  PluginHost h;
  ASSERT_TRUE(h.load(fixture_so("bad_contract"), false).ok());
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
  ScanOptions o;
  o.dirs = {fixture("wrong_major"), fixture("crashing_init"), fixture("good"), "/nonexistent/folder"};
  o.isolate = true;
  h.scan(o);
  EXPECT_NE(h.node("FixtureConst"), nullptr);
  EXPECT_EQ(h.problems().size(), 2u) << problems_text(h);
  EXPECT_EQ(h.scanned_dirs().size(), 3u);
}

TEST(PluginHost, ScanVerdictsAreCachedByPathSizeMtime) {
  namespace fs = std::filesystem;
  std::string cache = (fs::temp_directory_path() / "sigmaflow-scan-cache-test").string();
  fs::remove_all(cache);
  {
    PluginHost h;
    EXPECT_FALSE(h.load(fixture_so("crashing_init"), true, cache).ok());
  }
  ASSERT_TRUE(fs::exists(cache + "/plugin-scan-v1.json"));
  {
    PluginHost h;  // answered from the cache: same message, no fork needed
    Status st = h.load(fixture_so("crashing_init"), true, cache);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.message().find("signal 11"), std::string::npos);
  }
  // A corrupted cache is ignored, not trusted.
  { std::ofstream(cache + "/plugin-scan-v1.json") << "{not json"; }
  PluginHost h;
  EXPECT_TRUE(h.load(fixture_so("good"), true, cache).ok());
  fs::remove_all(cache);
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
}

TEST(PluginHost, StockPluginsLoadCleanly) {
  PluginHost h;
  ScanOptions o;
  o.dirs = {SF_PLUGIN_DIR};
  h.scan(o);
  EXPECT_TRUE(h.problems().empty()) << problems_text(h);
  for (const char* ct : {"BasicScheduler", "KarrasScheduler", "KSampler", "SamplerCustom", "GaussianMixtureModel"})
    EXPECT_NE(h.node(ct), nullptr) << ct;
  auto names = h.catalogue().schedule_names();
  EXPECT_GE(names.size(), 9u);
  EXPECT_EQ(h.catalogue().sampler_names().size(), 14u);
}

}  // namespace
}  // namespace sf::host
