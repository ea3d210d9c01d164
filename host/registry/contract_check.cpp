#include "registry/contract_check.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <set>

#include "sigmaflow/number_list.h"

namespace sf::host {

namespace {
const std::set<std::string> kLiteralTypes = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "LIST", "*"};

std::vector<std::string> split_union(const std::string& t) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : t + ",") {
    if (c == ',') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else if (c != ' ') {
      cur += c;
    }
  }
  return out;
}

bool valid_name(const std::string& n) {
  if (n.empty() || !std::isupper(static_cast<unsigned char>(n[0]))) return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
  });
}

void check_input(const InputSpec& in, std::set<std::string>& names, std::vector<std::string>& out) {
  std::string where = "input '" + in.name + "'";
  if (in.name.empty()) out.push_back("an input has an empty name");
  if (!names.insert(in.name).second) out.push_back("duplicate input name '" + in.name + "'");
  if (!valid_type_string(in.type))
    out.push_back(where + " has an invalid type string '" + in.type +
                  "' (types are upper-case names such as FLOAT or MODEL, unions A,B, or *)");
  if (in.min && in.max && *in.min > *in.max) out.push_back(where + " has min > max");
  if (in.default_value && in.default_value->is_number()) {
    double d = in.default_value->as_number();
    if ((in.min && d < *in.min) || (in.max && d > *in.max))
      out.push_back(where + " default " + in.default_value->to_json() + " is outside [min, max]");
  }
  if (in.type == "COMBO" && in.choices_from.empty()) {
    if (in.choices.empty()) out.push_back(where + " is a COMBO without choices");
    if (in.default_value &&
        (!in.default_value->is_string() ||
         std::find(in.choices.begin(), in.choices.end(), in.default_value->as_string()) == in.choices.end()))
      out.push_back(where + " default " + in.default_value->to_json() + " is not one of its choices");
  }
  static const std::set<std::string> registries = {"schedulers", "samplers", "samplers:deterministic",
                                                   "samplers:stochastic", "samplers:multistep"};
  if (!in.choices_from.empty() && !registries.count(in.choices_from))
    out.push_back(where + " has unknown choices_from '" + in.choices_from + "'");
}
}  // namespace

bool valid_type_string(const std::string& type) {
  if (type == "*") return true;
  if (type.empty() || type.front() == ',' || type.back() == ',') return false;
  auto parts = split_union(type);
  return !parts.empty() && std::all_of(parts.begin(), parts.end(), valid_name);
}

namespace {
// A kProductAtMost constraint: at least one numerator, every name an INT or FLOAT input, the
// bound a positive number.
void check_product_constraint(const NodeContract& c, const Constraint& k, std::vector<std::string>& out) {
  const std::vector<std::string> top = constraint_names(k.a), bottom = constraint_names(k.b);
  if (top.empty()) out.push_back("a product constraint needs at least one input to multiply");
  for (const auto* names : {&top, &bottom})
    for (const auto& name : *names) {
      const InputSpec* in = c.find_input(name);
      if (!in)
        out.push_back("a product constraint names unknown input '" + name + "'");
      else if (in->type != "INT" && in->type != "FLOAT")
        out.push_back("a product constraint names input '" + name + "' of type " + in->type + ", not INT or FLOAT");
    }
  char* end = nullptr;
  const double bound = std::strtod(k.value.c_str(), &end);
  if (k.value.empty() || !end || *end != '\0' || !(bound > 0) || !std::isfinite(bound))
    out.push_back("a product constraint's bound '" + k.value + "' is not a positive number");
}

}  // namespace

std::vector<std::string> check_contract(const NodeContract& c) {
  std::vector<std::string> out;
  if (c.class_type.empty()) out.push_back("class_type is empty");
  std::set<std::string> names;
  for (const auto& in : c.inputs) check_input(in, names, out);
  for (size_t i = 0; i < c.outputs.size(); ++i)
    if (!valid_type_string(c.outputs[i].type))
      out.push_back("output " + std::to_string(i) + " has an invalid type string '" + c.outputs[i].type + "'");
  for (const auto& k : c.constraints) {
    if (k.kind == Constraint::Kind::kAnyOf) {
      const std::vector<std::string> names = any_of_inputs(k);
      for (const auto& name : names)
        if (!c.find_input(name)) out.push_back("an any-of constraint names unknown input '" + name + "'");
      if (names.size() < 2) out.push_back("an any-of constraint needs at least two inputs, got '" + k.a + "'");
      continue;
    }
    if (k.kind == Constraint::Kind::kProductAtMost) {
      check_product_constraint(c, k, out);
      continue;
    }
    if (k.kind == Constraint::Kind::kNumberList) {
      const InputSpec* in = c.find_input(k.a);
      if (!in)
        out.push_back("a number-list constraint names unknown input '" + k.a + "'");
      else if (in->type != "STRING")
        out.push_back("a number-list constraint names input '" + k.a + "' of type " + in->type + ", not STRING");
      if (!number_list_rule_from_text(k.value))
        out.push_back("a number-list constraint's rule '" + k.value.substr(0, 200) + "' is malformed");
      continue;
    }
    if (!c.find_input(k.a)) out.push_back("a constraint names unknown input '" + k.a + "'");
    if (!c.find_input(k.b)) out.push_back("a constraint names unknown input '" + k.b + "'");
  }
  if (!c.overrides.empty() && c.overrides != c.class_type)
    out.push_back("overrides = '" + c.overrides + "' must name the node's own class_type '" + c.class_type + "'");
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (std::tolower(static_cast<unsigned char>(a[i - 1])) ==
                                          std::tolower(static_cast<unsigned char>(b[j - 1]))
                                      ? 0
                                      : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates, size_t max_distance) {
  std::string best;
  size_t best_d = max_distance + 1;
  const std::string head = word.substr(0, 256);
  for (const auto& c : candidates) {
    // The length difference is a lower bound of the distance: most candidates cost nothing.
    const size_t gap = head.size() > c.size() ? head.size() - c.size() : c.size() - head.size();
    if (gap >= best_d) continue;
    size_t d = edit_distance(head, c);
    if (d < best_d) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::vector<std::string> unknown_port_types(const NodeContract& c, const Catalogue& catalogue) {
  std::set<std::string> known;
  for (const auto& [_, e] : catalogue.entries()) {
    if (e.contract.class_type == c.class_type) continue;
    for (const auto& o : e.contract.outputs)
      for (const auto& t : split_union(o.type)) known.insert(t);
    for (const auto& in : e.contract.inputs)
      for (const auto& t : split_union(in.type)) known.insert(t);
  }
  std::vector<std::string> candidates(known.begin(), known.end());
  candidates.insert(candidates.end(), kLiteralTypes.begin(), kLiteralTypes.end());
  std::set<std::string> reported;
  std::vector<std::string> out;
  auto check = [&](const std::string& type) {
    for (const auto& t : split_union(type)) {
      if (kLiteralTypes.count(t) || known.count(t) || !reported.insert(t).second) continue;
      std::string near = nearest(t, candidates, std::max<size_t>(2, t.size() / 3));
      out.push_back(t + (near.empty() ? std::string() : " (did you mean " + near + "?)"));
    }
  };
  for (const auto& in : c.inputs) check(in.type);
  for (const auto& o : c.outputs) check(o.type);
  return out;
}

}  // namespace sf::host
