// Graph validation: every problem at once, in ComfyUI's vocabulary.
#include "validate/validate.h"

#include <map>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "registry/contract_check.h"
#include "sigmaflow/number_list.h"

namespace sf::host {

namespace {

using Issues = std::vector<ValidationIssue>;

void add(Issues& issues, const std::string& node_id, const std::string& class_type, std::string type,
         std::string message, std::string details, std::string input = {}, std::string value = {}) {
  issues.push_back({std::move(type), std::move(message), std::move(details), node_id, class_type, std::move(input),
                    shorten_json(value), ""});
}

std::vector<std::string> class_types_of(const Catalogue& catalogue) {
  std::vector<std::string> out;
  for (const auto& [name, _] : catalogue.entries()) out.push_back(name);
  return out;
}

// ComfyUI nodes for checkpoints, text encoders and VAEs have no counterpart here (no weights are
// downloaded); the hint names what plays their part.
std::string comfy_counterpart(const std::string& class_type) {
  static const std::map<std::string, std::string> hints = {
      {"CheckpointLoaderSimple", "a MODEL node: TorchScriptModel (your exported network) or GaussianMixtureModel"},
      {"UNETLoader", "TorchScriptModel"},
      {"CLIPTextEncode", "a CONDITIONING source: LoadConditioning (an embedding .npy) or ClassConditioning"},
      {"VAEDecode", "LatentToImage (models here work on their own sample space)"},
      {"VAEEncode", "LoadLatent"},
  };
  auto it = hints.find(class_type);
  return it == hints.end() ? std::string() : it->second;
}

// Suggestions are searched for this many distinct unknown class_types; past them a graph of
// 10^5 invented names still validates in linear time.
constexpr size_t kMaxSuggestedTypes = 32;

void check_unknown_types(const Graph& graph, const Catalogue& catalogue, Issues& issues) {
  std::vector<std::string> known;
  std::map<std::string, std::string> suggested;  // unknown class_type -> suggestion ("" for none)
  for (const auto& node : graph.nodes) {
    const std::string& id = node.id;
    if (catalogue.find(node.class_type)) continue;
    if (known.empty()) known = class_types_of(catalogue);
    auto it = suggested.find(node.class_type);
    if (it == suggested.end() && suggested.size() < kMaxSuggestedTypes) {
      std::string s = comfy_counterpart(node.class_type);
      if (s.empty()) s = nearest(node.class_type, known, std::max<size_t>(3, node.class_type.size() / 3));
      it = suggested.emplace(node.class_type, s).first;
    }
    const std::string near = it == suggested.end() ? std::string() : it->second;
    add(issues, id, node.class_type, "invalid_prompt",
        "Cannot execute because node type '" + shorten_json(node.class_type, 100) + "' does not exist",
        "unknown class_type '" + shorten_json(node.class_type, 100) + "'; no loaded plugin provides it" +
            (near.empty()                                 ? std::string()
             : comfy_counterpart(node.class_type).empty() ? " (did you mean " + near + "?)"
                                                          : " (here: " + near + ")"),
        "class_type", "\"" + node.class_type + "\"");
  }
}

// The output nodes and every node they need (walking links backwards), as indices in id order.
std::vector<uint32_t> needed_nodes(const Graph& graph, const std::vector<uint32_t>& outputs) {
  std::vector<char> needed(graph.nodes.size(), 0);
  std::vector<uint32_t> stack(outputs.begin(), outputs.end());
  while (!stack.empty()) {
    const uint32_t i = stack.back();
    stack.pop_back();
    if (needed[i]) continue;
    needed[i] = 1;
    for (const auto& in : graph.nodes[i].inputs)
      if (in.link && in.source_index != kNoNode && !needed[in.source_index]) stack.push_back(in.source_index);
  }
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < needed.size(); ++i)
    if (needed[i]) out.push_back(i);
  return out;
}

// Checks one link input; on success records it in `pn`.
void check_link(const Graph& graph, const Catalogue& catalogue, const GraphNode& node, const NodeContract& c,
                const InputSpec& spec, const GraphInput& in, PlannedNode& pn, Issues& issues) {
  const Link& l = *in.link;
  // Written only for a problem: a 10^6-node graph has 10^6 good links.
  auto where = [&] { return "input '" + spec.name + "' = " + shorten_json(in.raw_json()); };
  if (in.source_index == kNoNode) {
    add(issues, node.id, c.class_type, "bad_linked_input", "Bad linked input: the source node does not exist",
        where() + ": no node with id '" + shorten_json(l.source_id, 80) + "'", spec.name, in.raw_json());
    return;
  }
  const std::string& src_class = graph.nodes[in.source_index].class_type;
  const CatalogueEntry* src_entry = catalogue.find(src_class);
  if (!src_entry) return;  // unknown type reported already
  const auto& outs = src_entry->contract.outputs;
  if (l.output_index < 0 || l.output_index >= static_cast<int64_t>(outs.size())) {
    add(issues, node.id, c.class_type, "bad_linked_input", "Bad linked input: the source node has no such output",
        where() + ": node " + l.source_id + " (" + src_class + ") has " + std::to_string(outs.size()) +
            " output(s), index " + std::to_string(l.output_index) + " is out of range",
        spec.name, in.raw_json());
    return;
  }
  const OutputSpec& out = outs[static_cast<size_t>(l.output_index)];
  if (!types_compatible(out.type, spec.type)) {
    add(issues, node.id, c.class_type, "return_type_mismatch", "Return type mismatch between linked nodes",
        where() + ": received_type(" + out.type + ") mismatch input_type(" + spec.type + ")", spec.name, in.raw_json());
    return;
  }
  for (const auto& cap : spec.requires_caps)
    if (std::find(out.provides.begin(), out.provides.end(), cap) == out.provides.end()) {
      add(issues, node.id, c.class_type, "return_type_mismatch", "Linked value lacks a required capability",
          where() + ": " + spec.name + " needs a " + spec.type + " with " + cap + ", and node " + l.source_id + " (" +
              src_class + ") output " + std::to_string(l.output_index) + " does not provide it",
          spec.name, in.raw_json());
      return;
    }
  pn.links[spec.name] = l;
}

void check_literal(const NodeContract& c, const GraphNode& node, const InputSpec& spec, const GraphInput& in,
                   PlannedNode& pn, Issues& issues) {
  Literal coerced;
  LiteralProblem problem;
  if (!coerce_literal(spec, in.literal, coerced, problem)) {
    add(issues, node.id, c.class_type, problem.type, problem.message,
        "input '" + spec.name + "' = " + shorten_json(in.raw_json()) + ": " + problem.details, spec.name,
        in.raw_json());
    return;
  }
  pn.literals[spec.name] = std::move(coerced);
}

// kProductAtMost over the literals: product(a) / product(b) <= value, in double precision; not
// checked while an input is linked or not a number, or a divisor is <= 0.
void check_product(const NodeContract& c, const GraphNode& node, const Constraint& k,
                   const std::function<const Literal*(const std::string&)>& literal, Issues& issues) {
  auto text = [](double v, int digits) {
    char b[40];
    std::snprintf(b, sizeof b, "%.*g", digits, v);
    return std::string(b);
  };
  const std::vector<std::string> top = constraint_names(k.a), bottom = constraint_names(k.b);
  double product = 1;
  std::string names, values;
  for (const auto* list : {&top, &bottom})
    for (const auto& name : *list) {
      const Literal* v = literal(name);
      if (!v || !v->is_number()) return;
      const bool divisor = list == &bottom;
      if (divisor && !(v->as_number() > 0)) return;
      product = divisor ? product / v->as_number() : product * v->as_number();
      const std::string op = names.empty() ? "" : divisor ? " / " : " x ";
      names += op + name;
      values += op + text(v->as_number(), 10);
    }
  const double bound = std::strtod(k.value.c_str(), nullptr);
  if (top.empty() || product <= bound) return;
  const std::string why = k.message.empty() ? std::string() : " (" + k.message + ")";
  // A quotient blames its divisor (a tiny denoise, not the steps); a product its first factor.
  const std::string& blamed = bottom.empty() ? top.front() : bottom.front();
  const std::string shown = top.size() + bottom.size() > 1 ? names + " = " + values + " = " : names + " = ";
  add(issues, node.id, c.class_type, "value_bigger_than_max", "Value bigger than max",
      shown + text(product, 4) + " is more than " + text(bound, 4) + why, blamed, literal(blamed)->to_json());
}

// kNumberList over a STRING literal: the node's own grammar (sigmaflow/number_list.h), so the
// verdict is the one the node would reach at run time.
void check_number_list(const NodeContract& c, const GraphNode& node, const Constraint& k, const Literal* text,
                       Issues& issues) {
  if (!text || !text->is_string()) return;
  const std::optional<NumberListRule> rule = number_list_rule_from_text(k.value);
  if (!rule) return;  // refused with the contract (check_contract)
  const NumberList list = parse_number_list(text->as_string(), *rule);
  if (list.ok()) return;
  const std::string why = k.message.empty() ? std::string() : " (" + k.message + ")";
  add(issues, node.id, c.class_type, "custom_validation_failed", "Custom validation failed for node",
      "input '" + k.a + "' = " + shorten_json(text->to_json()) + ": " + list.error + why, k.a, text->to_json());
}

// Constraints over the node's literals (defaults included); rules whose inputs are links are
// left to the node at run time.
void check_constraints(const NodeContract& c, const GraphNode& node, const PlannedNode& pn, Issues& issues) {
  auto given = [&](const std::string& name) { return node.find_input(name) != nullptr; };
  auto literal = [&](const std::string& name) -> const Literal* {
    auto it = pn.literals.find(name);
    return it == pn.literals.end() ? nullptr : &it->second;
  };
  for (const auto& k : c.constraints) {
    const Literal *a = literal(k.a), *b = literal(k.b);
    std::string why = k.message.empty() ? std::string() : " (" + k.message + ")";
    switch (k.kind) {
      case Constraint::Kind::kLess:
      case Constraint::Kind::kLessEqual: {
        if (!a || !b || !a->is_number() || !b->is_number()) break;
        bool ok =
            k.kind == Constraint::Kind::kLess ? a->as_number() < b->as_number() : a->as_number() <= b->as_number();
        if (!ok)
          add(issues, node.id, c.class_type, "custom_validation_failed", "Custom validation failed",
              k.a + " = " + a->to_json() + " must be " + (k.kind == Constraint::Kind::kLess ? "<" : "<=") + " " + k.b +
                  " = " + b->to_json() + why,
              k.a, a->to_json());
        break;
      }
      case Constraint::Kind::kOnlyWhen:
        if (given(k.a) && b && b->is_string() && b->as_string() != k.value)
          add(issues, node.id, c.class_type, "custom_validation_failed", "Custom validation failed",
              "input '" + k.a + "' is only used when " + k.b + " is '" + k.value + "', and " + k.b + " is " +
                  b->to_json() + why,
              k.a, node.find_input(k.a)->raw_json());
        break;
      case Constraint::Kind::kRequiredWhen:
        if (!given(k.a) && b && b->is_string() && b->as_string() == k.value)
          add(issues, node.id, c.class_type, "required_input_missing", "Required input is missing",
              "input '" + k.a + "' is required when " + k.b + " is '" + k.value + "'" + why, k.a, "null");
        break;
      case Constraint::Kind::kProductAtMost:
        check_product(c, node, k, literal, issues);
        break;
      case Constraint::Kind::kNumberList:
        check_number_list(c, node, k, a, issues);
        break;
      case Constraint::Kind::kAnyOf: {
        const std::vector<std::string> names = any_of_inputs(k);
        if (std::none_of(names.begin(), names.end(), given)) {
          std::string list;
          for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
          add(issues, node.id, c.class_type, "required_input_missing", "Required input is missing",
              "connect at least one of: " + list + why, names.front(), "null");
        }
        break;
      }
    }
  }
}

// Graph inputs the contract does not declare: a typo would otherwise be silently ignored.
void check_unknown_inputs(const NodeContract& c, const GraphNode& node, Issues& issues) {
  for (const auto& in : node.inputs) {
    if (c.find_input(in.name)) continue;
    std::vector<std::string> names;
    for (const auto& spec : c.inputs) names.push_back(spec.name);
    std::string near = nearest(in.name, names, std::max<size_t>(2, in.name.size() / 3));
    add(issues, node.id, c.class_type, "custom_validation_failed", "Unknown input",
        "'" + shorten_json(in.name, 80) + "' is not an input of " + c.class_type +
            (near.empty() ? " (its inputs: " +
                                shorten_json(
                                    [&] {
                                      std::string all;
                                      for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
                                      return all;
                                    }(),
                                    300) +
                                ")"
                          : " (did you mean " + near + "?)"),
        in.name, in.raw_json());
  }
}

PlannedNode check_node(const Graph& graph, const Catalogue& catalogue, const GraphNode& node,
                       const CatalogueEntry& entry, Issues& issues) {
  const NodeContract& c = entry.contract;
  PlannedNode pn;
  pn.id = node.id;
  pn.entry = &entry;
  for (const auto& spec : c.inputs) {
    const GraphInput* in = node.find_input(spec.name);
    if (!in) {
      if (!spec.optional && spec.default_value && is_literal_type(spec.type))
        pn.literals[spec.name] = *spec.default_value;
      else if (!spec.optional)
        add(issues, node.id, c.class_type, "required_input_missing", "Required input is missing",
            "input '" + spec.name + "' (" + spec.type + ") is required", spec.name, "null");
      continue;
    }
    if (in->malformed_link) {
      const std::string raw = in->raw_json();
      add(issues, node.id, c.class_type, "bad_linked_input",
          "Bad linked input, must be a length-2 list of [string, int]",
          "input '" + spec.name + "' = " + shorten_json(raw) +
              (is_literal_type(spec.type) && !raw.empty() && raw.front() == '['
                   ? " (a JSON array in inputs is a link; write a literal list as {\"__value__\": [...]})"
                   : ""),
          spec.name, raw);
    } else if (in->link)
      check_link(graph, catalogue, node, c, spec, *in, pn, issues);
    else
      check_literal(c, node, spec, *in, pn, issues);
  }
  check_unknown_inputs(c, node, issues);
  check_constraints(c, node, pn, issues);
  return pn;
}

// The nodes on the cycle from `start` to the top of the DFS stack get an issue each, up to
// kMaxCycleIssues of them; the cycle's text is bounded too (a 20,000-node cycle must not produce
// 20,000 copies of a 20,000-id text).
constexpr size_t kMaxCycleIssues = 20;
template <class Frames>
void report_cycle(const Graph& graph, const Frames& stack, uint32_t start, std::set<std::vector<uint32_t>>& reported,
                  Issues& issues) {
  size_t first = stack.size();
  while (first > 0 && stack[first - 1].node != start) --first;
  if (first == 0) return;
  std::vector<uint32_t> cyc;
  for (size_t i = first - 1; i < stack.size(); ++i) cyc.push_back(stack[i].node);
  std::vector<uint32_t> members = cyc;
  std::sort(members.begin(), members.end());
  if (!reported.insert(std::move(members)).second) return;
  auto id = [&](uint32_t i) -> const std::string& { return graph.nodes[i].id; };
  std::string text;
  for (size_t i = 0; i < cyc.size() && i < 12; ++i) text += shorten_json(id(cyc[i]), 80) + " -> ";
  text += cyc.size() > 12 ? "... (" + std::to_string(cyc.size()) + " nodes) -> " + shorten_json(id(start), 80)
                          : shorten_json(id(start), 80);
  if (cyc.size() > kMaxCycleIssues)
    text += " (problems listed for the first " + std::to_string(kMaxCycleIssues) + " of them)";
  for (size_t i = 0; i < cyc.size() && i < kMaxCycleIssues; ++i)
    add(issues, id(cyc[i]), graph.nodes[cyc[i]].class_type, "dependency_cycle", "Dependency cycle detected",
        "nodes on the cycle: " + text);
}

// Who reads each node: the links reversed, as offsets into one array (CSR).
struct Consumers {
  std::vector<uint32_t> offsets, readers;
  explicit Consumers(const Graph& graph) : offsets(graph.nodes.size() + 1, 0) {
    for (const auto& node : graph.nodes)
      for (const auto& in : node.inputs)
        if (in.link && in.source_index != kNoNode) ++offsets[in.source_index + 1];
    for (size_t i = 1; i < offsets.size(); ++i) offsets[i] += offsets[i - 1];
    readers.resize(offsets.back());
    std::vector<uint32_t> next(offsets.begin(), offsets.end() - 1);
    for (uint32_t i = 0; i < graph.nodes.size(); ++i)
      for (const auto& in : graph.nodes[i].inputs)
        if (in.link && in.source_index != kNoNode) readers[next[in.source_index]++] = i;
  }
};

// For the nodes with issues: the output nodes that depend on them (ComfyUI's dependent_outputs).
// One downstream walk per flagged node over the reversed links (it was one upstream walk per output
// node: 8,000 outputs on an 8,000-node chain took 14-31 s). Each list keeps its first
// kMaxDependentOutputs entries (in output order), so the answer stays bounded too, and the walks
// together visit at most kDependentOutputsBudget nodes (past it, later nodes get no list).
constexpr size_t kMaxDependentOutputs = 100;
constexpr size_t kDependentOutputsBudget = 4000000;

std::map<std::string, std::vector<std::string>> dependent_outputs_impl(const Graph& graph,
                                                                       const std::vector<std::string>& outputs,
                                                                       const Issues& issues) {
  std::map<std::string, std::vector<std::string>> out;
  std::vector<uint32_t> flagged;  // in the order of the issues, each once
  std::unordered_set<uint32_t> flagged_once;
  for (const auto& i : issues) {
    const uint32_t node = i.node_id.empty() ? kNoNode : graph.index_of(i.node_id);
    if (node != kNoNode && flagged_once.insert(node).second) flagged.push_back(node);
  }
  if (flagged.empty() || outputs.empty()) return out;
  std::unordered_map<uint32_t, size_t> output_rank;
  for (size_t k = 0; k < outputs.size(); ++k)
    if (const uint32_t node = graph.index_of(outputs[k]); node != kNoNode) output_rank.emplace(node, k);
  const Consumers consumers(graph);
  std::vector<uint32_t> seen_in_walk(graph.nodes.size(), 0);  // walk number + 1 that saw the node
  size_t budget = kDependentOutputsBudget;
  for (size_t w = 0; w < flagged.size() && budget > 0; ++w) {
    const uint32_t walk = static_cast<uint32_t>(w + 1);
    std::vector<size_t> found;
    std::vector<uint32_t> stack{flagged[w]};
    seen_in_walk[flagged[w]] = walk;
    while (!stack.empty() && budget > 0) {
      const uint32_t node = stack.back();
      stack.pop_back();
      --budget;
      if (auto r = output_rank.find(node); r != output_rank.end()) found.push_back(r->second);
      for (uint32_t k = consumers.offsets[node]; k < consumers.offsets[node + 1]; ++k) {
        const uint32_t next = consumers.readers[k];
        if (seen_in_walk[next] != walk) {
          seen_in_walk[next] = walk;
          stack.push_back(next);
        }
      }
    }
    if (found.empty()) continue;
    std::sort(found.begin(), found.end());
    if (found.size() > kMaxDependentOutputs) found.resize(kMaxDependentOutputs);
    auto& list = out[graph.nodes[flagged[w]].id];
    for (size_t k : found) list.push_back(outputs[k]);
  }
  return out;
}

// Iterative depth-first order of the needed nodes (dependencies first, each node's in id order);
// reports every cycle once. The frames' dependency lists share one array, used as a stack.
std::vector<uint32_t> topological_order(const Graph& graph, const std::vector<uint32_t>& needed, Issues& issues) {
  enum : uint8_t { kNotNeeded, kWhite, kOnPath, kDone };
  std::vector<uint8_t> colour(graph.nodes.size(), kNotNeeded);
  for (uint32_t i : needed) colour[i] = kWhite;
  struct Frame {
    uint32_t node;
    size_t begin, end, next;
  };
  std::vector<Frame> stack;
  std::vector<uint32_t> deps;
  auto enter = [&](uint32_t node) {
    const size_t begin = deps.size();
    for (const auto& in : graph.nodes[node].inputs)
      if (in.link && in.source_index != kNoNode && colour[in.source_index] != kNotNeeded)
        deps.push_back(in.source_index);
    std::sort(deps.begin() + static_cast<std::ptrdiff_t>(begin), deps.end());
    deps.erase(std::unique(deps.begin() + static_cast<std::ptrdiff_t>(begin), deps.end()), deps.end());
    stack.push_back({node, begin, deps.size(), begin});
    colour[node] = kOnPath;
  };
  std::vector<uint32_t> order;
  order.reserve(needed.size());
  std::set<std::vector<uint32_t>> reported;
  for (uint32_t root : needed) {
    if (colour[root] != kWhite) continue;
    enter(root);
    while (!stack.empty()) {
      Frame& f = stack.back();
      if (f.next == f.end) {
        colour[f.node] = kDone;
        order.push_back(f.node);
        deps.resize(f.begin);
        stack.pop_back();
        continue;
      }
      const uint32_t d = deps[f.next++];
      if (colour[d] == kWhite)
        enter(d);
      else if (colour[d] == kOnPath)
        report_cycle(graph, stack, d, reported, issues);
    }
  }
  return order;
}

}  // namespace

