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
};

// One cell of a sweep: a schedule x sampler x steps run and its metrics.
struct ReportCell {
  std::string schedule;
  std::string sampler;
  int64_t steps = 0;
  int64_t nfe = 0;
  double wall_seconds = 0.0;
  std::map<std::string, double> metrics;
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
