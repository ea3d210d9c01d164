#include "exec/executor.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "exec/crash_guard.h"
#include "exec/host_context.h"
#include "validate/validate.h"

namespace sf::host {

namespace {

std::string describe_node(const PlannedNode& n) {
  return "node " + printable(n.id, 80) + " (" + n.entry->contract.class_type + ", plugin " + n.entry->plugin + ")";
}

// 128-bit signature from two independent FNV-1a streams, as hex: class_type, literals and the
// signatures of linked inputs (constant size, so a chain costs O(n), not O(n^2)).
class Signature {
 public:
  void add(const std::string& s) {
    for (unsigned char c : s) mix(c);
    mix(0xff);
  }
  std::string hex() const {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a_),
                  static_cast<unsigned long long>(b_));
    return buf;
  }

 private:
  void mix(unsigned char c) {
    a_ = (a_ ^ c) * 1099511628211ULL;
    b_ = (b_ ^ c) * 0x100000001b3ULL + 0x9e3779b97f4a7c15ULL;
  }
  uint64_t a_ = 1469598103934665603ULL, b_ = 0x84222325cbf29ce4ULL;
};

std::string signature_of(const PlannedNode& node, const std::map<std::string, std::string>& signatures) {
  const NodeContract& c = node.entry->contract;
  Signature sig;
  sig.add(c.class_type);
  for (const auto& [name, lit] : node.literals) {
    sig.add(name);
    sig.add(lit.to_json());
  }
  for (const auto& [name, link] : node.links) {
    sig.add(name);
    sig.add(signatures.at(link.source_id));
    sig.add(std::to_string(link.output_index));
  }
  if (!c.idempotent || c.output_node) sig.add("@" + node.id);  // never shared
  return sig.hex();
}

// The tensors an input value holds (a tensor, or a LATENT's samples), with their versions.
struct Watched {
  std::string input;
  const at::Tensor* tensor;
  int64_t version;
};
void watch(const std::string& name, const Value& v, std::vector<Watched>& out) {
  const at::Tensor* t = nullptr;
  if (v.is_tensor())
    t = &v.tensor();
  else if (v.is_object())
    if (auto latent = std::dynamic_pointer_cast<const Latent>(v.object())) t = &latent->samples();
  if (t && t->defined() && !t->is_inference()) out.push_back({name, t, t->_version()});
}

Status check_outputs(const PlannedNode& node, const Outputs& outs) {
  const NodeContract& c = node.entry->contract;
  if (outs.size() != c.outputs.size())
    return Internal(describe_node(node) + ": execute returned " + std::to_string(outs.size()) +
                    " output(s), its contract declares " + std::to_string(c.outputs.size()));
  for (size_t i = 0; i < outs.size(); ++i) {
    const std::string& declared = c.outputs[i].type;
    const Value& v = outs[i];
    if (v.empty() || !types_compatible(v.type(), declared))
      return Internal(describe_node(node) + ": output " + std::to_string(i) + " should be " + declared +
                      ", execute returned " + (v.empty() ? std::string("an empty value") : v.type()));
    if (v.type() != "SIGMAS") continue;
    const at::Tensor& t = v.is_tensor() ? v.tensor() : at::Tensor();
    if (!t.defined() || t.dim() != 1 || !t.device().is_cpu() || t.scalar_type() != at::kFloat)
      return Internal(describe_node(node) + ": output " + std::to_string(i) +
                      " is not SIGMAS as the contract defines it (a 1-D float32 CPU tensor)");
    if (t.numel() > 0 && (!at::isfinite(t).all().item<bool>() || (t < 0).any().item<bool>()))
      return Internal(describe_node(node) + ": output " + std::to_string(i) + " holds negative or non-finite sigmas");
  }
  return Status::Ok();
}

// LibTorch's errors (c10::Error) carry a C++ backtrace after the message: a user reads the
// message only.
std::string without_backtrace(const std::string& message) {
  size_t at = std::min(message.find("\nException raised from "), message.find("\nframe #"));
  return at == std::string::npos ? message : message.substr(0, at);
}

Status failure(const PlannedNode& node, const Status& err) {
  std::string msg = describe_node(node);
  if (!err.input().empty()) {
    msg += ", input '" + err.input() + "'";
    auto lit = node.literals.find(err.input());
    if (lit != node.literals.end())
      msg += " = " + shorten_json(lit->second.to_json());
    else if (!err.value().empty())
      msg += " = " + shorten_json(err.value());
  }
  msg += ": " + without_backtrace(err.message());
  return Status(err.code() == Code::kCancelled ? Code::kCancelled : Code::kFailedPrecondition, msg)
      .about(err.input(), err.value());
}

