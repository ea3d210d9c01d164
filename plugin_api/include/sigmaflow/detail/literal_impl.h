// Inline definitions for literal.h (header-only so the plugin API needs no library).
#pragma once

#include <cmath>
#include <cstdio>

namespace sf {

namespace detail {
inline void append_json_string(std::string& out, const std::string& s) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

inline void append_json(std::string& out, const Literal& l) {
  if (l.is_null()) {
    out += "null";
  } else if (l.is_bool()) {
    out += l.as_bool() ? "true" : "false";
  } else if (l.is_big_uint()) {
    out += std::to_string(l.as_uint());
  } else if (l.is_int()) {
    out += std::to_string(l.as_int());
  } else if (l.is_float()) {
    double d = std::get<double>(l.v);
    if (!std::isfinite(d)) {
      out += std::isnan(d) ? "NaN" : (d > 0 ? "Infinity" : "-Infinity");
    } else {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.17g", d);
      std::string s = buf;
      if (s.find_first_of(".eE") == std::string::npos) s += ".0";
      out += s;
    }
  } else if (l.is_string()) {
    append_json_string(out, l.as_string());
  } else {
    out += '[';
    bool first = true;
    for (const auto& e : l.as_list()) {
      if (!first) out += ',';
      first = false;
      append_json(out, e);
    }
    out += ']';
  }
}
}  // namespace detail

inline std::string Literal::to_json() const {
  std::string out;
  detail::append_json(out, *this);
  return out;
}

inline bool operator==(const Literal& a, const Literal& b) { return a.v == b.v; }

}  // namespace sf
