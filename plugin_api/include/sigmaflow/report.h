// METRIC and REPORT values: the currency of A/B comparisons. Plain data, shared by every plugin
// that measures or reports.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sigmaflow/diagnostics.h"
#include "sigmaflow/value.h"

namespace sf {

// One number and what it was computed on.
class SF_SHARED Metric : public Object {
 public:
  ~Metric() override;
  std::string type_name() const override { return "METRIC"; }
  std::string describe() const override;

  std::string name;  // "trajectory_error", "sliced_wasserstein", ...
  double value = 0.0;
  bool lower_is_better = true;
  std::string computed_on;  // e.g. "1000 samples vs 1000-step heun reference"
  // Provenance of the samples measured.
  int64_t nfe = 0;
  int64_t steps = 0;
  double wall_seconds = 0.0;
  std::string sampler;
  std::string schedule;
  // (3.0) Annotations of this metric with the keys of a report cell (metric_keys below: lo, hi,
  // acceleration, particles, ...): CompareReport copies them into the metric's cell. Metric nodes
  // that measure a per-particle statistic give its 95 % BCa bootstrap interval here.
  std::map<std::string, double> annotations;
};

// Annotations of a metric (API 2.3). Next to a metric `m`, a cell's `metrics` may hold
// metric_annotation(m, kIntervalLow) and so on; readers skip keys they do not know
// (is_metric_annotation), and an absent key means "not measured". Intervals are 95 % paired
// bootstrap intervals over the particles (sigmaflow/diffusion/bootstrap.h).
//  lo, hi                      the interval of m (BCa: bias-corrected and accelerated)
//  acceleration                the BCa acceleration (the skewness of the particles' influence / 6)
//  vs_stock, vs_stock_lo/_hi   against the best other stock schedule of the column (same sampler and
//                              steps): best / this for lower-is-better metrics (above 1: this is
//                              better), this - best otherwise (above 0: better); paired interval
//  vs_next, vs_next_lo/_hi     the same against the best other schedule of the column, of any kind
//  floor, floor_lo/_hi         m between two independent sets of the target distribution of this
//                              size: what a perfect sampler would measure (distribution metrics)
//  floor_exponent              the floor scales as particles^-floor_exponent (measured)
//  particles                   how many particles one run of the cell measured (per seed)
//  flips                       particles whose nearest mode differs from the reference solve's
namespace metric_keys {
inline constexpr const char* kIntervalLow = "lo";
inline constexpr const char* kIntervalHigh = "hi";
inline constexpr const char* kAcceleration = "acceleration";
inline constexpr const char* kVsStock = "vs_stock";
inline constexpr const char* kVsStockLow = "vs_stock_lo";
inline constexpr const char* kVsStockHigh = "vs_stock_hi";
inline constexpr const char* kVsNext = "vs_next";
inline constexpr const char* kVsNextLow = "vs_next_lo";
inline constexpr const char* kVsNextHigh = "vs_next_hi";
inline constexpr const char* kFloor = "floor";
inline constexpr const char* kFloorLow = "floor_lo";
inline constexpr const char* kFloorHigh = "floor_hi";
inline constexpr const char* kFloorExponent = "floor_exponent";
inline constexpr const char* kParticles = "particles";
inline constexpr const char* kFlips = "flips";
}  // namespace metric_keys
inline std::string metric_annotation(const std::string& metric, const char* what) { return metric + ":" + what; }
inline bool is_metric_annotation(const std::string& key) { return key.find(':') != std::string::npos; }

// One cell of a sweep: a schedule x sampler x steps run and its metrics.
struct ReportCell {
  std::string schedule;
  std::string sampler;
  int64_t steps = 0;
  int64_t nfe = 0;
  double wall_seconds = 0.0;
  std::map<std::string, double> metrics;  // metric values and their annotations (above)
  std::vector<double> sigmas;
};

class SF_SHARED Report : public Object {
 public:
  ~Report() override;
  std::string type_name() const override { return "REPORT"; }
  std::string describe() const override;

  std::string model;      // model description
  std::string reference;  // how the reference was made
  std::vector<ReportCell> cells;
  std::vector<std::string> metric_names;  // in display order; the first is the primary metric
  std::map<std::string, bool> lower_is_better;
  std::map<std::string, double> timings;  // "model_evaluation_seconds", "reference_seconds", ...
  std::vector<std::shared_ptr<const ScheduleDiagnostics>> diagnostics;
};

}  // namespace sf
