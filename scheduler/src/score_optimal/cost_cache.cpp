#include "sigmaflow/scheduler/score_optimal/cost_cache.h"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sigmaflow/diffusion/fingerprint.h"
#include "sigmaflow/files.h"
#include "sigmaflow/json_depth.h"

namespace sf::so {

std::string cache_key(const std::string& fp, const std::string& kind, double smin, double smax,
                      const EstimateOptions& o, const std::string& data_fp, const std::string& dtype) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "so-v2|%s|model=%s|smin=%.17g|smax=%.17g|grid=%lld|particles=%lld|seed=%llu|crn=%d|rev=%lld|data=%s|%s",
                kind.c_str(), fp.c_str(), smin, smax, static_cast<long long>(o.grid_size),
                static_cast<long long>(o.particles), static_cast<unsigned long long>(o.seed),
                o.common_random_numbers ? 1 : 0, static_cast<long long>(o.reverse_steps), data_fp.c_str(),
                dtype.c_str());
  return buf;
}

std::string cache_file(const std::string& dir, const std::string& key) {
  return dir + "/score_optimal/" + diffusion::hex64(diffusion::fnv1a(key.data(), key.size())) + ".json";
}

Status check_estimate(const CostEstimate& e, int64_t grid_size) {
  if (static_cast<int64_t>(e.curve.cost.size()) != grid_size || e.curve.grid.size() != e.curve.cost.size() + 1 ||
      e.stderr_.size() != e.curve.cost.size() || e.curve.dim < 1)
    return InvalidArgument("sizes do not match");
  double total = 0;
  for (size_t i = 0; i < e.curve.cost.size(); ++i) {
    if (!std::isfinite(e.curve.cost[i]) || e.curve.cost[i] < 0)
      return InvalidArgument("a cost is negative or not finite");
    if (!(e.curve.grid[i] > e.curve.grid[i + 1])) return InvalidArgument("the grid is not strictly descending");
    total += e.curve.cost[i];
  }
  if (!(total > 0)) return InvalidArgument("every cost is zero");
  return Status::Ok();
}

std::optional<CostEstimate> load_cached(const std::string& dir, const std::string& key, int64_t grid_size,
                                        std::string* why) {
  auto fail = [&](const std::string& m) -> std::optional<CostEstimate> {
    if (why) *why = m;
    return std::nullopt;
  };
  auto text = read_file_bounded(cache_file(dir, key), kMaxTextFileBytes);
  if (!text.ok()) return fail(text.status().code() == Code::kNotFound ? "missing" : text.status().message());
  if (json_nesting_depth(*text) > kMaxJsonFileDepth) return fail("corrupted: nested too deeply");
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return fail("corrupted: not JSON");
  try {
    if (j.value("key", std::string()) != key) return fail("stale: key differs");
    CostEstimate e;
    e.curve.grid = j.at("grid").get<std::vector<double>>();
    e.curve.cost = j.at("cost").get<std::vector<double>>();
    e.stderr_ = j.at("stderr").get<std::vector<double>>();
    e.curve.dim = j.at("dim").get<int64_t>();
    e.nfe = j.at("nfe").get<int64_t>();
    e.seconds = j.at("seconds").get<double>();
    e.from_data = j.at("from_data").get<bool>();
    Status valid = check_estimate(e, grid_size);
    if (!valid.ok()) return fail("corrupted: " + valid.message());
    return e;
  } catch (const std::exception& ex) {
    return fail(std::string("corrupted: ") + ex.what());
  }
}

Status store_cached(const std::string& dir, const std::string& key, const CostEstimate& e) {
  nlohmann::json j;
  j["key"] = key;
  j["grid"] = e.curve.grid;
  j["cost"] = e.curve.cost;
  j["stderr"] = e.stderr_;
  j["dim"] = e.curve.dim;
  j["nfe"] = e.nfe;
  j["seconds"] = e.seconds;
  j["from_data"] = e.from_data;
  std::ostringstream os;
  os.precision(17);
  os << j.dump();
  return write_file_atomic(cache_file(dir, key), os.str());
}

}  // namespace sf::so
