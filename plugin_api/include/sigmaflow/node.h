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
// - Threading: called on the host's execution thread, one node at a time.
// - Inputs are shared and immutable: never write into an input tensor (the host compares tensor
//   version counters around every call and fails a node that did). Values returned must not be
//   modified afterwards.
// - Errors: throw sf::InputError (names the offending input and value) or any std::exception;
//   make_node() turns them into a Status on the plugin side: no exception crosses into the host.
// - Determinism: anything random takes a seed input and generates on the CPU.
// - Devices: tensors stay on the device of the model they came from; SIGMAS stay on the CPU.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "sigmaflow/collectives.h"
#include "sigmaflow/contract.h"
#include "sigmaflow/model.h"
#include "sigmaflow/sampler.h"
#include "sigmaflow/status.h"
#include "sigmaflow/value.h"

namespace sf {

using Outputs = std::vector<Value>;

// The resolved inputs of one node execution: literals from the graph (defaults filled in) and
// values produced upstream. Getters throw InputError on a missing input or a wrong kind.
class SF_SHARED Inputs {
 public:
  Inputs() = default;
  explicit Inputs(std::map<std::string, Value> values) : values_(std::move(values)) {}

  bool has(const std::string& name) const { return values_.count(name) != 0; }
  const Value& get(const std::string& name) const;
  int64_t get_int(const std::string& name) const;
  uint64_t get_uint(const std::string& name) const;  // seeds: 0 .. 2^64 - 1
  double get_float(const std::string& name) const;
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const Literal& get_literal(const std::string& name) const;
  const at::Tensor& get_tensor(const std::string& name) const;
  std::shared_ptr<const Object> get_object(const std::string& name) const;

  // The object at `name` as T; throws InputError if it is missing or not a T.
  template <class T>
  std::shared_ptr<const T> get(const std::string& name) const {
    auto typed = std::dynamic_pointer_cast<const T>(get_object(name));
    if (!typed) throw InputError(name, get(name).type(), "input '" + name + "' holds a value of an unexpected kind");
    return typed;
  }
  const std::map<std::string, Value>& all() const { return values_; }
  void set(const std::string& name, Value v) { values_[name] = std::move(v); }

 private:
  std::map<std::string, Value> values_;
};

// What a named schedule may know about its use.
struct ScheduleHints {
  const Sampler* sampler = nullptr;  // the sampler it will run with, when the caller knows it
  std::function<void(int64_t, int64_t)> progress;
};

// Host services offered to a running node. Implemented by the host (and by the NodeRunner test
// harness, which uses the same host code). Methods do not throw.
class SF_SHARED Context {
 public:
  virtual ~Context();
  virtual const std::string& node_id() const = 0;
  virtual const std::string& class_type() const = 0;
  // Report progress of a long node (samplers: once per step). Cheap; may be called often.
  virtual void progress(int64_t done, int64_t total) = 0;
  virtual void info(const std::string& message) = 0;
  virtual void warn(const std::string& message) = 0;
  // The folder output files go to, and a per-user cache folder.
  virtual std::string output_dir() const = 0;
  virtual std::string cache_dir() const = 0;
  // The path for an output file named by a user's prefix: <output dir>/<prefix>_NNNNN_<suffix>
  // with the next free counter (as ComfyUI), or <prefix><suffix> when the run overwrites. One
  // node execution gets one counter per prefix, so its files share it. A prefix that is empty,
  // absolute, contains '..', NUL or a newline, or ends in '/' or '.' is an error about `input`.
  // Folders are created by the writer (write_file_atomic), not here.
  virtual Result<std::string> output_path(const std::string& prefix, const std::string& suffix,
                                          const std::string& input) = 0;
  // Tell the host about a file this node wrote (listed at the end of the run).
  virtual void record_output(const std::string& path) = 0;
  // A user's input path made usable: absolute paths as given; a relative path against the
  // working directory, else against the graph file's folder. When neither exists the error
  // (about `input`) names both places it looked.
  virtual Result<std::string> resolve_path(const std::string& path, const std::string& input) const = 0;
  // The device models go to when a node's own `device` input says "default"/"auto".
  virtual c10::Device default_device() const = 0;
  // The whole graph as JSON text (reports embed it), and a versions line.
  virtual std::string graph_json() const = 0;
  virtual std::string versions() const = 0;