std::map<std::string, std::vector<std::string>> dependent_outputs(const Graph& graph,
                                                                  const std::vector<std::string>& outputs,
                                                                  const std::vector<ValidationIssue>& issues) {
  return dependent_outputs_impl(graph, outputs, issues);
}

Validated validate_graph(const Graph& graph, const Catalogue& catalogue) {
  Validated result;
  auto& issues = result.report.issues;
  for (const auto& p : graph.problems)
    add(issues, p.node_id, "", p.type.empty() ? "invalid_prompt" : p.type, "Invalid node", p.message);
  check_unknown_types(graph, catalogue, issues);
  std::vector<uint32_t> output_nodes;  // in id order, as the nodes are
  for (uint32_t i = 0; i < graph.nodes.size(); ++i) {
    const auto* e = catalogue.find(graph.nodes[i].class_type);
    if (e && e->contract.output_node) output_nodes.push_back(i);
  }
  std::vector<std::string> outputs;
  for (uint32_t i : output_nodes) outputs.push_back(graph.nodes[i].id);
  if (outputs.empty() && issues.empty())
    add(issues, "", "", "prompt_no_outputs", "Prompt has no outputs",
        "no node in the graph is an output node (a node that writes files or reports)");
  const std::vector<uint32_t> needed = needed_nodes(graph, output_nodes);
  // The order first, so each planned node is built once, in its place (its cycle issues are
  // listed after the nodes' own, as before).
  Issues cycle_issues;
  const std::vector<uint32_t> order = topological_order(graph, needed, cycle_issues);
  std::vector<uint32_t> slot(graph.nodes.size(), kNoNode);
  for (uint32_t k = 0; k < order.size(); ++k) slot[order[k]] = k;
  auto& planned = result.plan.order;
  planned.resize(order.size());
  for (uint32_t i : needed) {
    const GraphNode& node = graph.nodes[i];
    if (const CatalogueEntry* entry = catalogue.find(node.class_type))
      planned[slot[i]] = check_node(graph, catalogue, node, *entry, issues);
  }
  issues.insert(issues.end(), std::make_move_iterator(cycle_issues.begin()),
                std::make_move_iterator(cycle_issues.end()));
  if (!issues.empty()) {
    result.plan = Plan{};
    for (auto& i : issues)
      if (!i.input_name.empty() && !i.class_type.empty())
        i.input_config = catalogue.input_config_json(i.class_type, i.input_name);
    result.report.dependent_outputs = dependent_outputs_impl(graph, outputs, issues);
    return result;
  }
  result.plan.outputs = std::move(outputs);
  return result;
}

