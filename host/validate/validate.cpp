#include "validate/validate.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

namespace sf::host {

namespace {

std::vector<std::string> split_types(const std::string& t) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : t) {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

std::string fmt_number(double d) {
  std::ostringstream os;
  os.precision(15);
  os << d;
  return os.str();
}

bool parse_double(const std::string& s, double& out) {
  try {
    size_t pos = 0;
    out = std::stod(s, &pos);
    return pos == s.size() && !s.empty();
  } catch (...) {
    return false;
  }
}

// Coerces `lit` to a single (non-union) type; returns false if it cannot.
bool coerce_one(const Literal& lit, const std::string& type, const InputSpec& spec, Literal& out) {
  if (type == "*") {
    out = lit;
    return true;
  }
  if (type == "INT") {
    if (lit.is_int()) { out = lit; return true; }
    double d;
    if (lit.is_float()) d = lit.as_number();
    else if (lit.is_string() && parse_double(lit.as_string(), d)) {}
    else return false;
    if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9.0e18) return false;
    out = Literal(static_cast<int64_t>(d));
    return true;
  }
  if (type == "FLOAT") {
    double d;
    if (lit.is_number()) d = lit.as_number();
    else if (lit.is_string() && parse_double(lit.as_string(), d)) {}
    else return false;
    if (!std::isfinite(d)) return false;
    out = Literal(d);
    return true;
  }
  if (type == "BOOLEAN") {
    if (!lit.is_bool()) return false;
    out = lit;
    return true;
  }
  if (type == "STRING") {
    if (lit.is_string()) out = lit;
    else if (lit.is_number() || lit.is_bool()) out = Literal(lit.to_json());
    else return false;
    return true;
  }
  if (type == "COMBO") {
    if (!lit.is_string()) return false;
    out = lit;
    return true;
  }
  if (type == "LIST") {
    if (!lit.is_list()) return false;
    out = lit;
    return true;
  }
  (void)spec;
  return false;  // value types (MODEL, SIGMAS, ...) only come through links
}

}  // namespace

bool is_literal_type(const std::string& t) {
  static const std::set<std::string> k = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "LIST", "*"};
  return k.count(t) != 0;
}

bool types_compatible(const std::string& output_type, const std::string& input_type) {
  if (output_type == "*" || input_type == "*") return true;
  auto outs = split_types(output_type);
  auto ins = split_types(input_type);
  for (const auto& o : outs) {
    if (o == "*") return true;
    for (const auto& i : ins) {
      if (i == "*" || o == i) return true;
      // A COMBO input may be fed by a STRING or COMBO output (ComfyUI primitive nodes).
      if (i == "COMBO" && o == "STRING") return true;
    }
  }
  return false;
}

bool coerce_literal(const InputSpec& spec, const Literal& literal, Literal& coerced, LiteralProblem& problem) {
  bool ok = false;
  for (const auto& t : split_types(spec.type)) {
    if (coerce_one(literal, t, spec, coerced)) {
      ok = true;
      break;
    }
  }
  if (!ok) {
    std::string expect = is_literal_type(spec.type) || spec.type.find(',') != std::string::npos
                             ? "a value of type " + spec.type
                             : "a link to a " + spec.type + " output";
    problem = {"invalid_input_type", "Failed to convert an input value to a " + spec.type + " value", "expected " + expect};
    return false;
  }
  if (coerced.is_number() && (spec.type == "INT" || spec.type == "FLOAT" || spec.type.find(',') != std::string::npos)) {
    double v = coerced.as_number();
    if (spec.min && v < *spec.min) {
      problem = {"value_smaller_than_min", "Value " + literal.to_json() + " smaller than min of " + fmt_number(*spec.min),
                 "minimum is " + fmt_number(*spec.min)};
      return false;
    }
    if (spec.max && v > *spec.max) {
      problem = {"value_bigger_than_max", "Value " + literal.to_json() + " bigger than max of " + fmt_number(*spec.max),
                 "maximum is " + fmt_number(*spec.max)};
      return false;
    }
  }
  if (spec.type == "COMBO" &&
      std::find(spec.choices.begin(), spec.choices.end(), coerced.as_string()) == spec.choices.end()) {
    std::string list;
    for (const auto& ch : spec.choices) list += (list.empty() ? "" : ", ") + ch;
    problem = {"value_not_in_list", "Value not in list", "'" + coerced.as_string() + "' not in [" + list + "]"};
    return false;
  }
  return true;
}

