// CompareReport: the output node of an A/B graph.
#include <ATen/ATen.h>

#include <sstream>

#include "../common/text.h"
#include "nodes.h"
#include "report_writer.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Report> kReport{Optional(Port("report", "REPORT"))};
const In<Metric> kMetric1{Optional(Port("metric_1", "METRIC"))};
const In<Metric> kMetric2{Optional(Port("metric_2", "METRIC"))};
const In<Metric> kMetric3{Optional(Port("metric_3", "METRIC"))};
const In<Metric> kMetric4{Optional(Port("metric_4", "METRIC"))};
const In<Metric> kMetric5{Optional(Port("metric_5", "METRIC"))};
const In<Metric> kMetric6{Optional(Port("metric_6", "METRIC"))};
const In<Metric>* const kMetrics[] = {&kMetric1, &kMetric2, &kMetric3, &kMetric4, &kMetric5, &kMetric6};
const In<ScheduleDiagnostics> kDiagnostics{Optional(Port("diagnostics", "SCHEDULE_DIAGNOSTICS"))};
const In<ScheduleDiagnostics> kDiagnostics2{Optional(Port("diagnostics_2", "SCHEDULE_DIAGNOSTICS"))};
const In<std::string> kLabels{
    Tooltip(String("labels", ""), "row names for metric_1..metric_6, comma separated (e.g. the schedules)")};
const In<std::string> kTitle{String("title", "Scheduler comparison")};
const In<std::string> kFilenamePrefix{String("filename_prefix", "ab/report")};

}  // namespace

NodeDef compare_report_node() {
  NodeContract c = OutputNode(
      "CompareReport", kAbCategory,
      "Writes <prefix>.html (everything below in one self-contained page, plots inline, no request), <prefix>.md "
      "(tables: schedule x sampler rows, step-count columns, each value with its 95 % interval, NFE, the paired ratio "
      "to the best stock schedule with a verdict (better / worse / within noise), the clear best per column in bold, "
      "noise floors, steps saved), <prefix>.json (every number, the graph and versions) and PNG/SVG plots (error vs "
      "NFE with error bars, sliced W2 with its floor, the schedules, and the score-optimal cost curve and cumulative "
      "length when diagnostics are connected). Takes a "
      "REPORT from ScheduleSweep and/or individual METRIC values, and SCHEDULE_DIAGNOSTICS (an optimiser's held-out "
      "selection table among them; diagnostics alone make a report too). Prints the main table.",
      {kReport, kMetric1, kMetric2, kMetric3, kMetric4, kMetric5, kMetric6, kDiagnostics, kDiagnostics2, kLabels,
       kTitle, kFilenamePrefix});
  // Nothing connected is a graph error, found by `validate` before any other node runs.
  c.constraints.push_back(AnyOf({kReport.name(), kMetric1.name(), kMetric2.name(), kMetric3.name(), kMetric4.name(),
                                 kMetric5.name(), kMetric6.name(), kDiagnostics.name(), kDiagnostics2.name()},
                                "a report needs a REPORT, METRIC or SCHEDULE_DIAGNOSTICS input"));
  return make_node(c, [](Context& ctx, const Inputs& in) {
    Report report;
    if (kReport.given(in)) report = *kReport(in);
    // Individual metrics become cells labelled by `labels` (or their provenance).
    std::vector<std::string> labels = split_commas(kLabels(in));
    for (int k = 1; k <= 6; ++k) {
      const In<Metric>& port = *kMetrics[k - 1];
      if (!port.given(in)) continue;
      auto m = port(in);
      const std::string& name = port.name();
      ReportCell cell;
      const std::string& label =
          static_cast<size_t>(k - 1) < labels.size() ? labels[static_cast<size_t>(k - 1)] : std::string();
      cell.schedule = !label.empty() ? label : m->schedule.empty() ? name : m->schedule;
      cell.sampler = m->sampler.empty() ? "-" : m->sampler;
      cell.steps = m->steps;
      cell.nfe = m->nfe;
      cell.wall_seconds = m->wall_seconds;
      cell.metrics[m->name] = m->value;
      for (const auto& [key, v] : m->annotations) cell.metrics[metric_annotation(m->name, key.c_str())] = v;
      if (std::find(report.metric_names.begin(), report.metric_names.end(), m->name) == report.metric_names.end())
        report.metric_names.push_back(m->name);
      report.lower_is_better[m->name] = m->lower_is_better;
      if (report.model.empty()) report.model = m->computed_on;
      // Metrics of the same run (same label, sampler and steps) share one cell.
      auto same = std::find_if(report.cells.begin(), report.cells.end(), [&](const ReportCell& c) {
        return c.schedule == cell.schedule && c.sampler == cell.sampler && c.steps == cell.steps;
      });
      if (same != report.cells.end())
        for (const auto& [key, v] : cell.metrics) same->metrics[key] = v;
      else
        report.cells.push_back(cell);
    }
    for (const In<ScheduleDiagnostics>* d : {&kDiagnostics, &kDiagnostics2})
      if (d->given(in)) report.diagnostics.push_back((*d)(in));
    if (report.cells.empty() && report.diagnostics.empty())
      throw InputError(kReport.name(), "null",
                       "nothing to report: connect a REPORT (ScheduleSweep), METRIC or SCHEDULE_DIAGNOSTICS inputs");
    const std::string& prefix = kFilenamePrefix(in);
    ReportFiles files;
    PathFor path_for = [&](const std::string& suffix) {
      auto p = ctx.output_path(prefix, suffix, kFilenamePrefix.name());
      if (!p.ok()) throw InputError(kFilenamePrefix.name(), "\"" + prefix + "\"", p.status().message());
      return *p;
    };
    Status st = write_report(report, kTitle(in), path_for, ctx.graph_json(), ctx.versions(), &files);
    if (!st.ok()) throw InputError(kFilenamePrefix.name(), "\"" + prefix + "\"", st.message());
    for (const auto& f : files.written) ctx.record_output(f);
    if (!files.table_text.empty()) {
      std::string primary = report.metric_names.front();
      ctx.info(primary + " (lower is better unless noted):\n" + files.table_text);
    }
    return Outputs{};
  });
}

}  // namespace sf::nodes
