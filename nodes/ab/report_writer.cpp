#include "report_writer.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "../common/plot.h"
#include "cell_intervals.h"
#include "report_html.h"
#include "sigmaflow/files.h"
#include "sigmaflow/scheduler/optimal_steps/optimal_steps.h"

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
    if (std::find(g.schedules.begin(), g.schedules.end(), c.schedule) == g.schedules.end())
      g.schedules.push_back(c.schedule);
    if (std::find(g.samplers.begin(), g.samplers.end(), c.sampler) == g.samplers.end()) g.samplers.push_back(c.sampler);
    if (std::find(g.steps.begin(), g.steps.end(), c.steps) == g.steps.end()) g.steps.push_back(c.steps);
    g.at[{c.schedule, c.sampler, c.steps}] = &c;
  }
  std::sort(g.steps.begin(), g.steps.end());
  return g;
}

// A name usable in a file name.
std::string safe_name(std::string s) {
  for (char& ch : s)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_' && ch != '-') ch = '_';
  return s;
}

bool has(const ReportCell* c, const std::string& m) {
  return c && c->metrics.count(m) && std::isfinite(c->metrics.at(m));
}

bool lower_is_better(const Report& r, const std::string& m) {
  return r.lower_is_better.count(m) ? r.lower_is_better.at(m) : true;
}

// The best stock schedule's value in this cell's column (same sampler and steps), or NaN.
double best_stock(const Report& r, const Grid& g, const ReportCell& cell, const std::string& m) {
  bool lower = lower_is_better(r, m);
  double best = NAN;
  for (const auto& s : g.schedules) {
    if (!is_stock_schedule(s)) continue;
    auto it = g.at.find({s, cell.sampler, cell.steps});
    if (it == g.at.end() || !has(it->second, m)) continue;
    double v = it->second->metrics.at(m);
    if (std::isnan(best) || (lower ? v < best : v > best)) best = v;
  }
  return best;
}

// How this cell compares with the best stock schedule: for errors and distances (lower is
// better, positive) the ratio best / this (above 1: better); for scores where higher is better
// (log-densities, which may be negative) the difference this - best (above 0: better).
std::string versus_best_stock(const Report& r, const Grid& g, const ReportCell& cell, const std::string& m) {
  double best = best_stock(r, g, cell, m), v = cell.metrics.at(m);
  if (std::isnan(best)) return {};
  if (!lower_is_better(r, m)) return (v - best >= 0 ? "+" : "") + fmt(v - best) + " vs best stock";
  double ratio = v > 0 ? best / v : (best > 0 ? INFINITY : 1.0);
  return std::isfinite(ratio) ? "x" + fmt(ratio) + " vs best stock" : std::string();
}

// An annotation of metric m in this cell (sigmaflow/report.h), NaN when absent.
double annotation(const ReportCell& c, const std::string& m, const char* key) {
  auto it = c.metrics.find(metric_annotation(m, key));
  return it == c.metrics.end() ? NAN : it->second;
}

std::string interval_text(double lo, double hi) {
  return std::isfinite(lo) && std::isfinite(hi) ? " [" + fmt(lo) + ", " + fmt(hi) + "]" : std::string();
}

// "x1.21 [1.15, 1.27] vs best stock: better" from the cell's paired comparison, or the point
// ratio alone (a report without intervals).
std::string stock_comparison(const Report& r, const Grid& g, const ReportCell& c, const std::string& m) {
  namespace k = metric_keys;
  const double v = annotation(c, m, k::kVsStock);
  if (!std::isfinite(v)) return versus_best_stock(r, g, c, m);
  const bool lower = lower_is_better(r, m);
  const double lo = annotation(c, m, k::kVsStockLow), hi = annotation(c, m, k::kVsStockHigh);
  std::string text = (lower ? "x" + fmt(v) : (v >= 0 ? "+" : "") + fmt(v)) + interval_text(lo, hi) + " vs best stock";
  if (std::isfinite(lo)) {
    const int verdict = comparison_verdict(c, m, lower, k::kVsStockLow, k::kVsStockHigh);
    text += verdict > 0 ? ": better" : verdict < 0 ? ": worse" : ": within noise";
  }
  return text;
}

