// Literal: a constant from a graph file (bool, integer, float, string, or a {"__value__": [...]}
// list, possibly nested). Torch-free.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace sf {

struct Literal {
  using List = std::vector<Literal>;
  std::variant<std::monostate, bool, int64_t, double, std::string, List> v;

  Literal() = default;
  Literal(bool b) : v(b) {}                       // NOLINT
  Literal(int i) : v(static_cast<int64_t>(i)) {}  // NOLINT
  Literal(int64_t i) : v(i) {}                    // NOLINT
  Literal(double d) : v(d) {}                     // NOLINT
  Literal(const char* s) : v(std::string(s)) {}   // NOLINT
  Literal(std::string s) : v(std::move(s)) {}     // NOLINT
  Literal(List l) : v(std::move(l)) {}            // NOLINT

  bool is_null() const { return std::holds_alternative<std::monostate>(v); }
  bool is_bool() const { return std::holds_alternative<bool>(v); }
  bool is_int() const { return std::holds_alternative<int64_t>(v); }
  bool is_float() const { return std::holds_alternative<double>(v); }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_list() const { return std::holds_alternative<List>(v); }

  bool as_bool() const { return std::get<bool>(v); }
  int64_t as_int() const { return std::get<int64_t>(v); }
  double as_number() const { return is_int() ? static_cast<double>(as_int()) : std::get<double>(v); }
  const std::string& as_string() const { return std::get<std::string>(v); }
  const List& as_list() const { return std::get<List>(v); }

  // JSON text of the literal (lists as plain JSON arrays), for messages and cache keys.
  std::string to_json() const;
};

bool operator==(const Literal& a, const Literal& b);

}  // namespace sf

#include "sigmaflow/detail/literal_impl.h"
