#include "sigmaflow/scheduler/optimal_steps/plan_cache.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/files.h"
#include "sigmaflow/json_depth.h"

namespace sf::oss {

namespace {

// A plan read back must look like one the DP writes: N_max schedules, each empty or N + 1
// strictly descending values ending in 0, finite training errors where a schedule exists.
Status check_plan(const OptimalStepsPlan& p, int64_t n_max, int64_t K) {
  if (static_cast<int64_t>(p.schedules.size()) != n_max || p.training_error.size() != p.schedules.size() ||
      static_cast<int64_t>(p.grid.size()) != K + 1)
    return InvalidArgument("sizes do not match");
  for (size_t n = 0; n < p.schedules.size(); ++n) {
    const auto& s = p.schedules[n];
    if (s.empty()) continue;
    Status st = diffusion::Sigmas(s).check_full_schedule(static_cast<int64_t>(n) + 1);
    if (!st.ok()) return st;
    if (!std::isfinite(p.training_error[n]) || p.training_error[n] < 0) return InvalidArgument("bad training error");
  }
  return Status::Ok();
}

// The JSON object stored at `file` whose "key" is `key`; nullopt with `why` ("missing",
// "corrupted: ...", "stale: ...") otherwise. Bounded in size and nesting before it is parsed.
std::optional<nlohmann::json> read_cache_entry(const std::string& file, const std::string& key, std::string& why) {
  auto text = read_file_bounded(file, kMaxTextFileBytes);
  if (!text.ok()) {
    why = text.status().code() == Code::kNotFound ? "missing" : text.status().message();
    return std::nullopt;
  }
  if (json_nesting_depth(*text) > kMaxJsonFileDepth) {
    why = "corrupted: nested too deeply";
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    why = "corrupted: not JSON";
    return std::nullopt;
  }
  // (value() would throw on a key of another type.)
  if (!j.contains("key") || !j["key"].is_string() || j["key"].get<std::string>() != key) {
    why = "stale: the key differs";
    return std::nullopt;
  }
  return j;
}

nlohmann::json interval_json(const Interval& i) { return {i.lo, i.hi}; }
Interval interval_from(const nlohmann::json& j) { return {j.at(0).get<double>(), j.at(1).get<double>()}; }

}  // namespace

std::string plan_file(const std::string& dir, const std::string& key) {
  return dir + "/optimal_steps/" + diffusion::hex64(diffusion::fnv1a(key)) + ".json";
}

std::optional<OptimalStepsPlan> load_plan(const std::string& file, const std::string& key, int64_t n_max, int64_t K,
                                          std::string& why) {
  auto entry = read_cache_entry(file, key, why);
  if (!entry) return std::nullopt;
  const nlohmann::json& j = *entry;
  try {
    OptimalStepsPlan p;
    p.grid = j.at("grid").get<std::vector<double>>();
    p.schedules = j.at("schedules").get<std::vector<std::vector<double>>>();
    for (const auto& e : j.at("training_error")) p.training_error.push_back(e.is_null() ? NAN : e.get<double>());
    p.nfe = j.at("nfe").get<int64_t>();
    p.seconds = j.at("seconds").get<double>();
    Status st = check_plan(p, n_max, K);
    if (!st.ok()) throw std::runtime_error(st.message());
    p.from_cache = true;
    return p;
  } catch (const std::exception& e) {
    why = std::string("corrupted: ") + e.what();
    return std::nullopt;
  }
}

Status store_plan(const std::string& file, const std::string& key, const OptimalStepsPlan& p) {
  nlohmann::json j;
  j["key"] = key;
  j["grid"] = p.grid;
  j["schedules"] = p.schedules;
  nlohmann::json errs = nlohmann::json::array();
  for (double e : p.training_error) errs.push_back(std::isfinite(e) ? nlohmann::json(e) : nlohmann::json());
  j["training_error"] = errs;
  j["nfe"] = p.nfe;
  j["seconds"] = p.seconds;
  return write_file_atomic(file, j.dump());
}

Status store_selection(const std::string& file, const std::string& key, const Selection& s) {
  nlohmann::json j;
  j["key"] = key;
  j["chosen"] = s.chosen;
  j["held_out"] = s.held_out;
  j["resamples"] = s.resamples;
  j["summary"] = s.summary;
  j["nfe"] = s.nfe;
  j["scores"] = nlohmann::json::array();
  for (const auto& c : s.scores)
    j["scores"].push_back({{"label", c.label},
                           {"sigmas", c.sigmas},
                           {"rms", c.rms},
                           {"rms_interval", interval_json(c.rms_interval)},
                           {"ratio", c.ratio},
                           {"ratio_interval", interval_json(c.ratio_interval)},
                           {"sliced_w2", c.sliced_w2},
                           {"sliced_w2_interval", interval_json(c.sliced_w2_interval)},
                           {"mode_tv", c.mode_tv},
                           {"mode_tv_interval", interval_json(c.mode_tv_interval)},
                           {"eligible", c.eligible},
                           {"not_eligible", c.not_eligible}});
  return write_file_atomic(file, j.dump());
}

// A stored selection is used only when its key matches and its candidates are the request's.
std::optional<Selection> load_selection(const std::string& file, const std::string& key,
                                        const std::vector<CandidateSchedule>& candidates, std::string& why) {
  auto entry = read_cache_entry(file, key, why);
  if (!entry) return std::nullopt;
  const nlohmann::json& j = *entry;
  try {
    Selection s;
    s.chosen = j.at("chosen").get<size_t>();
    s.held_out = j.at("held_out").get<int64_t>();
    s.resamples = j.at("resamples").get<int64_t>();
    s.summary = j.at("summary").get<std::string>();
    s.nfe = j.at("nfe").get<int64_t>();
    for (const auto& e : j.at("scores")) {
      CandidateScore c;
      c.label = e.at("label").get<std::string>();
      c.sigmas = e.at("sigmas").get<std::vector<double>>();
      c.rms = e.at("rms").get<double>();
      c.rms_interval = interval_from(e.at("rms_interval"));
      c.ratio = e.at("ratio").get<double>();
      c.ratio_interval = interval_from(e.at("ratio_interval"));
      c.sliced_w2 = e.at("sliced_w2").get<double>();
      c.sliced_w2_interval = interval_from(e.at("sliced_w2_interval"));
      c.mode_tv = e.at("mode_tv").get<double>();
      c.mode_tv_interval = interval_from(e.at("mode_tv_interval"));
      c.eligible = e.at("eligible").get<bool>();
      c.not_eligible = e.at("not_eligible").get<std::string>();
      s.scores.push_back(std::move(c));
    }
    if (s.scores.size() != candidates.size() || s.chosen >= s.scores.size())
      throw std::runtime_error("the candidates differ");
    for (size_t i = 0; i < candidates.size(); ++i)
      if (s.scores[i].label != candidates[i].label || s.scores[i].sigmas != candidates[i].sigmas)
        throw std::runtime_error("the candidates differ");
    return s;
  } catch (const std::exception& e) {
    why = std::string("corrupted: ") + e.what();
    return std::nullopt;
  }
}

std::optional<AutoSettings> load_auto_settings(const std::string& file, const std::string& key, std::string& why) {
  auto entry = read_cache_entry(file, key, why);
  if (!entry) return std::nullopt;
  const nlohmann::json& j = *entry;
  if (!(j.contains("K") && j["K"].is_number_integer() && j.contains("M") && j["M"].is_number_integer() &&
        j.contains("seconds_per_evaluation") && j["seconds_per_evaluation"].is_number())) {
    why = "corrupted: a field is missing or of the wrong type";
    return std::nullopt;
  }
  AutoSettings a{j["K"].get<int64_t>(), j["M"].get<int64_t>(), j["seconds_per_evaluation"].get<double>()};
  if (a.grid_size < 1 || a.training_noises < 1 || !(a.seconds_per_evaluation > 0) ||
      !std::isfinite(a.seconds_per_evaluation)) {
    why = "corrupted: a setting is out of range";
    return std::nullopt;
  }
  return a;
}

Status store_auto_settings(const std::string& file, const std::string& key, const AutoSettings& a) {
  nlohmann::json j{
      {"key", key}, {"K", a.grid_size}, {"M", a.training_noises}, {"seconds_per_evaluation", a.seconds_per_evaluation}};
  return write_file_atomic(file, j.dump());
}

}  // namespace sf::oss