// Within the metric's noise floor: no better than two independent sets of the target score.
bool within_floor(const Report& r, const ReportCell& c, const std::string& m) {
  const double hi = annotation(c, m, metric_keys::kFloorHigh), f = annotation(c, m, metric_keys::kFloor);
  const double bound = std::isfinite(hi) ? hi : f;
  if (!std::isfinite(bound) || !has(&c, m)) return false;
  return lower_is_better(r, m) ? c.metrics.at(m) <= bound : c.metrics.at(m) >= bound;
}

}  // namespace

bool is_stock_schedule(const std::string& name) {
  return name.rfind("score_optimal", 0) != 0 && name.rfind("optimal_steps", 0) != 0 &&
         name.rfind("extra_sigmas", 0) != 0;
}

std::string markdown_table(const Report& r, const std::string& m) {
  Grid g = index(r);
  // Only the columns and rows that hold this metric: a report mixing a sweep with standalone
  // metrics (steps 0: "value") shows each in its own table.
  auto holds = [&](const std::string* s, const std::string* sampler, const int64_t* n) {
    for (const auto& c : r.cells)
      if ((!s || c.schedule == *s) && (!sampler || c.sampler == *sampler) && (!n || c.steps == *n) && has(&c, m))
        return true;
    return false;
  };
  g.steps.erase(std::remove_if(g.steps.begin(), g.steps.end(), [&](int64_t n) { return !holds(nullptr, nullptr, &n); }),
                g.steps.end());
  bool lower = lower_is_better(r, m);
  std::string out = "| schedule | sampler |";
  for (auto n : g.steps) out += n == 0 ? std::string(" value |") : " " + std::to_string(n) + " steps |";
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
      if (!holds(&s, &sampler, nullptr)) continue;
      out += "| " + s + " | " + sampler + " |";
      for (auto n : g.steps) {
        auto it = g.at.find({s, sampler, n});
        if (it == g.at.end() || !has(it->second, m)) {
          out += " - |";
          continue;
        }
        const ReportCell& c = *it->second;
        double v = c.metrics.at(m);
        std::string cell = fmt(v) + interval_text(annotation(c, m, metric_keys::kIntervalLow),
                                                  annotation(c, m, metric_keys::kIntervalHigh));
        std::vector<std::string> notes;
        if (c.nfe > 0 || c.steps > 0) notes.push_back(std::to_string(c.nfe) + " NFE");
        if ((c.nfe > 0 || c.steps > 0) && !is_stock_schedule(s)) {
          std::string vs = stock_comparison(r, g, c, m);
          if (!vs.empty()) notes.push_back(vs);
        }
        const double flips = annotation(c, m, metric_keys::kFlips);
        if (std::isfinite(flips)) notes.push_back(fmt(flips) + " flips");
        if (within_floor(r, c, m)) notes.push_back("within the noise floor");
        const bool column_best = best.count(n) && v == best[n];
        // The best of the column is bold only when its paired interval against the runner-up
        // excludes a tie (or when the report carries no intervals).
        const bool measured = std::isfinite(annotation(c, m, metric_keys::kVsNextLow));
        const bool clear =
            !measured || comparison_verdict(c, m, lower, metric_keys::kVsNextLow, metric_keys::kVsNextHigh) > 0;
        const double next = annotation(c, m, metric_keys::kVsNext);
        const bool exact_tie = next == (lower ? 1.0 : 0.0);
        if (column_best && !clear) notes.push_back(exact_tie ? "tied best" : "best, within noise of the next");
        for (size_t k = 0; k < notes.size(); ++k) cell += (k ? ", " : " (") + notes[k];
        if (!notes.empty()) cell += ")";
        if (column_best && clear) cell = "**" + cell + "**";
        out += " " + cell + " |";
      }
      out += "\n";
    }
  }
  return out;
}

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// The noise floor of a distribution metric and what it means for this report: how many cells
// it holds, and, when it is larger than the differences compared, the batch that would resolve them.
std::string floor_markdown(const Report& r, const std::string& m) {
  namespace k = metric_keys;
  const ReportCell* any = nullptr;
  int within = 0, total = 0;
  std::vector<double> compared, gaps;
  const bool lower = lower_is_better(r, m);
  for (const auto& c : r.cells) {
    if (!has(&c, m)) continue;
    ++total;
    if (!std::isfinite(annotation(c, m, k::kFloor))) continue;
    any = &c;
    within += within_floor(r, c, m);
    const double v = c.metrics.at(m);
    // The best stock value this cell was compared with: v x ratio (lower is better) or v - diff.
    const double vs = annotation(c, m, k::kVsStock), next = annotation(c, m, k::kVsNext);
    if (!is_stock_schedule(c.schedule) && std::isfinite(vs)) compared.push_back(std::fabs(lower ? v * vs - v : vs));
    if (std::isfinite(next)) gaps.push_back(std::fabs(lower ? v * next - v : next));
  }
  if (!any) return {};
  const double f = annotation(*any, m, k::kFloor), e = annotation(*any, m, k::kFloorExponent),
               n = annotation(*any, m, k::kParticles);
  std::string md = "Noise floor: " + fmt(f) +
                   interval_text(annotation(*any, m, k::kFloorLow), annotation(*any, m, k::kFloorHigh)) +
                   ", the metric between two independent sets of the target distribution at these sizes (what a "
                   "perfect sampler scores). " +
                   std::to_string(within) + " of " + std::to_string(total) +
                   " cells are within it (no better than its upper bound): they cannot be told from exact samples "
                   "at this batch.";
  const bool optimised = !compared.empty();
  const double d = median(optimised ? compared : gaps);
  if (std::isfinite(d) && d == 0) {
    md += " The compared cells measure identical values here (the same particles end in the same places).";
  } else if (std::isfinite(d) && d < f && std::isfinite(n) && n > 0) {
    const double exponent = std::isfinite(e) && e > 0 ? e : 0.5;
    const double needed = n * std::pow(f / (0.5 * std::max(d, 1e-300)), 1.0 / exponent);
    md += " The floor is larger than the median difference being compared (" + fmt(d) + ", " +
          (optimised ? "optimised schedules against the best stock one" : "each cell against the best other one") +
          "): at this batch those differences are noise. " +
          (needed < 1e9 ? "About " + fmt(std::ceil(needed / 1000.0) * 1000.0) + " particles"
                        : "More than 10^9 particles") +
          " would bring the floor to half of it (the floor scales as particles^-" + fmt(exponent) + ", measured).";
  }
  return md + "\n\n";
}

