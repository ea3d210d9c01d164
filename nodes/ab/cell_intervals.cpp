#include "cell_intervals.h"

#include <cmath>

#include "sigmaflow/diffusion/bootstrap.h"

namespace sf::nodes {

namespace {

namespace keys = metric_keys;

struct Comparison {
  const char *value, *low, *high;
};

// This cell against cell `other` on metric m: best / this (lower is better) or this - best.
void compare(ReportCell& cell, const std::vector<double>& mine, const ReportCell& other,
             const std::vector<double>& theirs, const std::string& m, bool lower, const Comparison& keys) {
  const double v = cell.metrics.at(m), o = other.metrics.at(m);
  const double point = lower ? o / v : v - o;
  if (!std::isfinite(point)) return;
  const diffusion::Interval i = diffusion::percentile_interval(
      lower ? diffusion::paired_replicates(theirs, mine, true) : diffusion::paired_replicates(mine, theirs, false));
  cell.metrics[metric_annotation(m, keys.value)] = point;
  cell.metrics[metric_annotation(m, keys.low)] = i.lo;
  cell.metrics[metric_annotation(m, keys.high)] = i.hi;
}

}  // namespace

void annotate_intervals(Report& report, const std::vector<CellReplicates>& replicates,
                        const std::function<bool(const std::string&)>& is_stock) {
  const size_t n = std::min(report.cells.size(), replicates.size());
  for (const auto& m : report.metric_names) {
    const bool lower = !report.lower_is_better.count(m) || report.lower_is_better.at(m);
    auto measured = [&](size_t i) {
      return replicates[i].count(m) && !replicates[i].at(m).empty() && report.cells[i].metrics.count(m) &&
             std::isfinite(report.cells[i].metrics.at(m));
    };
    auto better = [&](double a, double b) { return lower ? a < b : a > b; };
    for (size_t i = 0; i < n; ++i) {
      if (!measured(i)) continue;
      ReportCell& cell = report.cells[i];
      const std::vector<double>& mine = replicates[i].at(m);
      auto accel = cell.metrics.find(metric_annotation(m, keys::kAcceleration));
      const diffusion::Interval own =
          diffusion::bca_interval(mine, cell.metrics.at(m), accel == cell.metrics.end() ? 0.0 : accel->second);
      cell.metrics[metric_annotation(m, keys::kIntervalLow)] = own.lo;
      cell.metrics[metric_annotation(m, keys::kIntervalHigh)] = own.hi;
      // The best other stock schedule and the best other schedule of the column, by point value.
      size_t best_stock = n, best_other = n;
      for (size_t j = 0; j < n; ++j) {
        const ReportCell& o = report.cells[j];
        if (j == i || !measured(j) || o.sampler != cell.sampler || o.steps != cell.steps) continue;
        const double v = o.metrics.at(m);
        if (best_other == n || better(v, report.cells[best_other].metrics.at(m))) best_other = j;
        if (is_stock(o.schedule) && (best_stock == n || better(v, report.cells[best_stock].metrics.at(m))))
          best_stock = j;
      }
      if (best_stock < n)
        compare(cell, mine, report.cells[best_stock], replicates[best_stock].at(m), m, lower,
                {keys::kVsStock, keys::kVsStockLow, keys::kVsStockHigh});
      if (best_other < n)
        compare(cell, mine, report.cells[best_other], replicates[best_other].at(m), m, lower,
                {keys::kVsNext, keys::kVsNextLow, keys::kVsNextHigh});
    }
  }
}

int comparison_verdict(const ReportCell& cell, const std::string& metric, bool lower_is_better, const char* low_key,
                       const char* high_key) {
  auto lo = cell.metrics.find(metric_annotation(metric, low_key)),
       hi = cell.metrics.find(metric_annotation(metric, high_key));
  if (lo == cell.metrics.end() || hi == cell.metrics.end() || !std::isfinite(lo->second) || !std::isfinite(hi->second))
    return 0;
  const double tie = lower_is_better ? 1.0 : 0.0;
  if (lo->second > tie) return 1;
  if (hi->second < tie) return -1;
  return 0;
}

}  // namespace sf::nodes
