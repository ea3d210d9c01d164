// Typed input ports, declared once (API 3.3; MediaPipe's API2 ports are the model).
//
// A node's inputs used to be named twice, once in the contract (Int("steps", ...)) and once in
// execute (in.get_int("steps")), so a misspelt name surfaced only when the node ran. A port is
// both: it converts to the InputSpec the contract lists and reads its value, typed, in execute.
//
//   const In<Model> kModel{Port("model", "MODEL")};
//   const In<int64_t> kSteps{Int("steps", 20, 1, 10000)};
//   const In<ScheduleOptions> kOptions{Optional(Port("schedule_options", "SCHEDULE_OPTIONS"))};
//   c.inputs = {kModel, kSteps, kOptions};
//   ... execute:
//   std::shared_ptr<const Model> model = kModel(in);   // a misspelt kStep does not compile
//   int64_t steps = kSteps(in);
//   std::shared_ptr<const ScheduleOptions> options = kOptions.get_if(in);  // null when unconnected
//
// T is the C++ type the input holds: int64_t, uint64_t (seeds), double, bool, std::string,
// Literal, at::Tensor, or an Object class (Model, Sampler, ...: read as shared_ptr<const T>). A
// port whose T does not fit its spec's type is refused when it is built (std::logic_error: a
// programming error, found when the plugin registers). Header-only; nothing a plugin allocates
// changes.
#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "sigmaflow/contract.h"
#include "sigmaflow/node.h"
#include "sigmaflow/value.h"

namespace sf {

namespace detail {

template <class T, class = void>
struct PortRead;

template <>
struct PortRead<int64_t> {
  using Type = int64_t;
  static bool fits(const std::string& t) { return t == "INT"; }
  static Type read(const Inputs& in, const std::string& n) { return in.get_int(n); }
};
template <>
struct PortRead<uint64_t> {
  using Type = uint64_t;
  static bool fits(const std::string& t) { return t == "INT"; }
  static Type read(const Inputs& in, const std::string& n) { return in.get_uint(n); }
};
template <>
struct PortRead<double> {
  using Type = double;
  static bool fits(const std::string& t) { return t == "FLOAT" || t == "INT"; }
  static Type read(const Inputs& in, const std::string& n) { return in.get_float(n); }
};
template <>
struct PortRead<bool> {
  using Type = bool;
  static bool fits(const std::string& t) { return t == "BOOLEAN"; }
  static Type read(const Inputs& in, const std::string& n) { return in.get_bool(n); }
};
template <>
struct PortRead<std::string> {
  using Type = const std::string&;
  static bool fits(const std::string& t) { return t == "STRING" || t == "COMBO"; }
  static Type read(const Inputs& in, const std::string& n) { return in.get_string(n); }
};
template <>
struct PortRead<Literal> {
  using Type = const Literal&;
  static bool fits(const std::string& t) { return t != "*" && !t.empty(); }
  static Type read(const Inputs& in, const std::string& n) { return in.get_literal(n); }
};
template <>
struct PortRead<at::Tensor> {
  using Type = const at::Tensor&;
  static bool fits(const std::string& t) { return !t.empty(); }
  static Type read(const Inputs& in, const std::string& n) { return in.get_tensor(n); }
};
// Objects (MODEL, SAMPLER, a plugin's own types): any port type but the literal ones.
template <class T>
struct PortRead<T, std::enable_if_t<std::is_base_of_v<Object, T>>> {
  using Type = std::shared_ptr<const T>;
  static bool fits(const std::string& t) {
    return !t.empty() && t != "INT" && t != "FLOAT" && t != "BOOLEAN" && t != "STRING" && t != "COMBO";
  }
  static Type read(const Inputs& in, const std::string& n) { return in.get<T>(n); }
};

}  // namespace detail

template <class T>
class In {
 public:
  using Value = typename detail::PortRead<T>::Type;

  // Throws std::logic_error when T cannot hold the spec's type (e.g. In<int64_t> on a FLOAT).
  explicit In(InputSpec spec) : spec_(std::move(spec)) {
    if (!detail::PortRead<T>::fits(spec_.type))
      throw std::logic_error("input port '" + spec_.name + "' of type " + spec_.type +
                             " is declared with a C++ type that cannot hold it");
  }
  // Not copyable: a port is declared once, and `const In<T> kX{kX}` (a self-copy of an object not
  // yet built, which compiles silently for a copyable class) must not compile.
  In(const In&) = delete;
  In& operator=(const In&) = delete;

  // The contract's entry: c.inputs = {kModel, kSteps, ...}.
  operator const InputSpec&() const { return spec_; }  // NOLINT(google-explicit-constructor)
  const InputSpec& spec() const { return spec_; }
  const std::string& name() const { return spec_.name; }

  // The value; a missing input (an optional one left unconnected) is an InputError naming it.
  Value operator()(const Inputs& in) const { return detail::PortRead<T>::read(in, spec_.name); }
  bool given(const Inputs& in) const { return in.has(spec_.name); }
  // Optional object inputs: the object, or null when unconnected.
  template <class U = T, class = std::enable_if_t<std::is_base_of_v<Object, U>>>
  std::shared_ptr<const U> get_if(const Inputs& in) const {
    return in.has(spec_.name) ? (*this)(in) : nullptr;
  }

 private:
  InputSpec spec_;
};

}  // namespace sf