// The model evaluations the best stock schedule needs to reach `error`: each stock schedule's
// error-vs-NFE curve interpolated log-log between its measured points (extrapolated from the
// nearest two beyond them), the fewest over the stock schedules. NaN without two points.
double stock_nfe_for(const Grid& g, const std::string& sampler, const std::string& m, double error) {
  double best = NAN;
  for (const auto& s : g.schedules) {
    if (!is_stock_schedule(s)) continue;
    std::vector<std::pair<double, double>> curve;  // (log nfe, log error)
    for (auto n : g.steps) {
      auto it = g.at.find({s, sampler, n});
      if (it == g.at.end() || !has(it->second, m) || it->second->nfe <= 0 || !(it->second->metrics.at(m) > 0)) continue;
      curve.emplace_back(std::log(static_cast<double>(it->second->nfe)), std::log(it->second->metrics.at(m)));
    }
    if (curve.size() < 2 || !(error > 0)) continue;
    const double target = std::log(error);
    // The segment whose error range holds the target, else the end segment on the target's side.
    size_t k = 0;
    for (; k + 2 < curve.size(); ++k)
      if ((curve[k].second - target) * (curve[k + 1].second - target) <= 0) break;
    const auto [x0, y0] = curve[k];
    const auto [x1, y1] = curve[k + 1];
    if (y1 == y0) continue;
    const double nfe = std::exp(x0 + (target - y0) * (x1 - x0) / (y1 - y0));
    if (std::isfinite(nfe) && (std::isnan(best) || nfe < best)) best = nfe;
  }
  return best;
}

