// Intervals and paired comparisons for the cells of a sweep, from bootstrap replicates of every
// metric (one list per metric per cell, all drawn with the same resamples: paired). Torch-free.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "sigmaflow/report.h"

namespace sf::nodes {

// Replicates per metric name; aligned with Report::cells.
using CellReplicates = std::map<std::string, std::vector<double>>;

// Writes the lo / hi, vs_stock* and vs_next* annotations (sigmaflow/report.h) of every metric that
// has replicates. `is_stock` tells which schedules are the stock baseline.
void annotate_intervals(Report& report, const std::vector<CellReplicates>& replicates,
                        const std::function<bool(const std::string&)>& is_stock);

// A comparison's verdict from its paired interval: +1 this cell is better, -1 worse, 0 within
// noise (the interval holds a tie: 1 for ratios, 0 for differences). Needs the metric's
// vs_* annotations; 0 when they are absent.
int comparison_verdict(const ReportCell& cell, const std::string& metric, bool lower_is_better, const char* low_key,
                       const char* high_key);

}  // namespace sf::nodes
