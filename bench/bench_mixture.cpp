// Exact mixture denoiser throughput at batch 1024 on the CPU (2-D, 64-D, 784-D with 100
// components), against the same formula written directly in LibTorch.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "exec/threads.h"
#include "sigmaflow/testing/node_runner.h"

using namespace sf;

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The posterior mean written directly: softmax over components of the log joint, one sigma.
static at::Tensor direct(const at::Tensor& x, double s, const at::Tensor& logw, const at::Tensor& mu,
                         const at::Tensor& var) {
  at::Tensor prec = 1.0 / (var + s * s);
  at::Tensor quad = at::matmul(x * x, prec.t()) - 2 * at::matmul(x, (mu * prec).t()) + (mu * mu * prec).sum(1);
  at::Tensor lj = logw + 0.5 * (prec.log().sum(1) - quad);
  at::Tensor r = at::softmax(lj, 1);
  at::Tensor shrink = var * prec;
  return at::matmul(r, mu * (1 - shrink)) + x * at::matmul(r, shrink);
}

int main() {
  host::configure_threads(static_cast<int>(std::thread::hardware_concurrency()));
  testing::NodeRunner runner({SF_PLUGIN_DIR});
  struct Case {
    const char* name;
    int64_t K, d;
  } cases[] = {
      {"2-D, 16 components (clusters2d)", 16, 2}, {"64-D, 10 components", 10, 64}, {"784-D, 100 components", 100, 784}};
  for (const auto& c : cases) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(1);
    at::Tensor mu = at::randn({c.K, c.d}, g, at::TensorOptions().dtype(at::kDouble));
    at::Tensor var = at::rand({c.K, c.d}, g, at::TensorOptions().dtype(at::kDouble)) * 0.1 + 0.01;
    std::string means = "[", vars = "[";
    for (int64_t k = 0; k < c.K; ++k) {
      means += std::string(k ? "," : "") + "[";
      vars += std::string(k ? "," : "") + "[";
      for (int64_t j = 0; j < c.d; ++j) {
        means += (j ? "," : "") + std::to_string(mu[k][j].item<double>());
        vars += (j ? "," : "") + std::to_string(var[k][j].item<double>());
      }
      means += "]";
      vars += "]";
    }
    means += "]";
    vars += "]";
    auto m = runner.run("GaussianMixtureModel", R"({"preset": "custom", "means": {"__value__": )" + means +
                                                    R"(}, "variances": {"__value__": )" + vars + "}}");
    if (!m.ok) {
      std::fprintf(stderr, "%s\n", m.error.c_str());
      return 1;
    }
    auto model = std::dynamic_pointer_cast<const Model>(m.outputs[0].object());
    at::Tensor muf = mu.to(at::kFloat), varf = var.to(at::kFloat),
               logw = at::full({c.K}, -std::log(double(c.K)), at::kFloat);
    at::Tensor x = at::randn({1024, c.d}, g, at::TensorOptions().dtype(at::kFloat));
    const double s = 0.5;
    int reps = c.d > 100 ? 50 : 400;
    double best_m = 1e9, best_d = 1e9;
    for (int round = 0; round < 3; ++round) {
      double t0 = now_s();
      for (int i = 0; i < reps; ++i) model->denoise(x, s);
      double t1 = now_s();
      for (int i = 0; i < reps; ++i) direct(x, 0.5, logw, muf, varf);
      double t2 = now_s();
      best_m = std::min(best_m, t1 - t0);
      best_d = std::min(best_d, t2 - t1);
    }
    double diff = (model->denoise(x, s) - direct(x, 0.5, logw, muf, varf)).abs().max().item<double>();
    std::printf("%s: model %.0f evals/s, direct LibTorch %.0f evals/s (%+.1f%%), max |diff| %.1e\n", c.name,
                reps * 1024 / best_m, reps * 1024 / best_d, (best_d / best_m - 1) * 100, diff);
  }
  return 0;
}
