// Per-step overhead of the sampler nodes run through the host, against a hand-written LibTorch
// Euler loop doing the same math on the same model (2-D mixture), at batch 1 and 1024.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "exec/threads.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/testing/node_runner.h"

using namespace sf;

static double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main() {
  host::configure_threads(static_cast<int>(std::thread::hardware_concurrency()));
  testing::NodeRunner runner({SF_PLUGIN_DIR});
  auto m = runner.run("GaussianMixtureModel", R"({"preset": "clusters2d"})");
  auto model = std::dynamic_pointer_cast<const Model>(m.outputs[0].object());
  auto sampler = runner.run("KSamplerSelect", R"({"sampler_name": "euler"})");
  const int steps = 400;
  auto sig = diffusion::Sigmas(schedules::karras(steps, 0.002, 80, 7)).rounded_to_float32().values();
  for (int64_t batch : {1, 1024}) {
    Value latent(std::make_shared<Latent>(at::zeros({batch, 2})));
    double best_node = 1e9, best_hand = 1e9;
    for (int rep = 0; rep < 7; ++rep) {
      double t0 = now_s();
      auto r = runner.run("SamplerCustom", R"({"noise_seed": 1})",
                          {{"model", m.outputs[0]},
                           {"sampler", sampler.outputs[0]},
                           {"sigmas", diffusion::Sigmas(sig).to_value()},
                           {"latent_image", latent}});
      double t1 = now_s();
      if (!r.ok) {
        std::fprintf(stderr, "%s\n", r.error.c_str());
        return 1;
      }
      // Hand-written: the same noise, the same Euler updates, the same model calls.
      at::Generator g = at::make_generator<at::CPUGeneratorImpl>(1);
      at::Tensor x = at::randn({batch, 2}, g, at::TensorOptions().dtype(at::kFloat)) * sig[0];
      for (int i = 0; i < steps; ++i) {
        at::Tensor d = model->denoise(x, sig[static_cast<size_t>(i)]);
        x = sig[static_cast<size_t>(i) + 1] == 0
                ? d
                : x + (x - d) / sig[static_cast<size_t>(i)] *
                          (sig[static_cast<size_t>(i) + 1] - sig[static_cast<size_t>(i)]);
      }
      double t2 = now_s();
      best_node = std::min(best_node, t1 - t0);
      best_hand = std::min(best_hand, t2 - t1);
    }
    std::printf(
        "euler, %d steps, batch %lld: through the host %.2f us/step, hand-written loop %.2f us/step, overhead "
        "%+.1f%%\n",
        steps, static_cast<long long>(batch), best_node / steps * 1e6, best_hand / steps * 1e6,
        (best_node / best_hand - 1) * 100);
  }
  return 0;
}
