// Literal coercion and port-type compatibility (ComfyUI's rules).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <sstream>

#include "validate/validate.h"

namespace sf::host {

namespace {

std::vector<std::string> split_types(const std::string& t) {
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

// A whole-string finite decimal number (no hex, inf or nan, which strtod would accept).
bool parse_decimal(const std::string& s, double& out) {
  size_t i = 0, n = s.size(), digits = 0;
  if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
  while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  if (i < n && s[i] == '.') {
    ++i;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++digits;
  }
  if (digits == 0 || n > 400) return false;
  if (i < n && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    size_t e = 0;
    while (i < n && std::isdigit(static_cast<unsigned char>(s[i]))) ++i, ++e;
    if (e == 0) return false;
  }
  if (i != n) return false;
  out = std::strtod(s.c_str(), nullptr);
  return std::isfinite(out);
}

bool coerce_int(const Literal& lit, Literal& out) {
  if (lit.is_int()) {
    out = lit;
    return true;
  }
  double d;
  if (lit.is_float())
    d = lit.as_number();
  else if (!(lit.is_string() && parse_decimal(lit.as_string(), d)))
    return false;
  if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9.0e18) return false;
  out = Literal(static_cast<int64_t>(d));
  return true;
}

// Coerces `lit` to a single (non-union) type; returns false if it cannot.
bool coerce_one(const Literal& lit, const std::string& type, Literal& out) {
  if (type == "*") {
    out = lit;
    return true;
  }
  if (type == "INT") return coerce_int(lit, out);
  if (type == "FLOAT") {
    double d;
    if (lit.is_number())
      d = lit.as_number();
    else if (!(lit.is_string() && parse_decimal(lit.as_string(), d)))
      return false;
    if (!std::isfinite(d)) return false;
    out = Literal(d);
    return true;
  }
  if (type == "BOOLEAN" && lit.is_bool()) {
    out = lit;
    return true;
  }
  if (type == "STRING") {
    if (lit.is_string())
      out = lit;
    else if (lit.is_number() || lit.is_bool())
      out = Literal(lit.to_json());
    else
      return false;
    return true;
  }
  if ((type == "COMBO" && lit.is_string()) || (type == "LIST" && lit.is_list())) {
    out = lit;
    return true;
  }
  return false;  // value types (MODEL, SIGMAS, ...) only come through links
}

std::string fmt_number(double d) {
  std::ostringstream os;
  os.precision(15);
  os << d;
  return os.str();
}

bool check_range(const InputSpec& spec, const Literal& literal, const Literal& coerced, LiteralProblem& problem) {
  if (!coerced.is_number() || !(spec.type == "INT" || spec.type == "FLOAT" || spec.type.find(',') != std::string::npos))
    return true;
  // Big unsigned integers compare exactly against an integral max (e.g. a seed's 2^64 - 1).
  const double v = coerced.as_number();
  const bool above =
      coerced.is_big_uint() ? (spec.max && *spec.max < 18446744073709551615.0) : (spec.max && v > *spec.max);
  if (spec.min && v < *spec.min) {
    problem = {"value_smaller_than_min",
               "Value " + shorten_json(literal.to_json()) + " smaller than min of " + fmt_number(*spec.min),
               "minimum is " + fmt_number(*spec.min)};
    return false;
  }
  if (above) {
    problem = {"value_bigger_than_max",
               "Value " + shorten_json(literal.to_json()) + " bigger than max of " + fmt_number(*spec.max),
               "maximum is " + fmt_number(*spec.max)};
    return false;
  }
  return true;
}

}  // namespace

std::string shorten_json(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return text.substr(0, max_chars) + "... (" + std::to_string(text.size()) + " characters)";
}

std::string printable(const std::string& text, size_t max_bytes, bool keep_newlines) {
  std::string out;
  char buf[16];
  size_t i = 0;
  for (; i < text.size() && out.size() < max_bytes;) {
    const auto c = static_cast<unsigned char>(text[i]);
    if ((c < 0x20 && !(keep_newlines && c == '\n')) || c == 0x7f) {
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
      ++i;
      continue;
    }
    // C1 controls (U+0080-009F) and the bidi controls, as UTF-8.
    uint32_t cp = 0;
    size_t len = 1;
    if (c == 0xc2 && i + 1 < text.size()) {
      cp = static_cast<unsigned char>(text[i + 1]);
      len = 2;
    } else if (c == 0xe2 && i + 2 < text.size()) {
      cp = 0x2000 | ((static_cast<unsigned char>(text[i + 1]) & 0x3fu) << 6) |
           (static_cast<unsigned char>(text[i + 2]) & 0x3fu);
      len = 3;
    }
    const bool control = (len == 2 && cp >= 0x80 && cp <= 0x9f) ||
                         (len == 3 && (cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
                                       (cp >= 0x2066 && cp <= 0x2069)));
    if (control) {
      std::snprintf(buf, sizeof buf, "\\u{%04x}", static_cast<unsigned>(cp));
      out += buf;
      i += len;
      continue;
    }
    // Copy one whole UTF-8 character so a cut never splits one.
    size_t n = c < 0x80 ? 1 : c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    n = std::min(n, text.size() - i);
    out.append(text, i, n);
    i += n;
  }
  if (i < text.size()) out += "... (" + std::to_string(text.size()) + " bytes)";
  return out;
}

bool is_literal_type(const std::string& t) {
  static const std::set<std::string> k = {"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO", "LIST", "*"};
  return k.count(t) != 0;
}

bool types_compatible(const std::string& output_type, const std::string& input_type) {
  if (output_type == "*" || input_type == "*") return true;
  if (output_type == input_type && output_type.find(',') == std::string::npos) return true;  // the common case
  for (const auto& o : split_types(output_type)) {
    if (o == "*") return true;
    for (const auto& i : split_types(input_type)) {
      if (i == "*" || o == i) return true;
      // A COMBO input may be fed by a STRING or COMBO output (ComfyUI primitive nodes).
      if (i == "COMBO" && o == "STRING") return true;
    }
  }
  return false;
}

bool coerce_literal(const InputSpec& spec, const Literal& literal, Literal& coerced, LiteralProblem& problem) {
  bool ok = false;
  for (const auto& t : split_types(spec.type))
    if (coerce_one(literal, t, coerced)) {
      ok = true;
      break;
    }
  if (!ok) {
    std::string expect = is_literal_type(spec.type) || spec.type.find(',') != std::string::npos
                             ? "a value of type " + spec.type
                             : "a link to a " + spec.type + " output";
    std::string hint;
    if (literal.is_list() && spec.type != "LIST" && is_literal_type(spec.type))
      hint = "; a JSON array is a literal list, which this input does not take";
    else if (literal.is_list() && !is_literal_type(spec.type))
      hint = "; a link is written [\"<node id>\", <output index>]";
    problem = {"invalid_input_type", "Failed to convert an input value to a " + spec.type + " value",
               "expected " + expect + hint};
    return false;
  }
  if (!check_range(spec, literal, coerced, problem)) return false;
  if (spec.type == "COMBO" &&
      std::find(spec.choices.begin(), spec.choices.end(), coerced.as_string()) == spec.choices.end()) {
    std::string list;
    for (const auto& ch : spec.choices) list += (list.empty() ? "" : ", ") + ch;
    problem = {"value_not_in_list", "Value not in list",
               "'" + shorten_json(coerced.as_string()) + "' not in [" + shorten_json(list, 2000) + "]"};
    return false;
  }
  return true;
}

}  // namespace sf::host
