// Lists of numbers typed into a STRING input ("14.6, 7, 3.5, 1, 0.3, 0", "0, 1, 2"): one grammar
// for the node that reads the list and for the host that checks it at validation, so the two can
// never disagree. A node declares the rule in its contract (NumberListOf, Constraint::Kind::
// kNumberList, API 3.2) and parses with parse_number_list at run time; `validate` applies the same
// rule to a literal without loading the node's plugin. Torch-free, header-only.
#pragma once

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "sigmaflow/contract.h"

namespace sf {

struct NumberListRule {
  // Unsigned 64-bit integers (seeds: digits only); otherwise finite decimals.
  bool integers = false;
  // Items separated by commas only, blanks around them trimmed and empty items refused; otherwise
  // by commas, semicolons, whitespace or brackets, empty items dropped.
  bool commas_only = false;
  // An all-blank text is the empty list (otherwise "no numbers found").
  bool blank_is_empty = false;
  bool unique = false;               // no value twice
  bool strictly_decreasing = false;  // each value below the one before (a schedule)
  size_t min_count = 0, max_count = 1000000;
  std::optional<double> min_value;  // inclusive lower bound (decimals)
  std::string noun = "number";      // what an item is called in messages ("seed")
};

struct NumberList {
  std::vector<double> values;      // every item (integers too, rounded to double)
  std::vector<uint64_t> integers;  // NumberListRule::integers: the exact values
  std::string error;               // empty when the text follows the rule
  bool ok() const { return error.empty(); }
};

// A whole-string finite decimal: [sign] digits [. digits] [e [sign] digits], at least one digit
// before the exponent; no hex, "inf" or "nan" (which strtod would accept).
inline bool parse_decimal(const std::string& text, double& value) {
  size_t i = 0;
  const size_t n = text.size();
  auto digit = [&](size_t k) { return k < n && std::isdigit(static_cast<unsigned char>(text[k])); };
  if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
  size_t digits = 0;
  while (digit(i)) ++i, ++digits;
  if (i < n && text[i] == '.') {
    ++i;
    while (digit(i)) ++i, ++digits;
  }
  if (digits == 0) return false;
  if (i < n && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    if (i < n && (text[i] == '+' || text[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (digit(i)) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  if (i != n) return false;
  value = std::strtod(text.c_str(), nullptr);
  return std::isfinite(value);
}

// Splits on commas, semicolons, whitespace and brackets; drops empty items.
inline std::vector<std::string> split_number_items(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char ch : text + ",") {
    if (ch == ',' || ch == ';' || ch == ' ' || ch == '\n' || ch == '\t' || ch == '\r' || ch == '[' || ch == ']') {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  return out;
}

namespace number_list_detail {

inline std::vector<std::string> split_on_commas(const std::string& text, const std::string& noun, std::string& error) {
  std::vector<std::string> items;
  for (size_t begin = 0; begin <= text.size();) {
    size_t end = text.find(',', begin);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(begin, end - begin);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    if (item.empty()) {
      error = "an empty entry in the " + noun + " list";
      return {};
    }
    items.push_back(item);
    begin = end + 1;
  }
  return items;
}

inline bool parse_u64(const std::string& item, uint64_t& value) {
  if (item.empty() || !std::isdigit(static_cast<unsigned char>(item[0]))) return false;
  errno = 0;
  char* rest = nullptr;
  const unsigned long long v = std::strtoull(item.c_str(), &rest, 10);
  if (errno != 0 || !rest || *rest != '\0') return false;
  value = v;
  return true;
}

inline std::string shown(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

// The checks on the values once every item parsed.
inline std::string check_values(const NumberList& list, const NumberListRule& rule) {
  const size_t n = list.values.size();
  if (n < rule.min_count)
    return n == 0 ? "no " + rule.noun + "s found"
                  : "at least " + std::to_string(rule.min_count) + " " + rule.noun + "s are needed, got " +
                        std::to_string(n);
  if (n > rule.max_count)
    return "at most " + std::to_string(rule.max_count) + " " + rule.noun + "s, got " + std::to_string(n);
  for (size_t i = 0; i < n; ++i) {
    const double v = list.values[i];
    if (rule.min_value && v < *rule.min_value)
      return rule.noun + " " + std::to_string(i) + " = " + shown(v) + " is below " + shown(*rule.min_value);
    if (rule.strictly_decreasing && i > 0 && !(v < list.values[i - 1]))
      return "the " + rule.noun + "s must be strictly descending: " + rule.noun + " " + std::to_string(i) + " = " +
             shown(v) + " follows " + shown(list.values[i - 1]);
    if (rule.unique)
      for (size_t j = 0; j < i; ++j) {
        const bool same = rule.integers ? list.integers[j] == list.integers[i] : list.values[j] == v;
        if (same)
          return rule.noun + " " + (rule.integers ? std::to_string(list.integers[i]) : shown(v)) + " is listed twice";
      }
  }
  return {};
}

}  // namespace number_list_detail

// Parses `text` under `rule`. Messages quote at most 40 characters of an item.
inline NumberList parse_number_list(const std::string& text, const NumberListRule& rule) {
  NumberList out;
  const bool blank = text.find_first_not_of(" \t\r\n") == std::string::npos;
  std::vector<std::string> items;
  if (!(blank && rule.blank_is_empty)) {
    items =
        rule.commas_only ? number_list_detail::split_on_commas(text, rule.noun, out.error) : split_number_items(text);
    if (!out.ok()) return out;
  }
  for (const auto& item : items) {
    const std::string quoted = "'" + item.substr(0, 40) + "'";
    if (rule.integers) {
      uint64_t v = 0;
      if (!item.empty() && item[0] == '-') {
        out.error = rule.noun + " " + quoted + " is negative";
        return out;
      }
      if (!number_list_detail::parse_u64(item, v)) {
        out.error = quoted + " is not a " + rule.noun + " (an integer in 0..2^64-1)";
        return out;
      }
      out.integers.push_back(v);
      out.values.push_back(static_cast<double>(v));
    } else {
      double v = 0;
      if (!parse_decimal(item, v)) {
        out.error = quoted + " is not a number";
        return out;
      }
      out.values.push_back(v);
    }
  }
  out.error = number_list_detail::check_values(out, rule);
  return out;
}

// The rule as the text of Constraint::value ("integers=1;commas_only=1;...;noun=seed"), and back.
inline std::string number_list_rule_text(const NumberListRule& r) {
  std::string t = "integers=" + std::to_string(r.integers) + ";commas_only=" + std::to_string(r.commas_only) +
                  ";blank_is_empty=" + std::to_string(r.blank_is_empty) + ";unique=" + std::to_string(r.unique) +
                  ";strictly_decreasing=" + std::to_string(r.strictly_decreasing) +
                  ";min_count=" + std::to_string(r.min_count) + ";max_count=" + std::to_string(r.max_count);
  if (r.min_value) {
    char b[40];
    std::snprintf(b, sizeof b, "%.17g", *r.min_value);
    t += std::string(";min_value=") + b;
  }
  return t + ";noun=" + r.noun;
}

// nullopt for a text that is not exactly what number_list_rule_text writes (a forged or future
// contract).
inline std::optional<NumberListRule> number_list_rule_from_text(const std::string& text) {
  NumberListRule r;
  for (size_t begin = 0; begin < text.size();) {
    size_t end = text.find(';', begin);
    if (end == std::string::npos) end = text.size();
    const std::string field = text.substr(begin, end - begin);
    begin = end + 1;
    const size_t eq = field.find('=');
    if (eq == std::string::npos) return std::nullopt;
    const std::string key = field.substr(0, eq), value = field.substr(eq + 1);
    auto flag = [&](bool& b) {
      if (value != "0" && value != "1") return false;
      b = value == "1";
      return true;
    };
    auto count = [&](size_t& c) {
      uint64_t v = 0;
      if (!number_list_detail::parse_u64(value, v) || v > 1000000) return false;
      c = static_cast<size_t>(v);
      return true;
    };
    double bound = 0;
    const bool ok = key == "integers"              ? flag(r.integers)
                    : key == "commas_only"         ? flag(r.commas_only)
                    : key == "blank_is_empty"      ? flag(r.blank_is_empty)
                    : key == "unique"              ? flag(r.unique)
                    : key == "strictly_decreasing" ? flag(r.strictly_decreasing)
                    : key == "min_count"           ? count(r.min_count)
                    : key == "max_count"           ? count(r.max_count)
                    : key == "min_value"           ? (parse_decimal(value, bound) ? (r.min_value = bound, true) : false)
                    : key == "noun"                ? (r.noun = value, !value.empty() && value.size() <= 40)
                                                   : false;
    if (!ok) return std::nullopt;
  }
  if (r.min_count > r.max_count) return std::nullopt;
  return r;
}

// The contract rule: the STRING input `input`, when a literal, follows `rule` (checked at
// validation with parse_number_list; the node parses with the same function at run time).
inline Constraint NumberListOf(std::string input, const NumberListRule& rule, std::string message = {}) {
  return {Constraint::Kind::kNumberList, std::move(input), {}, number_list_rule_text(rule), std::move(message)};
}

}  // namespace sf
