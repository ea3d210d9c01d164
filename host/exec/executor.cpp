#include "exec/executor.h"

#include <chrono>
#include <filesystem>

namespace sf::host {

namespace {

class HostContext : public Context {
 public:
  HostContext(const PluginHost& plugins, const RunOptions& options, const Graph& graph, const PlannedNode& node,
              RunObserver* observer, std::vector<std::string>& files)
      : plugins_(plugins), options_(options), graph_(graph), node_(node), observer_(observer), files_(files) {}

  const std::string& node_id() const override { return node_.id; }
  const std::string& class_type() const override { return node_.entry->contract.class_type; }
  void progress(int64_t done, int64_t total) override {
    if (observer_) observer_->node_progress(node_, done, total);
  }
  void info(const std::string& m) override {
    if (observer_) observer_->message(node_, false, m);
  }
  void warn(const std::string& m) override {
    if (observer_) observer_->message(node_, true, m);
  }
  std::string output_dir() const override { return options_.output_dir; }
  std::string cache_dir() const override { return options_.cache_dir; }
  c10::Device default_device() const override { return options_.device; }
  std::string graph_json() const override { return graph_.text; }
  std::string versions() const override { return options_.versions; }
  void record_output(const std::string& path) override { files_.push_back(path); }

  std::vector<std::string> schedule_names() const override { return plugins_.catalogue().schedule_names(); }
  bool compute_schedule(const std::string& name, const Model& model, int64_t steps, at::Tensor& sigmas,
                        std::string& error) const override {
    const ScheduleDef* def = plugins_.schedule(name);
    if (!def) {
      error = "unknown schedule '" + name + "'";
      return false;
    }
    return def->compute(model, steps, sigmas, error);
  }
  std::vector<std::string> sampler_names() const override { return plugins_.catalogue().sampler_names(); }
  std::shared_ptr<const Sampler> make_sampler(const std::string& name, std::string& error) const override {
    const SamplerDef* def = plugins_.sampler(name);
    if (!def) {
      error = "unknown sampler '" + name + "'";
      return nullptr;
    }
    return def->create(error);
  }

 private:
  const PluginHost& plugins_;
  const RunOptions& options_;
  const Graph& graph_;
  const PlannedNode& node_;
  RunObserver* observer_;
  std::vector<std::string>& files_;
};

std::string describe_node(const PlannedNode& n) {
  return "node " + n.id + " (" + n.entry->contract.class_type + ", plugin " + n.entry->plugin + ")";
}

}  // namespace

RunResult execute_plan(const PluginHost& plugins, const Graph& graph, const Plan& plan, const RunOptions& options,
                       RunObserver* observer) {
  RunResult result;
  std::error_code ec;
  std::filesystem::create_directories(options.output_dir, ec);
  if (ec) {
    result.status = IoError("cannot create output folder '" + options.output_dir + "': " + ec.message());
    return result;
  }
  std::map<std::string, std::string> signature;       // node id -> input signature
  std::map<std::string, std::vector<Value>> by_sig;   // signature -> outputs
  size_t index = 0;
  for (const auto& node : plan.order) {
    const NodeContract& c = node.entry->contract;
    ++index;
    // Signature: class_type + literals + signatures of linked sources.
    std::string sig = c.class_type + "{";
    for (const auto& [name, lit] : node.literals) sig += name + "=" + lit.to_json() + ";";
    for (const auto& [name, link] : node.links)
      sig += name + "<-(" + signature.at(link.source_id) + ")#" + std::to_string(link.output_index) + ";";
    sig += "}";
    if (!c.idempotent || c.output_node) sig += "@" + node.id;  // never shared
    signature[node.id] = sig;

    if (observer) observer->node_started(index, plan.order.size(), node);
    auto cached = by_sig.find(sig);
    if (cached != by_sig.end()) {
      result.outputs[node.id] = cached->second;
      result.nodes.push_back({node.id, c.class_type, 0.0, true});
      if (observer) observer->node_finished(node, 0.0, true);
      continue;
    }

    Inputs inputs;
    for (const auto& [name, lit] : node.literals) {
      const InputSpec* spec = c.find_input(name);
      inputs.set(name, Value(spec ? spec->type : "*", lit));
    }
    for (const auto& [name, link] : node.links)
      inputs.set(name, result.outputs.at(link.source_id).at(static_cast<size_t>(link.output_index)));

    const NodeDef* def = plugins.node(c.class_type);
    HostContext ctx(plugins, options, graph, node, observer, result.files);
    Outputs outs;
    ExecError err;
    auto t0 = std::chrono::steady_clock::now();
    bool ok = def->invoke(ctx, inputs, outs, err);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!ok) {
      std::string msg = describe_node(node);
      if (!err.input.empty()) {
        msg += ", input '" + err.input + "'";
        auto lit = node.literals.find(err.input);
        if (lit != node.literals.end()) msg += " = " + lit->second.to_json();
        else if (!err.value.empty()) msg += " = " + err.value;
      }
      msg += ": " + err.message;
      result.status = Status(Code::kFailedPrecondition, msg);
      result.failed_node = node.id;
      result.failed_input = err.input;
      return result;
    }
    if (outs.size() != c.outputs.size()) {
      result.status = Internal(describe_node(node) + ": execute returned " + std::to_string(outs.size()) +
                               " output(s), its contract declares " + std::to_string(c.outputs.size()));
      result.failed_node = node.id;
      return result;
    }
    for (size_t i = 0; i < outs.size(); ++i) {
      const std::string& declared = c.outputs[i].type;
      const Value& v = outs[i];
      if (v.empty() || !types_compatible(v.type(), declared)) {
        result.status = Internal(describe_node(node) + ": output " + std::to_string(i) + " should be " + declared +
                                 ", execute returned " + (v.empty() ? std::string("an empty value") : v.type()));
        result.failed_node = node.id;
        return result;
      }
    }
    by_sig[sig] = outs;
    result.outputs[node.id] = std::move(outs);
    result.nodes.push_back({node.id, c.class_type, seconds, false});
    if (observer) observer->node_finished(node, seconds, false);
  }
  return result;
}

}  // namespace sf::host
