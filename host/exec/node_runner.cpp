#include "sigmaflow/testing/node_runner.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "exec/executor.h"
#include "exec/host_context.h"
#include "graph/graph.h"
#include "plugins/plugin_host.h"
#include "validate/validate.h"

namespace sf::testing {

namespace fs = std::filesystem;
using namespace sf::host;

namespace {
class CollectingObserver : public RunObserver {
 public:
  explicit CollectingObserver(std::vector<std::string>& lines) : lines_(lines) {}
  void message(const PlannedNode&, bool warning, const std::string& text) override {
    lines_.push_back((warning ? "warning: " : "") + text);
  }

 private:
  std::vector<std::string>& lines_;
};
}  // namespace

struct NodeRunner::Impl {
  PluginHost host;
  std::vector<std::string> problems;
  RunOptions options;
};

NodeRunner::NodeRunner(const std::vector<std::string>& plugin_paths, std::string output_dir)
    : impl_(std::make_unique<Impl>()) {
  for (const auto& p : plugin_paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      ScanOptions o;
      o.dirs = {p};
      o.isolate = false;
      impl_->host.scan(o);
    } else {
      Status st = impl_->host.load(fs::absolute(p).string(), /*isolate=*/false);
      if (!st.ok()) impl_->problems.push_back(p + ": " + st.message());
    }
  }
  for (const auto& pr : impl_->host.problems()) impl_->problems.push_back(pr.path + ": " + pr.message);
  if (output_dir.empty()) {
    std::random_device rd;
    output_dir = (fs::temp_directory_path() / ("sigmaflow-test-" + std::to_string(rd()))).string();
  }
  impl_->options.output_dir = output_dir;
  impl_->options.cache_dir = output_dir + "/.cache";
  impl_->options.versions = "sigmaflow test harness";
}

NodeRunner::~NodeRunner() = default;

std::vector<std::string> NodeRunner::load_problems() const { return impl_->problems; }
bool NodeRunner::has_node(const std::string& ct) const { return impl_->host.node(ct) != nullptr; }
std::vector<std::string> NodeRunner::schedule_names() const { return impl_->host.catalogue().schedule_names(); }
std::vector<std::string> NodeRunner::sampler_names() const { return impl_->host.catalogue().sampler_names(); }
const std::string& NodeRunner::output_dir() const { return impl_->options.output_dir; }
void NodeRunner::set_default_device(c10::Device d) { impl_->options.device = d; }

NodeRun NodeRunner::run(const std::string& class_type, const std::string& literals_json,
                        const std::map<std::string, Value>& values) {
  NodeRun r;
  const CatalogueEntry* entry = impl_->host.catalogue().find(class_type);
  const NodeDef* def = impl_->host.node(class_type);
  if (!entry || !def) {
    r.error_kind = "validation";
    r.error_type = "invalid_prompt";
    r.error = "no loaded plugin provides class_type '" + class_type + "'";
    return r;
  }
  // Parse the literals as a one-node graph so they are read exactly as graph files are.
  auto parsed = parse_graph(R"({"1": {"class_type": ")" + class_type + R"(", "inputs": )" + literals_json + "}}");
  if (!parsed.ok()) {
    r.error_kind = "validation";
    r.error_type = "invalid_prompt";
    r.error = parsed.status().message();
    return r;
  }
  const GraphNode& gnode = parsed->nodes.at("1");
  PlannedNode node;
  node.id = "1";
  node.entry = entry;
  Inputs inputs;
  for (const auto& spec : entry->contract.inputs) {
    auto v = values.find(spec.name);
    if (v != values.end()) {
      inputs.set(spec.name, v->second);
      continue;
    }
    const GraphInput* in = gnode.find_input(spec.name);
    if (!in) {
      if (spec.default_value && is_literal_type(spec.type) && !spec.optional) {
        inputs.set(spec.name, Value(spec.type, *spec.default_value));
        node.literals[spec.name] = *spec.default_value;
      } else if (!spec.optional) {
        r.error_kind = "validation";
        r.error_type = "required_input_missing";
        r.error_input = spec.name;
        r.error = "node 1 (" + class_type + "): required input '" + spec.name + "' is missing";
        return r;
      }
      continue;
    }
    Literal coerced;
    LiteralProblem problem;
    if (in->link || in->malformed_link || !coerce_literal(spec, in->literal, coerced, problem)) {
      r.error_kind = "validation";
      r.error_type = in->link ? "bad_linked_input" : problem.type.empty() ? "bad_linked_input" : problem.type;
      r.error_input = spec.name;
      r.error = "node 1 (" + class_type + "), input '" + spec.name + "' = " + in->raw_json + ": " +
                (problem.type.empty() ? "links are not available in NodeRunner::run; pass a Value" : problem.message + " (" + problem.details + ")");
      return r;
    }
    node.literals[spec.name] = coerced;
    inputs.set(spec.name, Value(spec.type, coerced));
  }
  CollectingObserver observer(r.messages);
  Graph empty;
  HostContext ctx(impl_->host, impl_->options, empty, node, &observer, r.files);
  ExecError err;
  std::error_code ec;
  fs::create_directories(impl_->options.output_dir, ec);
  if (!def->invoke(ctx, inputs, r.outputs, err)) {
    r.error_kind = "execution";
    r.error_input = err.input;
    r.error = "node 1 (" + class_type + ", plugin " + entry->plugin + ")";
    if (!err.input.empty()) {
      r.error += ", input '" + err.input + "'";
      auto lit = node.literals.find(err.input);
      if (lit != node.literals.end()) r.error += " = " + lit->second.to_json();
      else if (!err.value.empty()) r.error += " = " + err.value;
    }
    r.error += ": " + err.message;
    r.outputs.clear();
    return r;
  }
  if (r.outputs.size() != entry->contract.outputs.size()) {
    r.error_kind = "execution";
    r.error = "node 1 (" + class_type + ", plugin " + entry->plugin + "): execute returned " +
              std::to_string(r.outputs.size()) + " output(s), its contract declares " +
              std::to_string(entry->contract.outputs.size());
    return r;
  }
  r.ok = true;
  return r;
}

NodeRun NodeRunner::run_graph(const std::string& graph_json, std::map<std::string, Outputs>* node_outputs) {
  NodeRun r;
  auto parsed = parse_graph(graph_json);
  if (!parsed.ok()) {
    r.error_kind = "validation";
    r.error_type = "invalid_prompt";
    r.error = parsed.status().message();
    return r;
  }
  auto v = validate_graph(*parsed, impl_->host.catalogue());
  if (!v.report.ok()) {
    r.error_kind = "validation";
    r.error_type = v.report.issues.front().type;
    r.error_input = v.report.issues.front().input_name;
    r.error = v.report.to_text();
    return r;
  }
  CollectingObserver observer(r.messages);
  RunResult res = execute_plan(impl_->host, *parsed, v.plan, impl_->options, &observer);
  r.files = res.files;
  if (!res.status.ok()) {
    r.error_kind = "execution";
    r.error_input = res.failed_input;
    r.error = res.status.message();
    return r;
  }
  if (node_outputs) *node_outputs = res.outputs;
  r.ok = true;
  return r;
}

}  // namespace sf::testing
