// Turns a REPORT into report.md (tables), report.json (every number), plots and report.html (all of
// it in one self-contained page).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sigmaflow/report.h"
#include "sigmaflow/status.h"

namespace sf::nodes {

struct ReportFiles {
  std::vector<std::string> written;
  std::string table_text;  // the primary-metric table, for the terminal
};

// The path of an output file for a name suffix (".md", "_schedules", ...).
using PathFor = std::function<std::string(const std::string& suffix)>;

// `graph_json` and `versions` go into the JSON file. Every file is written atomically; plots as
// path_for(suffix) + ".png" / ".svg".
Status write_report(const Report& report, const std::string& title, const PathFor& path_for,
                    const std::string& graph_json, const std::string& versions, ReportFiles* files);

// True for names that are not score-optimal variants, optimal_steps or connected extra candidates
// (extra_sigmas_*): the "stock" baseline of the ratios.
bool is_stock_schedule(const std::string& name);

// The primary-metric table as Markdown (also used for the terminal).
std::string markdown_table(const Report& report, const std::string& metric);

}  // namespace sf::nodes
