// A MODEL proxy that counts evaluations and the time spent in them, so sweeps can report the
// split between model evaluations and everything else. Same info (fingerprint included), so
// caches keyed by the model still apply.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "sigmaflow/model.h"

namespace sf::nodes {

class TimedModel : public Model {
 public:
  explicit TimedModel(std::shared_ptr<const Model> inner) : Model(inner->info()), inner_(std::move(inner)) {}
  double timestep(double s) const override { return inner_->timestep(s); }
  double sigma_at(double t) const override { return inner_->sigma_at(t); }
  std::vector<double> sigma_table() const override { return inner_->sigma_table(); }
  const ExactDensity* exact() const override { return inner_->exact(); }

  double seconds() const { return static_cast<double>(nanos_.load()) * 1e-9; }
  int64_t calls() const { return calls_.load(); }

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& cond) const override {
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor d = inner_->denoise(x, sigma, cond);
    nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    ++calls_;
    return d;
  }

 private:
  std::shared_ptr<const Model> inner_;
  mutable std::atomic<int64_t> nanos_{0};
  mutable std::atomic<int64_t> calls_{0};
};

}  // namespace sf::nodes
