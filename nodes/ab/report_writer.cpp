#include "report_writer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "../common/plot.h"
#include "sigmaflow/files.h"

namespace sf::nodes {

namespace {

std::string fmt(double v) {
  if (!std::isfinite(v)) return "n/a";
  char buf[32];
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 1e4 || (std::fabs(v) < 1e-3 && v != 0) ? "%.3e" : "%.4g", v);
  return buf;
}

struct Grid {
  std::vector<std::string> schedules, samplers;
  std::vector<int64_t> steps;
  std::map<std::tuple<std::string, std::string, int64_t>, const ReportCell*> at;
};

Grid index(const Report& r) {
  Grid g;
  for (const auto& c : r.cells) {
    if (std::find(g.schedules.begin(), g.schedules.end(), c.schedule) == g.schedules.end()) g.schedules.push_back(c.schedule);
    if (std::find(g.samplers.begin(), g.samplers.end(), c.sampler) == g.samplers.end()) g.samplers.push_back(c.sampler);
    if (std::find(g.steps.begin(), g.steps.end(), c.steps) == g.steps.end()) g.steps.push_back(c.steps);
    g.at[{c.schedule, c.sampler, c.steps}] = &c;
  }
  std::sort(g.steps.begin(), g.steps.end());
  return g;
}

bool has(const ReportCell* c, const std::string& m) { return c && c->metrics.count(m) && std::isfinite(c->metrics.at(m)); }

// Ratio of the best stock schedule's value to this cell's (> 1: this cell is better).
double ratio_to_best_stock(const Report& r, const Grid& g, const ReportCell& cell, const std::string& m) {
  bool lower = r.lower_is_better.count(m) ? r.lower_is_better.at(m) : true;
  double best = NAN;
  for (const auto& s : g.schedules) {
    if (!is_stock_schedule(s)) continue;
    auto it = g.at.find({s, cell.sampler, cell.steps});
    if (it == g.at.end() || !has(it->second, m)) continue;
    double v = it->second->metrics.at(m);
    if (std::isnan(best) || (lower ? v < best : v > best)) best = v;
  }
  double v = cell.metrics.at(m);
  if (std::isnan(best)) return NAN;
  if (lower) return v > 0 ? best / v : (best > 0 ? INFINITY : 1.0);
  // Higher is better (log-density): report the difference sign via ratio of exp(differences).
  return std::exp(v - best);
}

}  // namespace

bool is_stock_schedule(const std::string& name) { return name.rfind("score_optimal", 0) != 0; }

std::string markdown_table(const Report& r, const std::string& m) {
  Grid g = index(r);
  bool lower = r.lower_is_better.count(m) ? r.lower_is_better.at(m) : true;
  std::string out = "| schedule | sampler |";
  for (auto n : g.steps) out += " " + std::to_string(n) + " steps |";
  out += "\n|---|---|";
  for (size_t i = 0; i < g.steps.size(); ++i) out += "---|";
  out += "\n";
  for (const auto& sampler : g.samplers) {
    // Best value per column within this sampler's rows.
    std::map<int64_t, double> best;
    for (auto n : g.steps)
      for (const auto& s : g.schedules) {
        auto it = g.at.find({s, sampler, n});
        if (it == g.at.end() || !has(it->second, m)) continue;
        double v = it->second->metrics.at(m);
        if (!best.count(n) || (lower ? v < best[n] : v > best[n])) best[n] = v;
      }
    for (const auto& s : g.schedules) {
      out += "| " + s + " | " + sampler + " |";
      for (auto n : g.steps) {
        auto it = g.at.find({s, sampler, n});
        if (it == g.at.end() || !has(it->second, m)) {
          out += " - |";
          continue;
        }
        const ReportCell& c = *it->second;
        double v = c.metrics.at(m);
        std::string cell = fmt(v) + " (" + std::to_string(c.nfe) + " NFE";
        if (!is_stock_schedule(s)) {
          double ratio = ratio_to_best_stock(r, g, c, m);
          if (std::isfinite(ratio)) cell += ", x" + fmt(ratio) + " vs best stock";
        }
        cell += ")";
        if (best.count(n) && v == best[n]) cell = "**" + cell + "**";
        out += " " + cell + " |";
      }
      out += "\n";
    }
  }
  return out;
}

