// Sigmas: the one schedule type of the maths. Values are float64 on the host, strictly
// descending; a full N-step schedule has N + 1 values ending in 0 (conventions.md §3). Between
// nodes a schedule travels as a SIGMAS value, a 1-D float32 CPU tensor: from_tensor() and
// to_value() are the only conversions, so every consumer sees the float32-rounded values.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "sigmaflow/contract.h"
#include "sigmaflow/status.h"
#include "sigmaflow/value.h"

namespace sf::diffusion {

class Sigmas {
 public:
  Sigmas() = default;
  explicit Sigmas(std::vector<double> values) : values_(std::move(values)) {}
  // The values of a SIGMAS tensor (any dtype or device; one copy).
  static Sigmas from_tensor(const at::Tensor& t);
  // A 1-D float32 CPU tensor, and the SIGMAS value holding it.
  at::Tensor to_tensor() const;
  Value to_value() const;
  // The values a SIGMAS value holds: each rounded to float32.
  Sigmas rounded_to_float32() const;

  const std::vector<double>& values() const { return values_; }
  std::vector<double>& values() { return values_; }
  size_t size() const { return values_.size(); }
  bool empty() const { return values_.empty(); }
  double operator[](size_t i) const { return values_[i]; }
  // Steps a sampler runs over these sigmas: size - 1 (0 for fewer than 2 values).
  int64_t steps() const { return values_.size() < 2 ? 0 : static_cast<int64_t>(values_.size()) - 1; }

  // The denoise rule (ComfyUI's BasicScheduler, KSampler): a run of `steps` steps at denoise d
  // computes a schedule of int(steps / d) steps and keeps its last steps + 1 values. Returns the
  // total to compute, 0 when d <= 0 (an empty schedule: nothing to do). Throws an InputError
  // about `denoise` when steps / d passes kMaxDenoiseTotalSteps.
  static int64_t total_steps_for_denoise(int64_t steps, double denoise);
  static constexpr int64_t kMaxDenoiseTotalSteps = 1000000;
  // The same bound as a contract rule for a node with `steps` and `denoise` inputs, so that
  // `sigmaflow validate` refuses what the run would.
  static Constraint denoise_constraint() {
    return ProductAtMost({"steps"}, {"denoise"}, static_cast<double>(kMaxDenoiseTotalSteps),
                         "a run at denoise d computes int(steps / d) steps and keeps the last steps + 1");
  }
  // The last steps + 1 values (all of them when there are fewer).
  Sigmas last_steps(int64_t steps) const;
  // total_steps_for_denoise + full(total) + last_steps, in one call. `full(n)` returns Sigmas.
  template <class Full>
  static Sigmas with_denoise(int64_t steps, double denoise, Full full) {
    int64_t total = total_steps_for_denoise(steps, denoise);
    if (total == 0) return {};
    return Sigmas(full(total)).last_steps(steps);
  }

  // For sampling: finite, >= 0, strictly descending (empty is a valid no-op). Throws
  // sf::InputError naming `input` and the first offending sigma.
  void check_sampling(const std::string& input) const;
  // A complete N-step schedule as named schedules must return: steps + 1 finite values,
  // strictly descending, positive but for the last, which is exactly 0.
  Status check_full_schedule(int64_t steps) const;
  // "[14.6, 7.2, ..., 0]" with at most `max_items` values shown.
  std::string format(size_t max_items = 8) const;

 private:
  std::vector<double> values_;
};

}  // namespace sf::diffusion
