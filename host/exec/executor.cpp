#include "exec/executor.h"

#include <chrono>
#include <filesystem>

#include "exec/host_context.h"

namespace sf::host {

namespace {

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