Status write_report(const Report& r, const std::string& title, const PathFor& path_for, const std::string& graph_json,
                    const std::string& versions, ReportFiles* files) {
  Grid g = index(r);
  std::string primary = r.metric_names.empty() ? std::string() : r.metric_names.front();
  // Markdown.
  std::string md = "# " + title + "\n\n";
  md += "Model: " + r.model + "\n\n";
  if (!r.reference.empty()) md += "Reference: " + r.reference + "\n\n";
  md += "Cells show the metric, the model evaluations (NFE) the run spent and, for score-optimal schedules, the ratio "
        "best-stock / this (above 1: better than every stock schedule in that column). Bold: the best schedule for "
        "that sampler and step count.\n\n";
  for (const auto& m : r.metric_names) {
    bool lower = r.lower_is_better.count(m) ? r.lower_is_better.at(m) : true;
    md += "## " + m + (lower ? " (lower is better)" : " (higher is better)") + "\n\n" + markdown_table(r, m) + "\n";
  }
  md += "## Wall time per cell (seconds)\n\n| schedule | sampler |";
  for (auto n : g.steps) md += " " + std::to_string(n) + " steps |";
  md += "\n|---|---|";
  for (size_t i = 0; i < g.steps.size(); ++i) md += "---|";
  md += "\n";
  for (const auto& sampler : g.samplers)
    for (const auto& s : g.schedules) {
      md += "| " + s + " | " + sampler + " |";
      for (auto n : g.steps) {
        auto it = g.at.find({s, sampler, n});
        md += it == g.at.end() ? " - |" : " " + fmt(it->second->wall_seconds) + " |";
      }
      md += "\n";
    }
  if (!r.timings.empty()) {
    md += "\n## Timings\n\n";
    for (const auto& [k, v] : r.timings) md += "- " + k + ": " + fmt(v) + "\n";
  }
  md += "\n## Schedules\n\n";
  std::set<std::pair<std::string, int64_t>> seen;
  for (const auto& c : r.cells) {
    if (!seen.insert({c.schedule, c.steps}).second) continue;
    md += "- " + c.schedule + ", " + std::to_string(c.steps) + " steps: [";
    for (size_t i = 0; i < c.sigmas.size(); ++i) md += (i ? ", " : "") + fmt(c.sigmas[i]);
    md += "]\n";
  }
  md += "\n" + versions + "\n";
  if (files) files->table_text = primary.empty() ? std::string() : markdown_table(r, primary);

  // JSON.
  nlohmann::ordered_json j;
  j["title"] = title;
  j["model"] = r.model;
  j["reference"] = r.reference;
  j["metrics"] = r.metric_names;
  j["timings"] = r.timings;
  j["cells"] = nlohmann::ordered_json::array();
  for (const auto& c : r.cells) {
    nlohmann::ordered_json cj;
    cj["schedule"] = c.schedule;
    cj["sampler"] = c.sampler;
    cj["steps"] = c.steps;
    cj["nfe"] = c.nfe;
    cj["wall_seconds"] = c.wall_seconds;
    nlohmann::ordered_json mj = nlohmann::ordered_json::object();
    for (const auto& [k, v] : c.metrics) mj[k] = std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
    cj["metrics"] = mj;
    cj["sigmas"] = c.sigmas;
    j["cells"].push_back(cj);
  }
  j["diagnostics"] = nlohmann::ordered_json::array();
  for (const auto& d : r.diagnostics) {
    j["diagnostics"].push_back({{"method", d->method}, {"grid", d->grid}, {"interval_cost", d->interval_cost},
                                {"cumulative", d->cumulative}, {"schedule", d->schedule}, {"step_cost", d->step_cost},
                                {"nfe", d->nfe}, {"seconds", d->seconds}, {"from_cache", d->from_cache},
                                {"folded_samples", d->folded_samples}});
  }
  auto graph = nlohmann::ordered_json::parse(graph_json, nullptr, false);
  j["graph"] = graph.is_discarded() ? nlohmann::ordered_json(nullptr) : graph;
  j["versions"] = versions;

  std::vector<std::string> written;
  for (auto [path, body] : {std::pair{path_for(".md"), md}, std::pair{path_for(".json"), j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n"}}) {
    Status st = write_file_atomic(path, body);
    if (!st.ok()) return st;
    written.push_back(path);
  }

  // Plots: error vs NFE per schedule (one line per schedule x sampler), the schedules, diagnostics.
  if (!primary.empty() && !r.cells.empty()) {
    bool logy = r.lower_is_better.count(primary) ? r.lower_is_better.at(primary) : true;
    // One error-vs-NFE plot per sampler, one line per schedule.
    for (const auto& sampler : g.samplers) {
      std::vector<Series> err;
      for (const auto& s : g.schedules) {
        Series se{s, {}, {}};
        for (auto n : g.steps) {
          auto it = g.at.find({s, sampler, n});
          if (it == g.at.end() || !has(it->second, primary)) continue;
          se.x.push_back(static_cast<double>(it->second->nfe));
          se.y.push_back(it->second->metrics.at(primary));
        }
        if (!se.x.empty()) err.push_back(se);
      }
      if (err.empty()) continue;
      std::string safe = sampler;
      for (char& ch : safe)
        if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') ch = '_';
      Status st = write_plot(path_for("_error_vs_nfe_" + safe),
                             {primary + " vs NFE, sampler " + sampler, "model evaluations (NFE)", primary, true, logy}, err,
                             &written);
      // Metrics without NFE (e.g. measured on data) have nothing to place on a log axis: no plot.
      if (!st.ok() && st.code() != Code::kInvalidArgument) return st;
    }
    std::vector<Series> sched;
    int64_t n_plot = g.steps.back();
    for (const auto& s : g.schedules) {
      auto it = g.at.find({s, g.samplers.front(), n_plot});
      if (it == g.at.end()) continue;
      Series se{s + " (" + std::to_string(n_plot) + " steps)", {}, {}};
      for (size_t i = 0; i < it->second->sigmas.size(); ++i)
        if (it->second->sigmas[i] > 0) {
          se.x.push_back(static_cast<double>(i));
          se.y.push_back(it->second->sigmas[i]);
        }
      sched.push_back(se);
    }
    if (!sched.empty()) {
      Status st = write_plot(path_for("_schedules"), {"schedules", "step", "sigma", false, true}, sched, &written);
      if (!st.ok() && st.code() != Code::kInvalidArgument) return st;
    }
  }
  for (size_t k = 0; k < r.diagnostics.size(); ++k) {
    const auto& d = *r.diagnostics[k];
    if (d.grid.size() < 2 || d.interval_cost.empty()) continue;
    std::string suffix = r.diagnostics.size() > 1 ? "_" + std::to_string(k) : "";
    Series cost{"cost per interval / d log sigma", {}, {}};
    for (size_t i = 0; i < d.interval_cost.size() && i + 1 < d.grid.size(); ++i) {
      double mid = std::sqrt(d.grid[i] * d.grid[i + 1]);
      double dl = std::log(d.grid[i] / d.grid[i + 1]);
      cost.x.push_back(mid);
      cost.y.push_back(d.interval_cost[i] / (dl * dl));
    }
    Status st = write_plot(path_for("_cost" + suffix), {d.method + ": estimated cost", "sigma", "L / (d log sigma)^2", true, true}, {cost}, &written);
    if (!st.ok()) return st;
    if (d.cumulative.size() == d.grid.size()) {
      Series lam{"cumulative length", {}, {}};
      for (size_t i = 0; i < d.grid.size(); ++i) {
        lam.x.push_back(d.grid[i]);
        lam.y.push_back(d.cumulative[i]);
      }
      Series steps{"output schedule", {}, {}, true};
      for (double s : d.schedule) {
        steps.x.push_back(s);
        // Lambda at this sigma (nearest grid point) marks where the steps fall.
        size_t best = 0;
        for (size_t i = 0; i < d.grid.size(); ++i)
          if (std::fabs(std::log(d.grid[i] / s)) < std::fabs(std::log(d.grid[best] / s))) best = i;
        steps.y.push_back(d.cumulative[best]);
      }
      st = write_plot(path_for("_length" + suffix), {d.method + ": cumulative length", "sigma", "Lambda", true, false}, {lam, steps}, &written);
      if (!st.ok()) return st;
    }
  }
  if (files) files->written = written;
  return Status::Ok();
}

}  // namespace sf::nodes
