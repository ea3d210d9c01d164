// The NodeRunner test harness: one node, or a graph, through the real validator and executor.
#include "sigmaflow/testing/node_runner.h"

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "exec/allocator.h"
#include "exec/executor.h"
#include "exec/threads.h"
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

// The host's catalogue plus synthetic nodes: one per given value, and a sink that makes the
// node under test needed.
class Overlay : public NodeSource {
 public:
  explicit Overlay(const PluginHost& base) : base_(base), catalogue_(base.catalogue()) {}
  const Catalogue& catalogue() const override { return catalogue_; }
  const NodeDef* node(const std::string& ct) const override {
    auto it = extra_.find(ct);
    return it != extra_.end() ? &it->second : base_.node(ct);
  }
  const ScheduleDef* schedule(const std::string& n) const override { return base_.schedule(n); }
  const SamplerDef* sampler(const std::string& n) const override { return base_.sampler(n); }
  std::string load_problem(const std::string& p) const override { return base_.load_problem(p); }

  void add(NodeContract c, Outputs outs) {
    catalogue_.put({c, "test_harness", "(NodeRunner)", {}});
    extra_[c.class_type] = make_node(c, [outs](Context&, const Inputs&) { return outs; });
  }

 private:
  const PluginHost& base_;
  Catalogue catalogue_;
  std::map<std::string, NodeDef> extra_;
};

NodeRun validation_error(std::string type, std::string message, std::string input = {}) {
  NodeRun r;
  r.error_kind = "validation";
  r.error_type = std::move(type);
  r.error = std::move(message);
  r.error_input = std::move(input);
  return r;
}

}  // namespace

struct NodeRunner::Impl {
  PluginHost host;
  RunOptions options;

  NodeRun execute(const NodeSource& source, const std::string& graph_json, const std::string& node_of_interest,
                  std::map<std::string, Outputs>* node_outputs) {
    auto parsed = parse_graph(graph_json);
    if (!parsed.ok()) return validation_error("invalid_prompt", parsed.status().message());
    auto v = validate_graph(*parsed, source.catalogue());
    if (v.report.ok()) v.report.issues = check_literal_inputs(source, v.plan);
    if (!v.report.ok())
      return validation_error(v.report.issues.front().type, v.report.to_text(), v.report.issues.front().input_name);
    NodeRun r;
    CollectingObserver observer(r.messages);
    RunResult res = execute_plan(source, *parsed, v.plan, options, &observer);
    r.files = res.files;
    if (!res.status.ok()) {
      r.error_kind = "execution";
      r.error_input = res.failed_input;
      r.error = res.status.message();
      return r;
    }
    if (node_outputs) *node_outputs = res.outputs;
    if (!node_of_interest.empty()) r.outputs = res.outputs[node_of_interest];
    r.ok = true;
    return r;
  }
};

NodeRunner::NodeRunner(const std::vector<std::string>& plugin_paths, std::string output_dir)
    : impl_(std::make_unique<Impl>()) {
  keep_freed_memory_for_reuse();
  configure_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency())));
  ScanOptions o;
  o.isolate = false;
  for (const auto& p : plugin_paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      o.dirs = {p};
      impl_->host.scan(o);
    } else {
      (void)impl_->host.add_file(fs::absolute(p).string(), o);  // problems are listed by load_problems()
    }
  }
  if (output_dir.empty()) {
    std::random_device rd;
    output_dir = (fs::temp_directory_path() / ("sigmaflow-test-" + std::to_string(rd()))).string();
  }
  impl_->options.output_dir = output_dir;
  impl_->options.cache_dir = output_dir + "/.cache";
  impl_->options.versions = "sigmaflow test harness";
  impl_->options.overwrite = true;
}

NodeRunner::~NodeRunner() = default;

std::vector<std::string> NodeRunner::load_problems() const {
  std::vector<std::string> out;
  for (const auto& p : impl_->host.problems()) out.push_back(p.path + ": " + p.message);
  return out;
}
bool NodeRunner::has_node(const std::string& ct) const { return impl_->host.catalogue().find(ct) != nullptr; }
std::string NodeRunner::provider(const std::string& ct) const {
  const auto* e = impl_->host.catalogue().find(ct);
  return e ? e->plugin : std::string();
}
std::vector<std::string> NodeRunner::schedule_names() const { return impl_->host.catalogue().schedule_names(); }
std::vector<std::string> NodeRunner::sampler_names() const { return impl_->host.catalogue().sampler_names(); }
const std::string& NodeRunner::output_dir() const { return impl_->options.output_dir; }
void NodeRunner::set_default_device(c10::Device d) { impl_->options.device = d; }
void NodeRunner::set_overwrite(bool overwrite) { impl_->options.overwrite = overwrite; }

NodeRun NodeRunner::run(const std::string& class_type, const std::string& literals_json,
                        const std::map<std::string, Value>& values) {
  const CatalogueEntry* entry = impl_->host.catalogue().find(class_type);
  if (!entry) return validation_error("invalid_prompt", "no loaded plugin provides class_type '" + class_type + "'");
  auto inputs = nlohmann::json::parse(literals_json, nullptr, false);
  if (inputs.is_discarded() || !inputs.is_object())
    return validation_error("invalid_prompt", "literals must be a JSON object, got: " + literals_json);
  Overlay overlay(impl_->host);
  nlohmann::json graph = nlohmann::json::object();
  for (const auto& [name, value] : values) {
    NodeContract c;
    c.class_type = "__Value_" + name;
    OutputSpec out{value.type(), name, {}, {}};
    if (value.is_object())
      if (auto m = std::dynamic_pointer_cast<const Model>(value.object()); m && m->exact())
        out.provides = {kExactDensity};
    c.outputs = {out};
    overlay.add(c, Outputs{value});
    graph["__value_" + name] = {{"class_type", c.class_type}, {"inputs", nlohmann::json::object()}};
    inputs[name] = {"__value_" + name, 0};
  }
  graph["1"] = {{"class_type", class_type}, {"inputs", inputs}};
  if (!entry->contract.output_node) {
    NodeContract sink;
    sink.class_type = "__Sink";
    sink.output_node = true;
    nlohmann::json links = nlohmann::json::object();
    for (size_t i = 0; i < entry->contract.outputs.size(); ++i) {
      sink.inputs.push_back(Optional(Port("o" + std::to_string(i), "*")));
      links["o" + std::to_string(i)] = {"1", i};
    }
    overlay.add(sink, Outputs{});
    graph["__sink"] = {{"class_type", "__Sink"}, {"inputs", links}};
  }
  return impl_->execute(overlay, graph.dump(), "1", nullptr);
}

NodeRun NodeRunner::run_graph(const std::string& graph_json, std::map<std::string, Outputs>* node_outputs,
                              const std::string& graph_dir) {
  impl_->options.graph_dir = graph_dir;
  NodeRun r = impl_->execute(impl_->host, graph_json, "", node_outputs);
  impl_->options.graph_dir.clear();
  return r;
}

}  // namespace sf::testing