// "Steps saved": for each optimised schedule's cell, the share of model evaluations the best stock
// schedule would need beyond this cell's to reach the same primary-metric value, with the interval
// from the cell's own interval (the stock curve taken as exact).
std::string steps_saved_markdown(const Report& r) {
  if (r.metric_names.empty() || !lower_is_better(r, r.metric_names.front())) return {};
  const std::string& m = r.metric_names.front();
  Grid g = index(r);
  auto saved = [](double cell_nfe, double stock_nfe) { return 100.0 * (1.0 - cell_nfe / stock_nfe); };
  auto percent = [](double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.0f", v);
    return std::string(b);
  };
  std::string rows;
  for (const auto& s : g.schedules) {
    if (is_stock_schedule(s)) continue;
    for (const auto& sampler : g.samplers) {
      std::string row = "| " + s + " | " + sampler + " |";
      bool any = false;
      for (auto n : g.steps) {
        auto it = g.at.find({s, sampler, n});
        if (it == g.at.end() || !has(it->second, m) || it->second->nfe <= 0) {
          row += " - |";
          continue;
        }
        const ReportCell& c = *it->second;
        const double need = stock_nfe_for(g, sampler, m, c.metrics.at(m));
        if (!std::isfinite(need)) {
          row += " - |";
          continue;
        }
        any = true;
        const double nfe = static_cast<double>(c.nfe), v = saved(nfe, need);
        // A lower error needs more stock evaluations: the interval's low end saves the most.
        const double a = stock_nfe_for(g, sampler, m, annotation(c, m, metric_keys::kIntervalHigh)),
                     b = stock_nfe_for(g, sampler, m, annotation(c, m, metric_keys::kIntervalLow));
        std::string cell = v > -0.5 ? "saves " + percent(std::max(0.0, v)) + " %" : "needs " + percent(-v) + " % more";
        if (std::isfinite(a) && std::isfinite(b))
          cell += " [" + percent(saved(nfe, a)) + ", " + percent(saved(nfe, b)) + "]";
        row += " " + cell + " (stock: " + fmt(need) + " NFE) |";
      }
      if (any) rows += row + "\n";
    }
  }
  if (rows.empty()) return {};
  std::string md = "## Steps saved (" + m +
                   ")\n\nFor each optimised schedule: the model evaluations the best stock schedule "
                   "would need to reach the same " +
                   m +
                   " (its error-vs-NFE curve interpolated log-log between the "
                   "measured step counts, extrapolated beyond them), and the share this cell saves; in brackets, the "
                   "same for the ends of the cell's interval. Negative: the stock schedule gets there with fewer.\n\n"
                   "| schedule | sampler |";
  for (auto n : g.steps) md += " " + std::to_string(n) + " steps |";
  md += "\n|---|---|";
  for (size_t i = 0; i < g.steps.size(); ++i) md += "---|";
  return md + "\n" + rows + "\n";
}

std::string wall_time_table(const Grid& g) {
  std::string md = "| schedule | sampler |";
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
  return md;
}

const oss::Selection* held_out_selection(const ScheduleDiagnostics& d) {
  const auto* o = oss::as_optimal_steps(d);
  return o && o->selected ? &o->selection : nullptr;
}

// One table per optimised schedule that went through held-out selection.
std::string selection_markdown(const Report& r) {
  std::string md;
  for (const auto& d : r.diagnostics) {
    const oss::Selection* s = held_out_selection(*d);
    if (!s) continue;
    const auto* o = oss::as_optimal_steps(*d);
    md += "\n## Held-out selection: " + d->method + "\n\n" +
          (o && !o->settings_note.empty() ? "Settings: " + o->settings_note + ".\n\n" : std::string()) + s->summary +
          ".\n\n" + "Measured with the sampler on " + std::to_string(s->held_out) +
          " noises the optimiser never trained on; intervals are 95 % paired bootstrap intervals over those noises (" +
          std::to_string(s->resamples) + " resamples). Ratio: this RMS / the chosen one's (above 1: worse).\n\n" +
          "Mode weights: the total variation between the share of a candidate's outputs and of the reference "
          "outputs in each cluster of the reference outputs. Stock and connected schedules are always eligible; "
          "another candidate is not when it is materially and significantly worse in distribution than the best of "
          "them.\n\n" +
          "| candidate | RMS vs reference | ratio to chosen | sliced W2 vs reference | mode weights vs reference | "
          "eligible |\n|---|---|---|---|---|---|\n";
    for (size_t c = 0; c < s->scores.size(); ++c) {
      const auto& sc = s->scores[c];
      auto iv = [](const oss::Interval& i) { return "[" + fmt(i.lo) + ", " + fmt(i.hi) + "]"; };
      md += "| " + (c == s->chosen ? "**" + sc.label + "** (chosen)" : sc.label) + " | " + fmt(sc.rms) + " " +
            iv(sc.rms_interval) + " | " + fmt(sc.ratio) + " " + iv(sc.ratio_interval) + " | " + fmt(sc.sliced_w2) +
            " " + iv(sc.sliced_w2_interval) + " | " + fmt(sc.mode_tv) + " " + iv(sc.mode_tv_interval) + " | " +
            (sc.eligible ? "yes" : "no: " + sc.not_eligible) + " |\n";
    }
  }
  return md;
}

