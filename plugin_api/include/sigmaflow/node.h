// Writing a node: one contract and one execute function.
//
//   SIGMAFLOW_PLUGIN("my_plugin", "1.0") {
//     sf::NodeContract c;
//     c.class_type = "Double";  c.category = "math";
//     c.inputs = {sf::Float("x", 1.0)};
//     c.outputs = {{"FLOAT", "x2"}};
//     registrar.add_node(sf::make_node(c, [](sf::Context&, const sf::Inputs& in) {
//       return sf::Outputs{sf::Value("FLOAT", sf::Literal(2 * in.get_float("x")))};
//     }));
//   }
//
// Contract of execute functions:
// - Threading: called on the host's execution thread, one node at a time; values received are
//   shared and immutable, values returned must not be modified afterwards.
// - Errors: throw sf::InputError (names the offending input and value) or any std::exception;
//   make_node() catches everything on the plugin side, so no exception crosses into the host.
// - Determinism: anything random takes a seed input and generates on the CPU.
// - Devices: tensors stay on the device of the model they came from; SIGMAS stay on the CPU.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "sigmaflow/contract.h"
#include "sigmaflow/model.h"
#include "sigmaflow/sampler.h"
#include "sigmaflow/value.h"

namespace sf {

// An error about one input of the failing node: the host reports node id, class_type, plugin,
// input name and value with the message.
class SF_SHARED InputError : public std::runtime_error {
 public:
  InputError(std::string input, std::string value, const std::string& message)
      : std::runtime_error(message), input_(std::move(input)), value_(std::move(value)) {}
  const std::string& input() const { return input_; }
  const std::string& value() const { return value_; }

 private:
  std::string input_, value_;
};

// Filled by make_node's wrapper when execute fails.
struct ExecError {
  std::string message;
  std::string input;  // empty when the error is not about one input
  std::string value;
};

using Outputs = std::vector<Value>;

// The resolved inputs of one node execution: literals from the graph (defaults filled in) and
// values produced upstream. Getters throw InputError on a missing input or a wrong kind.
class Inputs {
 public:
  Inputs() = default;
  explicit Inputs(std::map<std::string, Value> values) : values_(std::move(values)) {}

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const Value& get(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const Literal& get_literal(const std::string& name) const;
  const at::Tensor& get_tensor(const std::string& name) const;
  std::shared_ptr<const Object> get_object(const std::string& name) const;

  // The object at `name` as T; throws InputError if it is missing or not a T.
  template <class T>
  std::shared_ptr<const T> get(const std::string& name) const {
    auto obj = get_object(name);
    auto typed = std::dynamic_pointer_cast<const T>(obj);
    if (!typed) throw InputError(name, get(name).type(), "input '" + name + "' holds a value of an unexpected kind");
    return typed;
  }
  const std::map<std::string, Value>& all() const { return values_; }
  void set(const std::string& name, Value v) { values_[name] = std::move(v); }

 private:
  std::map<std::string, Value> values_;
};

// Host services offered to a running node. Implemented by the host (or the NodeRunner test
// harness). Methods do not throw.
class SF_SHARED Context {
 public:
  virtual ~Context() = default;
  virtual const std::string& node_id() const = 0;
  virtual const std::string& class_type() const = 0;
  // Report progress of a long node (samplers: once per step). Cheap; may be called often.
  virtual void progress(int64_t done, int64_t total) = 0;
  virtual void info(const std::string& message) = 0;
  virtual void warn(const std::string& message) = 0;
  // Folder for output files (created by the host), and a per-user cache folder.
  virtual std::string output_dir() const = 0;
  virtual std::string cache_dir() const = 0;
  // The device models go to when a node's own `device` input says "default"/"auto".
  virtual c10::Device default_device() const = 0;
  // The whole graph as JSON text (reports embed it), and a versions line.
  virtual std::string graph_json() const = 0;
  virtual std::string versions() const = 0;
  // Tell the host about a file this node wrote (listed at the end of the run).
  virtual void record_output(const std::string& path) = 0;

  // Named schedule registry (BasicScheduler, KSampler, sweeps).
  virtual std::vector<std::string> schedule_names() const = 0;
  // Full N-step schedule: float64 CPU tensor of steps + 1 values ending in 0.
  virtual bool compute_schedule(const std::string& name, const Model& model, int64_t steps,
                                at::Tensor& sigmas, std::string& error) const = 0;
  // Named sampler registry (KSamplerSelect, KSampler, sweeps).
  virtual std::vector<std::string> sampler_names() const = 0;
  virtual std::shared_ptr<const Sampler> make_sampler(const std::string& name, std::string& error) const = 0;
};

// The host-side callable of a node. Never throws (make_node guarantees it).
using NodeInvoke = std::function<bool(Context&, const Inputs&, Outputs&, ExecError&)>;

struct NodeDef {
  NodeContract contract;
  NodeInvoke invoke;
  // Optional self-test run by `sigmaflow plugin check`: returns an empty string on success.
  std::function<std::string()> self_test;
};

// A named schedule computed from a model (float64 CPU, steps + 1 values ending in 0).
struct ScheduleDef {
  std::string name;
  std::string description;
  std::function<bool(const Model&, int64_t, at::Tensor&, std::string&)> compute;  // never throws
};

// A named sampler with default options.
struct SamplerDef {
  std::string name;
  std::string description;
  std::function<std::shared_ptr<const Sampler>(std::string&)> create;  // never throws
};

// Where a plugin's init registers what it offers. Implemented by the host.
class SF_SHARED Registrar {
 public:
  virtual ~Registrar() = default;
  virtual void add_node(NodeDef def) = 0;
  virtual void add_schedule(ScheduleDef def) = 0;
  virtual void add_sampler(SamplerDef def) = 0;
};

using ExecuteFn = std::function<Outputs(Context&, const Inputs&)>;

// Wraps an execute function so exceptions become an ExecError on the plugin side.
inline NodeDef make_node(NodeContract contract, ExecuteFn fn) {
  NodeDef def;
  def.contract = std::move(contract);
  def.invoke = [fn = std::move(fn)](Context& ctx, const Inputs& in, Outputs& out, ExecError& err) noexcept {
    try {
      out = fn(ctx, in);
      return true;
    } catch (const InputError& e) {
      err = ExecError{e.what(), e.input(), e.value()};
    } catch (const std::exception& e) {
      err = ExecError{e.what(), {}, {}};
    } catch (...) {
      err = ExecError{"unknown exception", {}, {}};
    }
    return false;
  };
  return def;
}

inline ScheduleDef make_schedule(std::string name, std::string description,
                                 std::function<at::Tensor(const Model&, int64_t)> fn) {
  ScheduleDef def;
  def.name = std::move(name);
  def.description = std::move(description);
  def.compute = [fn = std::move(fn)](const Model& m, int64_t steps, at::Tensor& out, std::string& err) noexcept {
    try {
      out = fn(m, steps);
      return true;
    } catch (const std::exception& e) {
      err = e.what();
    } catch (...) {
      err = "unknown exception";
    }
    return false;
  };
  return def;
}

inline SamplerDef make_sampler_def(std::string name, std::string description,
                                   std::function<std::shared_ptr<const Sampler>()> fn) {
  SamplerDef def;
  def.name = std::move(name);
  def.description = std::move(description);
  def.create = [fn = std::move(fn)](std::string& err) noexcept -> std::shared_ptr<const Sampler> {
    try {
      return fn();
    } catch (const std::exception& e) {
      err = e.what();
    } catch (...) {
      err = "unknown exception";
    }
    return nullptr;
  };
  return def;
}

}  // namespace sf
