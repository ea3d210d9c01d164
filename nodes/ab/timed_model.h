// A MODEL proxy that counts evaluations and the time spent in them, so sweeps can report the
// split between model evaluations and everything else.
#pragma once

#include <ATen/core/Tensor.h>

#include <atomic>
#include <chrono>
#include <memory>

#include "sigmaflow/model.h"

namespace sf::nodes {

class TimedModel : public Model {
 public:
  explicit TimedModel(std::shared_ptr<const Model> inner) : inner_(std::move(inner)) {}
  at::Tensor denoise(const at::Tensor& x, const at::Tensor& sigma) const override {
    auto t0 = std::chrono::steady_clock::now();
    at::Tensor d = inner_->denoise(x, sigma);
    nanos_ += std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count();
    ++calls_;
    return d;
  }
  double sigma_min() const override { return inner_->sigma_min(); }
  double sigma_max() const override { return inner_->sigma_max(); }
  double sigma_data() const override { return inner_->sigma_data(); }
  std::vector<int64_t> sample_shape() const override { return inner_->sample_shape(); }
  c10::Device device() const override { return inner_->device(); }
  c10::ScalarType dtype() const override { return inner_->dtype(); }
  std::string parametrization() const override { return inner_->parametrization(); }
  std::string time_map() const override { return inner_->time_map(); }
  std::string fingerprint() const override { return inner_->fingerprint(); }
  double timestep(double s) const override { return inner_->timestep(s); }
  double sigma_at(double t) const override { return inner_->sigma_at(t); }
  at::Tensor sigma_table() const override { return inner_->sigma_table(); }
  at::Tensor log_density(const at::Tensor& x, double s) const override { return inner_->log_density(x, s); }
  at::Tensor component_means() const override { return inner_->component_means(); }
  at::Tensor component_weights() const override { return inner_->component_weights(); }
  at::Tensor sample_data(int64_t n, uint64_t seed) const override { return inner_->sample_data(n, seed); }
  std::string describe() const override { return inner_->describe(); }

  double seconds() const { return static_cast<double>(nanos_.load()) * 1e-9; }
  int64_t calls() const { return calls_.load(); }

 private:
  std::shared_ptr<const Model> inner_;
  mutable std::atomic<int64_t> nanos_{0};
  mutable std::atomic<int64_t> calls_{0};
};

}  // namespace sf::nodes