std::string report_markdown(const Report& r, const std::string& title, const std::string& versions) {
  Grid g = index(r);
  std::string md = "# " + title + "\n\n";
  md += "Model: " + r.model + "\n\n";
  if (!r.reference.empty()) md += "Reference: " + r.reference + "\n\n";
  md +=
      "Cells show the metric with its 95 % interval in brackets (a paired bootstrap over the particles, when the "
      "sweep measured one), the model evaluations (NFE) the run spent and, for optimised schedules, how they compare "
      "with the best stock schedule of the column: for errors and distances the ratio best-stock / this (above 1: "
      "better than every stock schedule), for log-densities the difference this - best-stock (above 0: better), with "
      "its paired interval and a verdict: better or worse only when the interval excludes a tie, otherwise within "
      "noise. Bold: the best schedule for that sampler and step count, when its paired interval against the "
      "runner-up excludes a tie. Flips: particles that ended nearest another mode than the reference solve's.\n\n";
  for (const auto& m : r.metric_names)
    md += "## " + m + (lower_is_better(r, m) ? " (lower is better)" : " (higher is better)") + "\n\n" +
          markdown_table(r, m) + "\n" + floor_markdown(r, m);
  md += steps_saved_markdown(r);
  if (!r.cells.empty()) md += "## Wall time per cell (seconds)\n\n" + wall_time_table(g);
  if (!r.timings.empty()) {
    md += "\n## Timings\n\n";
    for (const auto& [k, v] : r.timings) md += "- " + k + ": " + fmt(v) + "\n";
  }
  // Each schedule once per step count; sampler-aware schedules (different lists per sampler) once
  // per sampler.
  std::map<std::pair<std::string, int64_t>, std::vector<const ReportCell*>> by_schedule;
  for (const auto& c : r.cells) {
    if (c.sigmas.empty()) continue;  // metrics carry no schedule
    auto& v = by_schedule[{c.schedule, c.steps}];
    if (std::none_of(v.begin(), v.end(), [&](const ReportCell* o) { return o->sigmas == c.sigmas; })) v.push_back(&c);
  }
  std::string lists;
  for (const auto& c : r.cells) {
    auto it = by_schedule.find({c.schedule, c.steps});
    if (it == by_schedule.end()) continue;
    for (const ReportCell* o : it->second) {
      lists += "- " + o->schedule + (it->second.size() > 1 ? " (" + o->sampler + ")" : std::string()) + ", " +
               std::to_string(o->steps) + " steps: [";
      for (size_t i = 0; i < o->sigmas.size(); ++i) lists += (i ? ", " : "") + fmt(o->sigmas[i]);
      lists += "]\n";
    }
    by_schedule.erase(it);
  }
  md += selection_markdown(r);
  if (!lists.empty()) md += "\n## Schedules\n\n" + lists;
  return md + "\n" + versions + "\n";
}

nlohmann::ordered_json finite_or_null(const std::vector<double>& v) {
  nlohmann::ordered_json a = nlohmann::ordered_json::array();
  for (double x : v) a.push_back(std::isfinite(x) ? nlohmann::ordered_json(x) : nlohmann::ordered_json(nullptr));
  return a;
}