  // Named schedules (BasicScheduler, KSampler, sweeps): steps + 1 float64 values, strictly
  // descending, ending in 0 (the host checks what a schedule returns).
  virtual std::vector<std::string> schedule_names() const = 0;
  virtual Result<std::vector<double>> compute_schedule(const std::string& name, const Model& model, int64_t steps,
                                                       const ScheduleHints& hints) const = 0;
  // True when the schedule `name` depends on the sampler it runs with (ScheduleDef::sampler_aware).
  virtual bool schedule_uses_sampler(const std::string& name) const = 0;
  // Named samplers (KSamplerSelect, option nodes, KSampler, sweeps).
  virtual std::vector<std::string> sampler_names() const = 0;
  virtual Result<SamplerTraits> sampler_traits(const std::string& name) const = 0;
  virtual Result<std::shared_ptr<const Sampler>> make_sampler(const std::string& name,
                                                              const SamplerSettings& settings) const = 0;
  // Set when the run is being interrupted; long loops pass it to samplers (SampleContext).
  virtual const std::atomic<bool>* interrupt_flag() const = 0;
  // (2.1) The processes of a torchrun launch, or null in a single process. Nodes that shard their
  // work use it; files are written by rank 0 only (the host gives other ranks a scratch folder).
  virtual const Collectives* collectives() const { return nullptr; }
};

// The path given in string input `input`, resolved by ctx.resolve_path; throws an InputError
// naming the input (and the places looked in) when it does not exist.
inline std::string input_path(Context& ctx, const Inputs& in, const std::string& input) {
  const std::string& given = in.get_string(input);
  auto r = ctx.resolve_path(given, input);
  if (!r.ok()) throw InputError(input, "\"" + given + "\"", r.status().message(), r.status().code());
  return *r;
}

using ExecuteFn = std::function<Outputs(Context&, const Inputs&)>;
// The host-side callable of a node. Never throws (make_node guarantees it).
using NodeInvoke = std::function<Result<Outputs>(Context&, const Inputs&)>;

struct NodeDef {
  NodeContract contract;
  NodeInvoke invoke;
  // Optional self-test, run by `sigmaflow plugin check`: checks the node against a known answer
  // without any host (e.g. a schedule against hand-computed values). Ok on success.
  std::function<Status()> self_test;
  // Optional check of the node's literal inputs at validation (ComfyUI's VALIDATE_INPUTS), for
  // rules a contract cannot state (a number list in a string is one it can since 3.2:
  // NumberListOf). It is plugin code, so `validate` hands a graph with such a node to the
  // executor (LibTorch and the plugin loaded: about 0.6 s instead of 0.01 s). Receives only the
  // inputs given as literals (defaults included); a non-ok Status names the input. Never throws. Set it
  // with with_input_check(), which also sets contract.checks_inputs.
  std::function<Status(const Inputs&)> check_inputs;
};

// A named schedule computed from a model: steps + 1 float64 values, descending, ending in 0.
struct ScheduleDef {
  std::string name;
  std::string description;
  bool overrides = false;      // deliberately replaces an earlier plugin's schedule of this name
  bool sampler_aware = false;  // reads ScheduleHints::sampler (callers then compute it per sampler)
  // False for ComfyUI's table schedules (ddim_uniform, beta) that may return a few more or fewer
  // than steps + 1 values; the host then checks only the other rules.
  bool fixed_length = true;
  std::function<Result<std::vector<double>>(const Model&, int64_t, const ScheduleHints&)> compute;  // never throws
  std::function<Status()> self_test;
};

// What every named schedule must return for `steps` steps: steps + 1 finite values (any number
// >= 2 when steps < 0), strictly descending, positive but for the last, which is exactly 0. The
// message shows the values.
Status check_full_schedule(const std::vector<double>& sigmas, int64_t steps);

// A named sampler: its traits and a factory taking the option nodes' settings.
struct SamplerDef {
  std::string name;
  std::string description;
  SamplerTraits traits;
  bool overrides = false;
  std::function<Result<std::shared_ptr<Sampler>>(const SamplerSettings&)> create;  // never throws
  std::function<Status()> self_test;
};

// Where a plugin's init registers what it offers. Implemented by the host.
class SF_SHARED Registrar {
 public:
  virtual ~Registrar();
  virtual void add_node(NodeDef def) = 0;
  virtual void add_schedule(ScheduleDef def) = 0;
  virtual void add_sampler(SamplerDef def) = 0;
};

// Runs `fn`, turning every exception into a Status (InputError keeps its input and value).
template <class T, class F>
Result<T> capture(F&& fn) noexcept {
  try {
    return Result<T>(fn());
  } catch (const InputError& e) {
    return e.status();
  } catch (const Interrupted&) {
    return Cancelled("interrupted");
  } catch (const std::bad_alloc&) {
    return ResourceExhausted("out of memory");
  } catch (const std::exception& e) {
    return Status(Code::kInvalidArgument, e.what());
  } catch (...) {
    return Internal("unknown exception");
  }
}

inline NodeDef make_node(NodeContract contract, ExecuteFn fn, std::function<Status()> self_test = {}) {
  NodeDef def;
  def.contract = std::move(contract);
  def.invoke = [fn = std::move(fn)](Context& ctx, const Inputs& in) noexcept {
    return capture<Outputs>([&] { return fn(ctx, in); });
  };
  def.self_test = std::move(self_test);
  return def;
}

// Adds a validation-time check of literal inputs: `check` throws sf::InputError (naming the input)
// for a value the node would refuse when run.
inline NodeDef with_input_check(NodeDef def, std::function<void(const Inputs&)> check) {
  def.contract.checks_inputs = true;
  def.check_inputs = [check = std::move(check)](const Inputs& in) noexcept {
    return capture<int>([&] {
             check(in);
             return 0;
           })
        .status();
  };
  return def;
}

inline ScheduleDef make_schedule(std::string name, std::string description,
                                 std::function<std::vector<double>(const Model&, int64_t, const ScheduleHints&)> fn) {
  ScheduleDef def;
  def.name = std::move(name);
  def.description = std::move(description);
  def.compute = [fn = std::move(fn)](const Model& m, int64_t steps, const ScheduleHints& hints) noexcept {
    return capture<std::vector<double>>([&] { return fn(m, steps, hints); });
  };
  return def;
}

inline SamplerDef make_sampler_def(std::string name, std::string description, SamplerTraits traits,
                                   std::function<std::shared_ptr<Sampler>(const SamplerSettings&)> fn) {
  SamplerDef def;
  def.name = std::move(name);
  def.description = std::move(description);
  def.traits = traits;
  def.create = [fn = std::move(fn)](const SamplerSettings& settings) noexcept {
    return capture<std::shared_ptr<Sampler>>([&] { return fn(settings); });
  };
  return def;
}

}  // namespace sf