ValidationReport report_for_unreadable_graph(const std::string& message) {
  ValidationReport r;
  r.issues.push_back({"invalid_prompt", "Invalid prompt", message, "", "", "", "", ""});
  return r;
}

std::string ValidationReport::to_text() const {
  std::string out;
  constexpr size_t kMaxLines = 200;  // a report stays readable; --json carries every problem
  size_t shown = 0;
  for (const auto& i : issues) {
    if (++shown > kMaxLines) {
      out += "... and " + std::to_string(issues.size() - kMaxLines) + " more problem(s) (--json lists all)\n";
      break;
    }
    // Ids, class_types and every text quoting them come from the graph: capped and escaped.
    const std::string message = printable(i.message, 500), details = printable(i.details, 2000);
    if (i.node_id.empty()) {
      out += "graph: " + i.type + ": " + message + (details.empty() ? "" : " (" + details + ")") + "\n";
    } else {
      out += "node " + printable(i.node_id, 80) +
             (i.class_type.empty() ? "" : " (" + printable(i.class_type, 100) + ")") + ": " + i.type + ": " + message +
             (details.empty() ? "" : " -- " + details) + "\n";
    }
  }
  return out;
}

std::string ValidationReport::to_json(int indent) const {
  using json = nlohmann::ordered_json;
  json root;
  json node_errors = json::object();
  json top = nullptr;
  bool any_node = false;
  for (const auto& i : issues) {
    json e = {{"type", i.type}, {"message", i.message}, {"details", i.details}, {"extra_info", json::object()}};
    if (!i.input_name.empty()) {
      // ComfyUI's extra_info: the input, its declared config and the value received.
      e["extra_info"]["input_name"] = i.input_name;
      auto config = json::parse(i.input_config, nullptr, false);
      if (!config.is_discarded()) e["extra_info"]["input_config"] = config;
      auto received = json::parse(i.value, nullptr, false);
      e["extra_info"]["received_value"] = received.is_discarded() ? json(i.value) : received;
    }
    if (i.node_id.empty()) {
      if (top.is_null()) top = e;
      continue;
    }
    any_node = true;
    auto& n = node_errors[i.node_id];
    if (n.is_null()) {
      n["errors"] = json::array();
      auto it = dependent_outputs.find(i.node_id);
      n["dependent_outputs"] = it == dependent_outputs.end() ? json::array() : json(it->second);
      n["class_type"] = i.class_type;
    }
    n["errors"].push_back(e);
  }
  if (top.is_null() && any_node) {
    top = {{"type", "prompt_outputs_failed_validation"},
           {"message", "Prompt outputs failed validation"},
           {"details", ""},
           {"extra_info", json::object()}};
  }
  root["error"] = top;
  root["node_errors"] = node_errors;
  return root.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace sf::host