Validated validate_graph(const Graph& graph, const Catalogue& catalogue) {
  Validated result;
  auto& issues = result.report.issues;
  auto add = [&](const std::string& node_id, const std::string& class_type, std::string type, std::string message,
                 std::string details, std::string input = {}, std::string value = {}) {
    issues.push_back({std::move(type), std::move(message), std::move(details), node_id, class_type, std::move(input),
                      std::move(value)});
  };

  for (const auto& p : graph.problems) add(p.node_id, "", "invalid_prompt", "Invalid node", p.message);

  // Unknown class_types anywhere in the graph (ComfyUI refuses the whole prompt for these).
  std::set<std::string> missing_types;
  for (const auto& [id, node] : graph.nodes)
    if (!catalogue.find(node.class_type)) missing_types.insert(node.class_type);
  for (const auto& [id, node] : graph.nodes) {
    if (catalogue.find(node.class_type)) continue;
    add(id, node.class_type, "invalid_prompt",
        "Cannot execute because node type '" + node.class_type + "' does not exist",
        "unknown class_type '" + node.class_type + "'; no loaded plugin provides it", "class_type",
        "\"" + node.class_type + "\"");
  }

  // Output nodes and what they need.
  std::vector<std::string> outputs;
  for (const auto& [id, node] : graph.nodes) {
    const auto* e = catalogue.find(node.class_type);
    if (e && e->contract.output_node) outputs.push_back(id);
  }
  std::sort(outputs.begin(), outputs.end(), node_id_less);
  if (outputs.empty() && missing_types.empty() && graph.problems.empty()) {
    add("", "", "prompt_no_outputs", "Prompt has no outputs",
        "no node in the graph is an output node (a node that writes files or reports)");
  }

  // Needed set by walking links backwards from outputs; also records dependent outputs.
  std::set<std::string> needed;
  for (const auto& out : outputs) {
    std::vector<std::string> stack{out};
    std::set<std::string> seen;
    while (!stack.empty()) {
      std::string id = stack.back();
      stack.pop_back();
      if (!seen.insert(id).second) continue;
      needed.insert(id);
      result.report.dependent_outputs[id].push_back(out);
      auto it = graph.nodes.find(id);
      if (it == graph.nodes.end()) continue;
      for (const auto& in : it->second.inputs)
        if (in.link && graph.nodes.count(in.link->source_id)) stack.push_back(in.link->source_id);
    }
  }

  std::vector<std::string> needed_sorted(needed.begin(), needed.end());
  std::sort(needed_sorted.begin(), needed_sorted.end(), node_id_less);

  std::map<std::string, PlannedNode> planned;
  for (const auto& id : needed_sorted) {
    const GraphNode& node = graph.nodes.at(id);
    const CatalogueEntry* entry = catalogue.find(node.class_type);
    if (!entry) continue;  // already reported
    const NodeContract& c = entry->contract;
    PlannedNode pn;
    pn.id = id;
    pn.entry = entry;
    for (const auto& spec : c.inputs) {
      const GraphInput* in = node.find_input(spec.name);
      auto where = [&](const std::string& v) { return "input '" + spec.name + "' = " + v; };
      if (!in) {
        if (!spec.optional && spec.default_value && is_literal_type(spec.type)) {
          pn.literals[spec.name] = *spec.default_value;
        } else if (!spec.optional) {
          add(id, c.class_type, "required_input_missing", "Required input is missing",
              "input '" + spec.name + "' (" + spec.type + ") is required", spec.name, "null");
        }
        continue;
      }
      if (in->malformed_link) {
        add(id, c.class_type, "bad_linked_input", "Bad linked input, must be a length-2 list of [string, int]",
            where(in->raw_json), spec.name, in->raw_json);
        continue;
      }
      if (in->link) {
        const Link& l = *in->link;
        auto src = graph.nodes.find(l.source_id);
        if (src == graph.nodes.end()) {
          add(id, c.class_type, "bad_linked_input", "Bad linked input: the source node does not exist",
              where(in->raw_json) + ": no node with id '" + l.source_id + "'", spec.name, in->raw_json);
          continue;
        }
        const CatalogueEntry* src_entry = catalogue.find(src->second.class_type);
        if (!src_entry) continue;  // unknown type reported already
        const auto& outs = src_entry->contract.outputs;
        if (l.output_index < 0 || l.output_index >= static_cast<int64_t>(outs.size())) {
          add(id, c.class_type, "bad_linked_input", "Bad linked input: the source node has no such output",
              where(in->raw_json) + ": node " + l.source_id + " (" + src->second.class_type + ") has " +
                  std::to_string(outs.size()) + " output(s), index " + std::to_string(l.output_index) +
                  " is out of range",
              spec.name, in->raw_json);
          continue;
        }
        const std::string& out_type = outs[static_cast<size_t>(l.output_index)].type;
        if (!types_compatible(out_type, spec.type)) {
          add(id, c.class_type, "return_type_mismatch", "Return type mismatch between linked nodes",
              where(in->raw_json) + ": received_type(" + out_type + ") mismatch input_type(" + spec.type + ")",
              spec.name, in->raw_json);
          continue;
        }
        pn.links[spec.name] = l;
        continue;
      }
      // A literal.
      Literal coerced;
      LiteralProblem problem;
      if (!coerce_literal(spec, in->literal, coerced, problem)) {
        add(id, c.class_type, problem.type, problem.message, where(in->raw_json) + ": " + problem.details, spec.name,
            in->raw_json);
        continue;
      }
      pn.literals[spec.name] = std::move(coerced);
    }
    planned.emplace(id, std::move(pn));
  }

  // Cycles among the needed nodes (colour DFS; each cycle reported once with its nodes).
  std::map<std::string, int> colour;  // 0 white, 1 grey, 2 black
  std::vector<std::string> order;
  std::vector<std::string> path;
  std::set<std::set<std::string>> reported_cycles;
  std::function<void(const std::string&)> visit = [&](const std::string& id) {
    colour[id] = 1;
    path.push_back(id);
    const GraphNode& node = graph.nodes.at(id);
    std::vector<std::string> deps;
    for (const auto& in : node.inputs)
      if (in.link && graph.nodes.count(in.link->source_id) && needed.count(in.link->source_id))
        deps.push_back(in.link->source_id);
    std::sort(deps.begin(), deps.end(), node_id_less);
    for (const auto& d : deps) {
      if (colour[d] == 1) {
        auto start = std::find(path.begin(), path.end(), d);
        std::vector<std::string> cyc(start, path.end());
        std::set<std::string> key(cyc.begin(), cyc.end());
        if (reported_cycles.insert(key).second) {
          std::string text;
          for (const auto& n : cyc) text += n + " -> ";
          text += d;
          for (const auto& n : cyc) {
            const GraphNode& gn = graph.nodes.at(n);
            add(n, gn.class_type, "dependency_cycle", "Dependency cycle detected", "nodes on the cycle: " + text);
          }
        }
      } else if (colour[d] == 0) {
        visit(d);
      }
    }
    path.pop_back();
    colour[id] = 2;
    order.push_back(id);
  };
  for (const auto& id : needed_sorted)
    if (colour[id] == 0) visit(id);

  if (!issues.empty()) return result;
  for (const auto& id : order) result.plan.order.push_back(std::move(planned.at(id)));
  result.plan.outputs = outputs;
  return result;
}

ValidationReport report_for_unreadable_graph(const std::string& message) {
  ValidationReport r;
  r.issues.push_back({"invalid_prompt", "Invalid prompt", message, "", "", "", ""});
  return r;
}

std::string ValidationReport::to_text() const {
  std::string out;
  for (const auto& i : issues) {
    if (i.node_id.empty()) {
      out += "graph: " + i.type + ": " + i.message + (i.details.empty() ? "" : " (" + i.details + ")") + "\n";
    } else {
      out += "node " + i.node_id + (i.class_type.empty() ? "" : " (" + i.class_type + ")") + ": " + i.type + ": " +
             i.message + (i.details.empty() ? "" : " -- " + i.details) + "\n";
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
      e["extra_info"]["input_name"] = i.input_name;
      e["extra_info"]["input_value"] = i.value;
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
