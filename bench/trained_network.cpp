#include "trained_network.h"

#include <torch/csrc/jit/api/module.h>

#include <sstream>

#include "sigmaflow/diffusion/networks.h"
#include "sigmaflow/diffusion/torchscript_model.h"
#include "sigmaflow/diffusion/training.h"

namespace sf::bench {

TrainedNetwork train_network(const at::Tensor& data, int64_t steps,
                             std::shared_ptr<diffusion::NoiseLevelDistribution> levels, uint64_t seed, int64_t width,
                             int64_t depth) {
  const int64_t d = data.size(1);
  diffusion::TrainOptions o;
  o.steps = steps;
  o.batch = 256;
  o.seed = seed;
  o.sigma_data = data.std().item<double>();
  o.threads = 1;
  diffusion::DenoiserTrainer t(diffusion::make_mlp({d, width, depth, 32}, seed), data, levels, o);
  t.run(nullptr, {});
  auto ema = t.ema_network();
  std::ostringstream bytes;
  ema->save(bytes);
  diffusion::TorchScriptSettings ts;
  ts.path = "(in memory)";
  ts.parametrization = Parametrization::kEdm;
  ts.time_input = TimeInput::kSigma;
  ts.sigma_data = o.sigma_data;
  ts.sample_shape = {d};
  return {diffusion::TorchScriptModel::from_module(ts, *ema, bytes.str()), levels->knots(), t.log().seconds};
}

}  // namespace sf::bench
