// Literal: a constant from a graph file (bool, integer, float, string, or a {"__value__": [...]}
// list, possibly nested). Integers are int64, or uint64 for values above INT64_MAX (seeds up to
// 2^64 - 1, as ComfyUI allows). Torch-free.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

namespace sf {

struct Literal {
  using List = std::vector<Literal>;
  std::variant<std::monostate, bool, int64_t, uint64_t, double, std::string, List> v;

  Literal() = default;
  Literal(bool b) : v(b) {}                       // NOLINT
  Literal(int i) : v(static_cast<int64_t>(i)) {}  // NOLINT
  Literal(int64_t i) : v(i) {}                    // NOLINT
  Literal(uint64_t u) {                           // NOLINT
    if (u <= static_cast<uint64_t>(INT64_MAX))
      v = static_cast<int64_t>(u);
    else
      v = u;
  }
  Literal(double d) : v(d) {}                    // NOLINT
  Literal(const char* s) : v(std::string(s)) {}  // NOLINT
  Literal(std::string s) : v(std::move(s)) {}    // NOLINT
  Literal(List l) : v(std::move(l)) {}           // NOLINT

  bool is_null() const { return std::holds_alternative<std::monostate>(v); }
  bool is_bool() const { return std::holds_alternative<bool>(v); }
  // Any integer, signed or above INT64_MAX.
  bool is_int() const { return std::holds_alternative<int64_t>(v) || std::holds_alternative<uint64_t>(v); }
  bool is_big_uint() const { return std::holds_alternative<uint64_t>(v); }
  bool is_float() const { return std::holds_alternative<double>(v); }
  bool is_number() const { return is_int() || is_float(); }
  bool is_string() const { return std::holds_alternative<std::string>(v); }
  bool is_list() const { return std::holds_alternative<List>(v); }

  bool as_bool() const { return std::get<bool>(v); }
  // The integer as int64; a value above INT64_MAX throws std::out_of_range.
  int64_t as_int() const {
    if (is_big_uint()) throw std::out_of_range("integer " + std::to_string(std::get<uint64_t>(v)) + " exceeds int64");
    return std::get<int64_t>(v);
  }
  // The integer as uint64; a negative value throws std::out_of_range.
  uint64_t as_uint() const {
    if (is_big_uint()) return std::get<uint64_t>(v);
    int64_t i = std::get<int64_t>(v);
    if (i < 0) throw std::out_of_range("integer " + std::to_string(i) + " is negative");
    return static_cast<uint64_t>(i);
  }
  double as_number() const {
    if (is_big_uint()) return static_cast<double>(std::get<uint64_t>(v));
    if (std::holds_alternative<int64_t>(v)) return static_cast<double>(std::get<int64_t>(v));
    return std::get<double>(v);
  }
  const std::string& as_string() const { return std::get<std::string>(v); }
  const List& as_list() const { return std::get<List>(v); }

  // JSON text of the literal (lists as plain JSON arrays), for messages and cache keys.
  std::string to_json() const;
};

bool operator==(const Literal& a, const Literal& b);

}  // namespace sf

#include "sigmaflow/detail/literal_impl.h"