std::string report_json(const Report& r, const std::string& title, const std::string& graph_json,
                        const std::string& versions) {
  using json = nlohmann::ordered_json;
  json j;
  j["title"] = title;
  j["model"] = r.model;
  j["reference"] = r.reference;
  j["metrics"] = r.metric_names;
  j["timings"] = r.timings;
  j["cells"] = json::array();
  for (const auto& c : r.cells) {
    json mj = json::object();
    for (const auto& [k, v] : c.metrics) mj[k] = std::isfinite(v) ? json(v) : json(nullptr);
    j["cells"].push_back({{"schedule", c.schedule},
                          {"sampler", c.sampler},
                          {"steps", c.steps},
                          {"nfe", c.nfe},
                          {"wall_seconds", c.wall_seconds},
                          {"metrics", mj},
                          {"sigmas", c.sigmas}});
  }
  j["diagnostics"] = json::array();
  for (const auto& d : r.diagnostics) {
    nlohmann::ordered_json held_out(nullptr);
    if (const oss::Selection* s = held_out_selection(*d)) {
      held_out = {{"held_out", s->held_out},
                  {"resamples", s->resamples},
                  {"summary", s->summary},
                  {"chosen", s->scores[s->chosen].label},
                  {"candidates", nlohmann::ordered_json::array()}};
      for (const auto& sc : s->scores)
        held_out["candidates"].push_back({{"label", sc.label},
                                          {"rms", sc.rms},
                                          {"rms_interval", {sc.rms_interval.lo, sc.rms_interval.hi}},
                                          {"ratio", sc.ratio},
                                          {"ratio_interval", {sc.ratio_interval.lo, sc.ratio_interval.hi}},
                                          {"sliced_w2", sc.sliced_w2},
                                          {"sliced_w2_interval", {sc.sliced_w2_interval.lo, sc.sliced_w2_interval.hi}},
                                          {"mode_tv", sc.mode_tv},
                                          {"mode_tv_interval", {sc.mode_tv_interval.lo, sc.mode_tv_interval.hi}},
                                          {"eligible", sc.eligible},
                                          {"not_eligible", sc.not_eligible},
                                          {"sigmas", sc.sigmas}});
    }
    j["diagnostics"].push_back({{"method", d->method},
                                {"grid", d->grid},
                                {"interval_cost", d->interval_cost},
                                {"cumulative", d->cumulative},
                                {"schedule", d->schedule},
                                {"step_cost", d->step_cost},
                                {"nfe", d->nfe},
                                {"seconds", d->seconds},
                                {"from_cache", d->from_cache},
                                {"folded_samples", d->folded_samples},
                                {"sampler", d->sampler},
                                {"training_error", finite_or_null(d->training_error)},
                                {"held_out_selection", held_out}});
  }
  auto graph = json::parse(graph_json, nullptr, false);
  j["graph"] = graph.is_discarded() ? json(nullptr) : graph;
  j["versions"] = versions;
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Status write_schedule_plots(const Grid& g, const PathFor& path_for, std::vector<std::string>& written);

// One metric-vs-NFE plot per sampler: a line per schedule with the cells' intervals as error
// bars, and the metric's noise floor as a band when it was measured.
Status write_metric_plots(const Report& r, const Grid& g, const std::string& m, const std::string& file_stem,
                          const PathFor& path_for, std::vector<std::string>& written) {
  for (const auto& sampler : g.samplers) {
    std::vector<Series> series;
    Series floor{"noise floor", {}, {}};
    floor.band = true;
    for (const auto& s : g.schedules) {
      Series se{s, {}, {}};
      for (auto n : g.steps) {
        auto it = g.at.find({s, sampler, n});
        if (it == g.at.end() || !has(it->second, m)) continue;
        const ReportCell& c = *it->second;
        se.x.push_back(static_cast<double>(c.nfe));
        se.y.push_back(c.metrics.at(m));
        se.y_lo.push_back(annotation(c, m, metric_keys::kIntervalLow));
        se.y_hi.push_back(annotation(c, m, metric_keys::kIntervalHigh));
        if (floor.y.empty() && std::isfinite(annotation(c, m, metric_keys::kFloor))) {
          floor.y.push_back(annotation(c, m, metric_keys::kFloor));
          floor.y_lo.push_back(annotation(c, m, metric_keys::kFloorLow));
          floor.y_hi.push_back(annotation(c, m, metric_keys::kFloorHigh));
        }
      }
      if (!se.x.empty()) series.push_back(se);
    }
    if (series.empty()) continue;
    if (!floor.y.empty()) {
      floor.x.push_back(series.front().x.front());  // a level: drawn across the window
      series.push_back(floor);
    }
    PlotSpec spec =
        plot_spec(m + " vs NFE, sampler " + sampler, "model evaluations (NFE)", m, true, lower_is_better(r, m));
    for (const auto& se : series)
      if (!se.band) spec.x_ticks.insert(spec.x_ticks.end(), se.x.begin(), se.x.end());
    std::sort(spec.x_ticks.begin(), spec.x_ticks.end());
    spec.x_ticks.erase(std::unique(spec.x_ticks.begin(), spec.x_ticks.end()), spec.x_ticks.end());
    Status st = write_plot(path_for(file_stem + safe_name(sampler)), spec, series, &written);
    // Metrics without NFE (e.g. measured on data) have nothing to place on a log axis: no plot.
    if (!st.ok() && st.code() != Code::kInvalidArgument) return st;
  }
  return Status::Ok();
}

// The primary metric per sampler, sliced W2 per sampler when it has a noise floor (the floor is
// what a reader must see next to a distribution metric), and the schedules at the largest N.
Status write_cell_plots(const Report& r, const PathFor& path_for, std::vector<std::string>& written) {
  const std::string& primary = r.metric_names.front();
  Grid g = index(r);
  Status st = write_metric_plots(r, g, primary, "_error_vs_nfe_", path_for, written);
  if (!st.ok()) return st;
  const std::string distribution = "sliced_wasserstein";
  const bool floored = std::any_of(r.cells.begin(), r.cells.end(), [&](const ReportCell& c) {
    return std::isfinite(annotation(c, distribution, metric_keys::kFloor));
  });
  if (primary != distribution && floored) {
    st = write_metric_plots(r, g, distribution, "_sliced_w2_vs_nfe_", path_for, written);
    if (!st.ok()) return st;
  }
  return write_schedule_plots(g, path_for, written);
}

// The schedules at the largest step count: one plot, or one per sampler when a sampler-aware
// schedule gives each sampler its own.
Status write_schedule_plots(const Grid& g, const PathFor& path_for, std::vector<std::string>& written) {
  const int64_t n_plot = g.steps.back();
  auto series_for = [&](const std::string& sampler) {
    std::vector<Series> sched;
    for (const auto& s : g.schedules) {
      auto it = g.at.find({s, sampler, n_plot});
      if (it == g.at.end() || it->second->sigmas.empty()) continue;
      Series se{s + " (" + std::to_string(n_plot) + " steps)", {}, {}};
      for (size_t i = 0; i < it->second->sigmas.size(); ++i)
        if (it->second->sigmas[i] > 0) {
          se.x.push_back(static_cast<double>(i));
          se.y.push_back(it->second->sigmas[i]);
        }
      sched.push_back(se);
    }
    return sched;
  };
  bool per_sampler = false;
  for (const auto& s : g.schedules)
    for (const auto& sampler : g.samplers) {
      auto a = g.at.find({s, g.samplers.front(), n_plot}), b = g.at.find({s, sampler, n_plot});
      if (a != g.at.end() && b != g.at.end() && a->second->sigmas != b->second->sigmas) per_sampler = true;
    }
  std::vector<std::string> plotted = per_sampler ? g.samplers : std::vector<std::string>{g.samplers.front()};
  for (const auto& sampler : plotted) {
    auto sched = series_for(sampler);
    if (sched.empty()) continue;
    std::string title = per_sampler ? "schedules for " + sampler : std::string("schedules");
    Status st = write_plot(path_for(per_sampler ? "_schedules_" + safe_name(sampler) : "_schedules"),
                           plot_spec(title, "step", "sigma", false, true), sched, &written);
    if (!st.ok() && st.code() != Code::kInvalidArgument) return st;
  }
  return Status::Ok();
}

// A method's name without its settings ("optimal_steps dpmpp_2m grid=log K=128 ..." ->
// "optimal_steps dpmpp_2m"): the full text overflowed plot titles and legends.
std::string method_headline(const std::string& method) {
  const size_t eq = method.find('=');
  if (eq == std::string::npos) return method;
  const size_t cut = method.rfind(' ', eq);
  return cut == std::string::npos ? method : method.substr(0, cut);
}

// An optimiser's training error per step count, next to every schedule's measured error for the
// same sampler (fresh noise, from the sweep): the gap shows how well the training generalises.
Status write_training_plot(const Report& r, const ScheduleDiagnostics& d, const std::string& suffix,
                           const PathFor& path_for, std::vector<std::string>& written) {
  Series train{method_headline(d.method) + " (training noises)", {}, {}};
  for (size_t n = 0; n < d.training_error.size(); ++n)
    if (std::isfinite(d.training_error[n]) && d.training_error[n] > 0) {
      train.x.push_back(static_cast<double>(n + 1));
      train.y.push_back(d.training_error[n]);
    }
  std::vector<Series> series{train};
  if (!r.metric_names.empty() && !d.sampler.empty()) {
    const std::string& primary = r.metric_names.front();
    Grid g = index(r);
    for (const auto& s : g.schedules) {
      Series se{s + " (" + primary + ")", {}, {}};
      for (auto n : g.steps) {
        auto it = g.at.find({s, d.sampler, n});
        if (it == g.at.end() || !has(it->second, primary) || !(it->second->metrics.at(primary) > 0)) continue;
        se.x.push_back(static_cast<double>(n));
        se.y.push_back(it->second->metrics.at(primary));
      }
      if (!se.x.empty()) series.push_back(se);
    }
  }
  Status st = write_plot(
      path_for("_training" + suffix),
      plot_spec(method_headline(d.method) + ": error vs steps", "steps", "RMS error against the reference", true, true),
      series, &written);
  return st.ok() || st.code() == Code::kInvalidArgument ? Status::Ok() : st;
}

// The estimated cost per unit log sigma, and the cumulative length with the output steps on it.
Status write_diagnostic_plots(const ScheduleDiagnostics& d, const std::string& suffix, const PathFor& path_for,
                              std::vector<std::string>& written) {
  Series cost{"cost per interval / d log sigma", {}, {}};
  for (size_t i = 0; i < d.interval_cost.size() && i + 1 < d.grid.size(); ++i) {
    double dl = std::log(d.grid[i] / d.grid[i + 1]);
    cost.x.push_back(std::sqrt(d.grid[i] * d.grid[i + 1]));
    cost.y.push_back(d.interval_cost[i] / (dl * dl));
  }
  Status st = write_plot(path_for("_cost" + suffix),
                         plot_spec(d.method + ": estimated cost", "sigma", "L / (d log sigma)^2", true, true), {cost},
                         &written);
  if (!st.ok() || d.cumulative.size() != d.grid.size()) return st;
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
  return write_plot(path_for("_length" + suffix),
                    plot_spec(d.method + ": cumulative length", "sigma", "Lambda", true, false), {lam, steps},
                    &written);
}

}  // namespace

