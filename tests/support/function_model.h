// Test support: a MODEL around any denoiser function (a closed form, a fake that returns NaN),
// with the facts it is given, for library calls that take a MODEL whole.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <utility>
#include <vector>

#include "sigmaflow/model.h"

namespace sf::test {

class FunctionModel : public Model {
 public:
  using Function = std::function<at::Tensor(const at::Tensor& x, const NoiseLevels& sigma)>;
  FunctionModel(Function f, std::vector<int64_t> sample_shape, double sigma_min, double sigma_max,
                c10::ScalarType dtype)
      : Model(info(std::move(sample_shape), sigma_min, sigma_max, dtype)), f_(std::move(f)) {}

 protected:
  at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning&) const override {
    return f_(x, sigma);
  }

 private:
  static ModelInfo info(std::vector<int64_t> shape, double sigma_min, double sigma_max, c10::ScalarType dtype) {
    ModelInfo i;
    i.sample_shape = std::move(shape);
    i.sigma_min = sigma_min;
    i.sigma_max = sigma_max;
    i.dtype = dtype;
    i.fingerprint = "test-function-model";
    i.description = "a test denoiser function";
    return i;
  }
  Function f_;
};

}  // namespace sf::test