// Runs one node: resolves inputs, invokes, enforces the contract. Fills `outs` or returns why not.
Status run_node(const NodeSource& source, const Graph& graph, const PlannedNode& node, const RunOptions& options,
                RunObserver* observer, RunResult& result, Outputs& outs) {
  const NodeContract& c = node.entry->contract;
  const NodeDef* def = source.node(c.class_type);
  if (!def)
    return FailedPrecondition(describe_node(node) +
                              ": the plugin could not be loaded: " + source.load_problem(node.entry->plugin_path));
  Inputs inputs;
  for (const auto& [name, lit] : node.literals) {
    const InputSpec* spec = c.find_input(name);
    inputs.set(name, Value(spec ? spec->type : "*", lit));
  }
  for (const auto& [name, link] : node.links)
    inputs.set(name, result.outputs.at(link.source_id).at(static_cast<size_t>(link.output_index)));
  std::vector<Watched> watched;
  for (const auto& [name, v] : inputs.all()) watch(name, v, watched);
  HostContext ctx(source, options, graph, node, observer, result.files);
  CrashGuard::set_running(describe_node(node));
  set_thread_interrupt(options.interrupt);
  Result<Outputs> r = def->invoke(ctx, inputs);
  set_thread_interrupt(nullptr);
  CrashGuard::set_running({});
  for (const auto& w : watched)
    if (w.tensor->_version() != w.version)
      return Internal(describe_node(node) + " modified its input '" + w.input +
                      "' in place (inputs are shared with other nodes and must not be written)");
  if (!r.ok()) return failure(node, r.status());
  outs = std::move(*r);
  return check_outputs(node, outs);
}

}  // namespace

std::vector<ValidationIssue> check_literal_inputs(const NodeSource& source, const Plan& plan) {
  std::vector<ValidationIssue> issues;
  for (const auto& node : plan.order) {
    const NodeContract& c = node.entry->contract;
    if (!c.checks_inputs) continue;
    const NodeDef* def = source.node(c.class_type);
    if (!def || !def->check_inputs) continue;  // an unloadable plugin fails when the node runs
    Inputs inputs;
    for (const auto& [name, lit] : node.literals) {
      const InputSpec* spec = c.find_input(name);
      inputs.set(name, Value(spec ? spec->type : "*", lit));
    }
    Status st = def->check_inputs(inputs);
    if (st.ok()) continue;
    auto lit = node.literals.find(st.input());
    std::string value = lit != node.literals.end() ? lit->second.to_json() : st.value();
    issues.push_back(
        {"custom_validation_failed", "Custom validation failed for node",
         (st.input().empty() ? std::string() : "input '" + st.input() + "' = " + shorten_json(value) + ": ") +
             st.message(),
         node.id, c.class_type, st.input(), value, ""});
  }
  return issues;
}

std::vector<std::string> cached_nodes(const Plan& plan, const OutputCache& cache) {
  std::vector<std::string> out;
  std::map<std::string, std::string> signatures;
  for (const auto& node : plan.order) {
    signatures[node.id] = signature_of(node, signatures);
    if (cache.by_signature.count(signatures[node.id])) out.push_back(node.id);
  }
  return out;
}

void keep_only(OutputCache& cache, const Plan& plan) {
  std::map<std::string, std::string> signatures;
  std::set<std::string> used;
  for (const auto& node : plan.order) used.insert(signatures[node.id] = signature_of(node, signatures));
  for (auto it = cache.by_signature.begin(); it != cache.by_signature.end();)
    it = used.count(it->first) ? std::next(it) : cache.by_signature.erase(it);
  for (auto it = cache.files_by_signature.begin(); it != cache.files_by_signature.end();)
    it = used.count(it->first) ? std::next(it) : cache.files_by_signature.erase(it);
}

RunResult execute_plan(const NodeSource& source, const Graph& graph, const Plan& plan, const RunOptions& options,
                       RunObserver* observer, OutputCache* cache) {
  RunResult result;
  CrashGuard guard;
  OutputCache local;
  OutputCache& by_sig = cache ? *cache : local;
  std::map<std::string, std::string> signatures;  // node id -> signature
  size_t index = 0;
  for (const auto& node : plan.order) {
    ++index;
    const std::string sig = signature_of(node, signatures);
    signatures[node.id] = sig;
    if (options.interrupt && options.interrupt->load()) {
      result.status = Cancelled("interrupted before " + describe_node(node));
      result.failed_node = node.id;
      return result;
    }
    if (observer) observer->node_started(index, plan.order.size(), node);
    auto cached = by_sig.by_signature.find(sig);
    if (cached != by_sig.by_signature.end()) {
      result.outputs[node.id] = cached->second;
      if (auto f = by_sig.files_by_signature.find(sig); f != by_sig.files_by_signature.end()) {
        result.files_by_node[node.id] = f->second;
        if (observer) observer->node_files(node, f->second);
      }
      result.nodes.push_back({node.id, node.entry->contract.class_type, 0.0, true});
      if (observer) observer->node_finished(node, 0.0, true);
      continue;
    }
    Outputs outs;
    auto t0 = std::chrono::steady_clock::now();
    const size_t files_before = result.files.size();
    Status st = run_node(source, graph, node, options, observer, result, outs);
    if (result.files.size() > files_before) {
      std::vector<std::string> mine(result.files.begin() + static_cast<std::ptrdiff_t>(files_before),
                                    result.files.end());
      result.files_by_node[node.id] = mine;
      if (observer && st.ok()) observer->node_files(node, mine);
      if (st.ok()) by_sig.files_by_signature[sig] = std::move(mine);
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!st.ok()) {
      result.status = st;
      result.failed_node = node.id;
      result.failed_input = st.input();
      return result;
    }
    by_sig.by_signature[sig] = outs;
    result.outputs[node.id] = std::move(outs);
    result.nodes.push_back({node.id, node.entry->contract.class_type, seconds, false});
    if (observer) observer->node_finished(node, seconds, false);
  }
  return result;
}

}  // namespace sf::host