Status write_report(const Report& r, const std::string& title, const PathFor& path_for, const std::string& graph_json,
                    const std::string& versions, ReportFiles* files) {
  std::vector<std::string> written;
  const std::string markdown = report_markdown(r, title, versions);
  for (auto [path, body] : {std::pair{path_for(".md"), markdown},
                            std::pair{path_for(".json"), report_json(r, title, graph_json, versions)}}) {
    Status st = write_file_atomic(path, body);
    if (!st.ok()) return st;
    written.push_back(path);
  }
  if (!r.metric_names.empty() && !r.cells.empty()) {
    Status st = write_cell_plots(r, path_for, written);
    if (!st.ok()) return st;
  }
  for (size_t k = 0; k < r.diagnostics.size(); ++k) {
    const auto& d = *r.diagnostics[k];
    const std::string suffix = r.diagnostics.size() > 1 ? "_" + std::to_string(k) : "";
    Status st = d.training_error.empty() ? Status::Ok() : write_training_plot(r, d, suffix, path_for, written);
    if (st.ok() && d.grid.size() >= 2 && !d.interval_cost.empty())
      st = write_diagnostic_plots(d, suffix, path_for, written);
    if (!st.ok()) return st;
  }
  // Last, the page that holds it all: every SVG plot just written, inline.
  std::vector<std::string> svgs;
  for (const auto& path : written)
    if (path.size() > 4 && path.compare(path.size() - 4, 4, ".svg") == 0) {
      Result<std::string> svg = read_file_bounded(path, kMaxGraphFileBytes);
      if (!svg.ok()) return svg.status();
      svgs.push_back(*svg);
    }
  const std::string html_path = path_for(".html");
  Status st = write_file_atomic(html_path, report_html(title, markdown, svgs, graph_json));
  if (!st.ok()) return st;
  written.push_back(html_path);
  if (files) {
    files->written = written;
    files->table_text = r.metric_names.empty() ? std::string() : markdown_table(r, r.metric_names.front());
  }
  return Status::Ok();
}

}  // namespace sf::nodes
