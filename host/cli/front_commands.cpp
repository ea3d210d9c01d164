#include "cli/front_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

#include "cli/app.h"
#include "exec/allocator.h"
#include "sigmaflow/files.h"

namespace sf::host {

void scan_plugins(PluginIndex& index, const CliOptions& o, bool quiet) {
  ScanOptions opts;
  opts.dirs = default_plugin_dirs(o.plugin_dirs);
  opts.cache_dir = default_cache_dir();
  index.scan(opts);
  if (!quiet) print_scan_notes(index, o);
}

void print_scan_notes(const PluginIndex& index, const CliOptions& o) {
  std::vector<std::string> missing;
  default_plugin_dirs(o.plugin_dirs, &missing);
  for (const auto& d : missing) fmt::print(stderr, "warning: plugin folder '{}' does not exist; ignoring it\n", d);
  for (const auto& p : index.problems()) fmt::print(stderr, "warning: plugin {}: {}\n", p.path, p.message);
  for (const auto& n : index.override_notes()) fmt::print(stderr, "note: {}\n", n);
}

namespace {

bool checks_literals_with_code(const Plan& plan) {
  return std::any_of(plan.order.begin(), plan.order.end(),
                     [](const PlannedNode& n) { return n.entry->contract.checks_inputs; });
}

}  // namespace

int check_graph_file(const PluginIndex& index, const CliOptions& o, const LiteralChecks& checks, Graph& graph,
                     Plan& plan, ValidationReport& report, bool keep_text) {
  // A large graph is millions of small allocations: about 6.5 bytes of heap per byte of file, and
  // more address space (vectors reserved for the most nodes the text could hold).
  constexpr uint64_t kLargeGraphBytes = 16 << 20;
  if (auto size = check_readable_file(o.graph_path, kMaxGraphFileBytes); size.ok() && *size >= kLargeGraphBytes)
    reserve_heap_in_huge_pages(static_cast<size_t>(*size) * 12);
  auto parsed = load_graph_file(o.graph_path);
  if (!parsed.ok()) {
    report = report_for_unreadable_graph(parsed.status().message());
    return kExitValidation;
  }
  graph = std::move(parsed.value());
  if (!keep_text) std::string().swap(graph.text);
  auto v = validate_graph(graph, index.catalogue());
  report = std::move(v.report);
  plan = std::move(v.plan);
  // Rules only a node's own code can check (its check_inputs hook), on literals.
  // (validate_graph fills dependent_outputs for its own issues; the plan is empty then.)
  if (report.ok() && checks_literals_with_code(plan)) {
    if (!checks) return kNeedsNodeCode;
    report.issues = checks(plan);
    if (!report.ok()) report.dependent_outputs = dependent_outputs(graph, plan.outputs, report.issues);
  }
  return report.ok() ? kExitOk : kExitValidation;
}

void print_validation_problems(const ValidationReport& report, const CliOptions& o) {
  if (o.as_json)
    fmt::print("{}\n", report.to_json());
  else
    fmt::print(stderr, "{}: the graph failed validation ({} problem{}):\n{}", o.graph_path, report.issues.size(),
               report.issues.size() == 1 ? "" : "s", report.to_text());
}

int cmd_validate(const CliOptions& o, PluginIndex& index, const LiteralChecks& checks) {
  scan_plugins(index, o, true);
  Graph graph;
  Plan plan;
  ValidationReport report;
  const int rc = check_graph_file(index, o, checks, graph, plan, report, /*keep_text=*/false);
  if (rc == kNeedsNodeCode) return rc;  // nothing printed: the executor says it all
  if (!o.as_json) print_scan_notes(index, o);
  if (rc != kExitOk) {
    print_validation_problems(report, o);
    return rc;
  }
  if (o.as_json)
    fmt::print("{}\n", ValidationReport{}.to_json());
  else
    fmt::print("{}: valid; {} node(s) to run for {} output node(s)\n", o.graph_path, plan.order.size(),
               plan.outputs.size());
  return kExitOk;
}

namespace {
std::string input_summary(const InputSpec& in) {
  std::string s = in.name + (in.optional ? "?" : "") + ": " + (in.type == "COMBO" ? std::string("COMBO") : in.type);
  if (in.default_value) s += " = " + shorten_json(in.default_value->to_json(), 40);
  return s;
}
}  // namespace

int cmd_nodes(const CliOptions& o) {
  PluginIndex host;
  scan_plugins(host, o, o.as_json);
  if (o.as_json) {
    fmt::print("{}\n", host.catalogue().object_info_json());
    return kExitOk;
  }
  std::vector<const CatalogueEntry*> entries;
  for (const auto& [_, e] : host.catalogue().entries()) entries.push_back(&e);
  std::sort(entries.begin(), entries.end(), [](auto* a, auto* b) {
    return std::tie(a->contract.category, a->contract.class_type) <
           std::tie(b->contract.category, b->contract.class_type);
  });
  std::string category;
  for (const auto* e : entries) {
    if (e->contract.category != category) {
      category = e->contract.category;
      fmt::print("{}\n", category.empty() ? "(no category)" : category);
    }
    std::string ins, outs;
    for (const auto& in : e->contract.inputs) ins += (ins.empty() ? "" : ", ") + input_summary(in);
    for (const auto& out : e->contract.outputs) outs += (outs.empty() ? "" : ", ") + out.type;
    fmt::print("  {}({}) -> ({}){}  [{}]\n", e->contract.class_type, ins, outs,
               e->contract.output_node ? " output" : "", e->plugin);
  }
  fmt::print("schedules: {}\n", fmt::join(host.catalogue().schedule_names(), ", "));
  fmt::print("samplers: {}\n", fmt::join(host.catalogue().sampler_names(), ", "));
  return kExitOk;
}

}  // namespace sf::host
