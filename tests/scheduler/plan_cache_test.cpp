// The optimal-steps caches read back field by field: what a run stored comes back equal; any other
// file (missing, not JSON, nested too deeply, another key, a field of the wrong type or out of
// range, another request's candidates) is refused with a reason, never thrown.
#include "sigmaflow/scheduler/optimal_steps/plan_cache.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

namespace sf::oss {
namespace {

namespace fs = std::filesystem;

struct Folder {
  Folder() : dir((fs::temp_directory_path() / ("sigmaflow-plan-cache-" + std::to_string(::getpid()))).string()) {
    fs::create_directories(dir + "/optimal_steps");
  }
  ~Folder() { fs::remove_all(dir); }
  std::string put(const std::string& name, const std::string& text) const {
    const std::string file = dir + "/optimal_steps/" + name;
    std::ofstream(file) << text;
    return file;
  }
  std::string dir;
};

OptimalStepsPlan a_plan() {
  OptimalStepsPlan p;
  p.grid = {80, 20, 5, 1, 0.002};  // K = 4
  p.schedules = {{80, 0}, {80, 1, 0}, {}};
  p.training_error = {0.5, 0.1, NAN};
  p.nfe = 120;
  p.seconds = 0.25;
  return p;
}

TEST(PlanCache, APlanComesBackAsStoredAndOnlyForItsKey) {
  Folder f;
  const std::string file = plan_file(f.dir, "k");
  ASSERT_TRUE(store_plan(file, "k", a_plan()).ok());
  std::string why;
  auto p = load_plan(file, "k", 3, 4, why);
  ASSERT_TRUE(p) << why;
  EXPECT_EQ(p->schedules, a_plan().schedules);
  EXPECT_EQ(p->grid, a_plan().grid);
  EXPECT_TRUE(std::isnan(p->training_error[2]));
  EXPECT_TRUE(p->from_cache);
  EXPECT_FALSE(load_plan(file, "other", 3, 4, why));
  EXPECT_EQ(why.rfind("stale", 0), 0u) << why;
  EXPECT_FALSE(load_plan(file, "k", 4, 4, why));  // another N_max
  EXPECT_EQ(why.rfind("corrupted", 0), 0u) << why;
  EXPECT_FALSE(load_plan(f.dir + "/optimal_steps/none.json", "k", 3, 4, why));
  EXPECT_EQ(why, "missing");
}

TEST(PlanCache, BadPlansAreRefusedWithAReason) {
  Folder f;
  nlohmann::json good;
  good["key"] = "k";
  good["grid"] = a_plan().grid;
  good["schedules"] = a_plan().schedules;
  good["training_error"] = {0.5, 0.1, nullptr};
  good["nfe"] = 120;
  good["seconds"] = 0.25;
  auto variant = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json j = good;
    edit(j);
    return j.dump();
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not JSON", "{\"key\": 3"},
      {"nested too deeply", std::string(100000, '[') + std::string(100000, ']')},
      {"an array", "[1, 2]"},
      {"key of another type", variant([](auto& j) { j["key"] = 3; })},
      {"schedules of strings", variant([](auto& j) {
         j["schedules"] = {"a", "b", "c"};
       })},
      {"not descending", variant([](auto& j) {
         j["schedules"][1] = {1, 80, 0};
       })},
      {"not ending in 0", variant([](auto& j) {
         j["schedules"][1] = {80, 1, 0.5};
       })},
      {"wrong length", variant([](auto& j) {
         j["schedules"][1] = {80, 0};
       })},
      {"negative error", variant([](auto& j) { j["training_error"][0] = -1; })},
      {"error missing where a schedule is", variant([](auto& j) { j["training_error"][0] = nullptr; })},
      {"no nfe", variant([](auto& j) { j.erase("nfe"); })},
  };
  for (const auto& [what, text] : cases) {
    std::string why;
    EXPECT_FALSE(load_plan(f.put("p.json", text), "k", 3, 4, why)) << what;
    EXPECT_FALSE(why.empty()) << what;
  }
  std::string why;
  EXPECT_TRUE(load_plan(f.put("p.json", good.dump()), "k", 3, 4, why)) << why;
}

TEST(PlanCache, SelectionsAndAutomaticSettings) {
  Folder f;
  const std::vector<CandidateSchedule> candidates{{"optimal_steps", {10, 1, 0}}, {"karras", {10, 2, 0}}};
  Selection s;
  s.chosen = 1;
  s.held_out = 256;
  s.resamples = 500;
  s.summary = "karras";
  for (const auto& c : candidates) {
    CandidateScore score;
    score.label = c.label;
    score.sigmas = c.sigmas;
    score.rms_interval = {0.1, 0.2};
    s.scores.push_back(score);
  }
  const std::string file = plan_file(f.dir, "sel");
  ASSERT_TRUE(store_selection(file, "sel", s).ok());
  std::string why;
  auto back = load_selection(file, "sel", candidates, why);
  ASSERT_TRUE(back) << why;
  EXPECT_EQ(back->chosen, 1u);
  EXPECT_EQ(back->scores[0].rms_interval.hi, 0.2);
  // Another request's candidates: refused.
  EXPECT_FALSE(load_selection(file, "sel", {candidates[0], {"karras", {10, 3, 0}}}, why));
  EXPECT_FALSE(load_selection(file, "sel", {candidates[0]}, why));
  EXPECT_FALSE(load_selection(f.put("s.json", R"({"key": "sel", "chosen": 5, "scores": []})"), "sel", candidates, why));

  const std::string auto_file = plan_file(f.dir, "auto");
  ASSERT_TRUE(store_auto_settings(auto_file, "auto", {64, 128, 0.002}).ok());
  auto a = load_auto_settings(auto_file, "auto", why);
  ASSERT_TRUE(a) << why;
  EXPECT_EQ(a->grid_size, 64);
  EXPECT_EQ(a->training_noises, 128);
  EXPECT_EQ(a->seconds_per_evaluation, 0.002);
  for (const char* bad : {R"({"key": "auto", "K": 0, "M": 128, "seconds_per_evaluation": 0.1})",
                          R"({"key": "auto", "K": 64, "M": -1, "seconds_per_evaluation": 0.1})",
                          R"({"key": "auto", "K": 64, "M": 128, "seconds_per_evaluation": 0})",
                          R"({"key": "auto", "K": 6.5, "M": 128, "seconds_per_evaluation": 0.1})",
                          R"({"key": "auto", "K": "64", "M": 128, "seconds_per_evaluation": 0.1})"}) {
    EXPECT_FALSE(load_auto_settings(f.put("a.json", bad), "auto", why)) << bad;
    EXPECT_EQ(why.rfind("corrupted", 0), 0u) << bad << ": " << why;
  }
}

}  // namespace
}  // namespace sf::oss
