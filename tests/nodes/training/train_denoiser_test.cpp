// TrainDenoiser and the training library: EDM preconditioning against EDM's formulas, the saved
// TorchScript against the trained MODEL, checkpoint/resume bit-identity, a short run that learns,
// and every bad input of the training issue.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/jit/api/module.h>
#include <torch/csrc/jit/serialization/import.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sigmaflow/diffusion/model_metrics.h"
#include "sigmaflow/diffusion/networks.h"
#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/torchscript_model.h"
#include "sigmaflow/diffusion/training.h"
#include "sigmaflow/scheduler/score_optimal/adaptive_levels.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

Value ring8() {
  auto m = runner().run("GaussianMixtureModel", R"({"preset": "ring8"})");
  EXPECT_TRUE(m.ok) << m.error;
  return m.outputs.at(0);
}

Value data_of(const Value& model, int n = 4000) {
  auto d = runner().run("SampleData", R"({"n": )" + std::to_string(n) + R"(, "seed": 5})", {{"model", model}});
  EXPECT_TRUE(d.ok) << d.error;
  return d.outputs.at(0);
}

Value latent(at::Tensor t) { return Value(std::shared_ptr<const Object>(std::make_shared<Latent>(std::move(t)))); }

TEST(EdmPreconditioning, MatchesEdmsFormulasAndAZeroNetworkGivesCSkipX) {
  for (double sd : {0.5, 1.3})
    for (double s : {0.002, 0.3, 1.0, 80.0}) {
      Scalings k = scalings(Parametrization::kEdm, TimeInput::kSigma, s, sd);
      EXPECT_NEAR(k.c_skip, sd * sd / (s * s + sd * sd), 1e-15);
      EXPECT_NEAR(k.c_out, s * sd / std::sqrt(s * s + sd * sd), 1e-15);
      EXPECT_NEAR(k.c_in, 1 / std::sqrt(s * s + sd * sd), 1e-15);
      EXPECT_EQ(k.c_noise, s);  // time input sigma: the network embeds ln(sigma) / 4 itself
      EXPECT_NEAR(diffusion::edm_loss_weight(s, sd) * k.c_out * k.c_out, 1.0, 1e-12);
    }
  // The networks' last layers start at zero: D = c_skip x exactly.
  auto mlp = diffusion::make_mlp({2, 32, 2, 16}, 3);
  auto unet = diffusion::make_unet({1, 8, 8, 8, 16}, 3);
  at::Tensor x = at::randn({5, 2}), xi = at::randn({3, 1, 8, 8});
  for (double s : {0.01, 2.0}) {
    const double c_skip = 0.25 / (s * s + 0.25);
    EXPECT_TRUE(at::allclose(diffusion::edm_denoise(*mlp, x, std::vector<double>(5, s), 0.5), x * c_skip));
    EXPECT_TRUE(at::allclose(diffusion::edm_denoise(*unet, xi, std::vector<double>(3, s), 0.5), xi * c_skip));
  }
}

TEST(TrainDenoiser, TheSavedTorchScriptReloadsAndGivesTheSameDenoiser) {
  Value m = ring8();
  auto r = runner().run("TrainDenoiser", R"({"steps": 60, "batch": 64, "width": 32, "depth": 2,
      "noise_levels": "adaptive", "burn_in": 10, "levels": 16, "filename_prefix": "reload/net"})",
                        {{"data", data_of(m)}});
  ASSERT_TRUE(r.ok) << r.error;
  auto trained = std::dynamic_pointer_cast<const Model>(r.outputs[0].object());
  ASSERT_TRUE(trained);
  std::string path;
  for (const auto& f : r.files)
    if (f.size() > 3 && f.substr(f.size() - 3) == ".pt") path = f;
  ASSERT_FALSE(path.empty());
  // Through the TorchScriptModel node, as a user would load it.
  std::ostringstream sd;
  sd.precision(17);
  sd << trained->sigma_data();
  auto loaded = runner().run("TorchScriptModel", R"({"path": ")" + path +
                                                     R"(", "parametrization": "edm", "time_input": "sigma",
      "sigma_data": )" + sd.str() + R"(, "sample_shape": "2"})");
  ASSERT_TRUE(loaded.ok) << loaded.error;
  auto reloaded = std::dynamic_pointer_cast<const Model>(loaded.outputs[0].object());
  at::Tensor x = at::randn({64, 2}) * 3;
  for (double s : {0.002, 0.05, 0.7, 10.0, 80.0})
    EXPECT_LT((trained->denoise(x, s) - reloaded->denoise(x, s)).abs().max().item<double>(), 1e-6) << s;
  EXPECT_EQ(trained->fingerprint(), reloaded->fingerprint());
  // No autograd graph is recorded by either (one fresh from training held every call's
  // activations: 6 GB for a Fashion-MNIST UNet's optimal-steps run instead of 0.33 GB).
  EXPECT_FALSE(trained->denoise(x, 0.7).requires_grad());
  EXPECT_FALSE(trained->denoise(x, 0.7).grad_fn());
  // And the optimiser gives the in-memory network and the reloaded file the same schedule.
  auto schedule_of = [&](const Value& model) {
    auto sel = runner().run("KSamplerSelect", R"({"sampler_name": "euler"})");
    auto r = runner().run("OptimalStepsScheduler",
                          R"({"steps": 4, "max_steps": 4, "grid_size": 12, "training_noises": 32, "use_cache": false,
                              "held_out_noises": 32})",
                          {{"model", model}, {"sampler", sel.outputs[0]}});
    EXPECT_TRUE(r.ok) << r.error;
    return r.ok ? r.outputs[0].tensor().to(at::kDouble) : at::Tensor();
  };
  at::Tensor a = schedule_of(r.outputs[0]), b = schedule_of(loaded.outputs[0]);
  ASSERT_TRUE(a.defined() && b.defined());
  EXPECT_TRUE(at::equal(a, b)) << a << b;
  // The file is an ordinary TorchScript module: forward(x, sigma) without sigmaflow.
  torch::jit::Module plain = torch::jit::load(path);
  at::Tensor out = plain.forward({x, at::full({64}, 0.7)}).toTensor();
  EXPECT_EQ(out.sizes(), x.sizes());

  // With no settings at all: the file's metadata gives them, and says so.
  auto bare = runner().run("TorchScriptModel", R"({"path": ")" + path + R"("})");
  ASSERT_TRUE(bare.ok) << bare.error;
  auto from_metadata = std::dynamic_pointer_cast<const Model>(bare.outputs[0].object());
  for (double s : {0.002, 0.05, 0.7, 10.0, 80.0})
    EXPECT_LT((trained->denoise(x, s) - from_metadata->denoise(x, s)).abs().max().item<double>(), 1e-6) << s;
  EXPECT_EQ(trained->fingerprint(), from_metadata->fingerprint());
  EXPECT_EQ(from_metadata->sigma_data(), trained->sigma_data());
  EXPECT_EQ(from_metadata->sample_shape(), std::vector<int64_t>{2});
  bool said = false;
  for (const auto& m : bare.messages)
    said = said || m.find("parametrization edm, time_input sigma") != std::string::npos;
  EXPECT_TRUE(said);
  // An explicit setting that contradicts the metadata wins, with a warning naming both values.
  auto contra = runner().run("TorchScriptModel", R"({"path": ")" + path + R"(", "sigma_data": 0.25})");
  ASSERT_TRUE(contra.ok) << contra.error;
  EXPECT_EQ(std::dynamic_pointer_cast<const Model>(contra.outputs[0].object())->sigma_data(), 0.25);
  bool warned = false;
  for (const auto& m : contra.messages)
    warned = warned || (m.find("sigma_data 0.25 differs from") != std::string::npos &&
                        m.find(": " + sd.str().substr(0, 6)) != std::string::npos);
  EXPECT_TRUE(warned);
  // _training.json records the same metadata.
  std::string json;
  for (const auto& f : r.files)
    if (f.find("_training.json") != std::string::npos) json = f;
  auto j = nlohmann::json::parse(std::ifstream(json));
  EXPECT_EQ(j["model"]["parametrization"], "edm");
  EXPECT_EQ(j["model"]["time_input"], "sigma");
  EXPECT_EQ(j["model"]["sigma_data"].get<double>(), trained->sigma_data());
  EXPECT_EQ(j["model"]["sample_shape"], nlohmann::json::array({2}));
}

TEST(TrainDenoiser, ShortRunLowersTheLossAndBeatsTheUntrainedNetwork) {
  Value m = ring8();
  auto exact = std::dynamic_pointer_cast<const Model>(m.object());
  auto r = runner().run("TrainDenoiser", R"({"steps": 1500, "batch": 128, "width": 64, "depth": 2,
      "noise_levels": "lognormal", "filename_prefix": "short/net"})",
                        {{"data", data_of(m)}});
  ASSERT_TRUE(r.ok) << r.error;
  auto trained = std::dynamic_pointer_cast<const Model>(r.outputs[0].object());
  // The loss curve written with it falls.
  std::string json;
  for (const auto& f : r.files)
    if (f.find("_training.json") != std::string::npos) json = f;
  std::ifstream in(json);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto loss_at = [&](bool last) {
    size_t a = text.find("\"loss\":");
    a = text.find('[', a);
    size_t b = text.find(']', a);
    std::string list = text.substr(a + 1, b - a - 1);
    std::vector<double> v;
    for (size_t p = 0; p < list.size();) {
      size_t q = list.find(',', p);
      v.push_back(std::stod(list.substr(p, q == std::string::npos ? std::string::npos : q - p)));
      p = q == std::string::npos ? list.size() : q + 1;
    }
    double mean = 0;
    const size_t k = v.size() / 5;
    for (size_t i = 0; i < k; ++i) mean += last ? v[v.size() - 1 - i] : v[i];
    return mean / static_cast<double>(k);
  };
  EXPECT_LT(loss_at(true), 0.9 * loss_at(false));
  // Score error against the exact denoiser where the ring's modes separate (sigma 0.1 to 1):
  // below the untrained network's (zero output, D = c_skip x: the data's Gaussian fit), in every
  // band. (Above sigma 2 that fit is nearly exact, and lognormal training rarely visits there: 1500
  // steps leave errors of 0.02-0.16 against its 5e-5 or less; measured.)
  auto untrained =
      runner().run("TrainDenoiser", R"({"steps": 0, "width": 64, "depth": 2, "filename_prefix": "zero/net"})",
                   {{"data", data_of(m)}});
  ASSERT_TRUE(untrained.ok) << untrained.error;
  auto zero = std::dynamic_pointer_cast<const Model>(untrained.outputs[0].object());
  auto e_trained = diffusion::score_error(*trained, *exact, 2000, 3, 0.1, 1, 9);
  auto e_zero = diffusion::score_error(*zero, *exact, 2000, 3, 0.1, 1, 9);
  EXPECT_LT(e_trained.weighted, 0.5 * e_zero.weighted);
  for (size_t b = 0; b < 3; ++b) EXPECT_LT(e_trained.band_error[b], e_zero.band_error[b]) << b;
}

TEST(DenoiserTrainer, ResumingFromACheckpointIsBitIdenticalToAnUninterruptedRun) {
  at::Tensor data = at::randn({500, 2}, diffusion::cpu_generator(1));
  auto levels = [] {
    so::AdaptiveOptions o;
    o.burn_in = 5;
    o.n_min = 2;
    o.dim = 2;
    return std::make_shared<so::AdaptiveLevels>(diffusion::discrete_schedule("linear", 8, 0.002, 80), o);
  };
  diffusion::TrainOptions o;
  o.steps = 60;
  o.batch = 32;
  o.seed = 11;
  o.log_every = 5;
  diffusion::DenoiserTrainer full(diffusion::make_mlp({2, 16, 2, 8}, 4), data, levels(), o);
  ASSERT_TRUE(full.run(nullptr, {}));
  std::atomic<bool> stop{false};
  diffusion::DenoiserTrainer first(diffusion::make_mlp({2, 16, 2, 8}, 4), data, levels(), o);
  EXPECT_FALSE(first.run(&stop, [&](int64_t step, double) {
    if (step == 27) stop = true;
  }));
  EXPECT_EQ(first.step(), 27);
  const std::string ckpt = (fs::temp_directory_path() / "sigmaflow-train-ckpt.pt").string();
  first.save_checkpoint(ckpt);
  diffusion::DenoiserTrainer resumed(diffusion::make_mlp({2, 16, 2, 8}, 99), data, levels(), o);  // other init
  resumed.load_checkpoint(ckpt);
  ASSERT_TRUE(resumed.run(nullptr, {}));
  auto a = full.network().parameters(), b = resumed.network().parameters();
  auto ia = a.begin();
  for (auto ib = b.begin(); ib != b.end(); ++ia, ++ib) EXPECT_TRUE(at::equal(*ia, *ib));
  auto ea = full.ema_network()->parameters(), eb = resumed.ema_network()->parameters();
  auto ja = ea.begin();
  for (auto jb = eb.begin(); jb != eb.end(); ++ja, ++jb) EXPECT_TRUE(at::equal(*ja, *jb));
  EXPECT_EQ(full.log().loss, resumed.log().loss);
  EXPECT_GT(full.log().snapshots.size(), 0u);
  EXPECT_EQ(full.log().snapshots.back().knots, resumed.log().snapshots.back().knots);
  // A checkpoint of another network is refused.
  diffusion::DenoiserTrainer other(diffusion::make_mlp({2, 8, 2, 8}, 4), data, levels(), o);
  try {
    other.load_checkpoint(ckpt);
    ADD_FAILURE() << "a checkpoint of another network was loaded";
  } catch (const InputError& err) {
    EXPECT_EQ(err.input(), "resume_from");
    EXPECT_NE(std::string(err.what()).find("written for another network"), std::string::npos) << err.what();
  }
  fs::remove(ckpt);
}

TEST(TrainDenoiser, BadInputsAreClearErrors) {
  Value m = ring8();
  Value data = data_of(m, 200);
  auto run = [&](const std::string& lits, Value d) { return runner().run("TrainDenoiser", lits, {{"data", d}}); };
  // An empty dataset.
  auto r = run(R"({"steps": 5})", latent(at::zeros({0, 2})));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "data");
  EXPECT_NE(r.error.find("empty"), std::string::npos) << r.error;
  // A shape that does not fit the architecture.
  r = run(R"({"steps": 5, "architecture": "unet"})", data);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "data");
  EXPECT_NE(r.error.find("unet"), std::string::npos) << r.error;
  r = run(R"({"steps": 5, "architecture": "unet"})", latent(at::randn({8, 1, 6, 6})));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "data");
  EXPECT_NE(r.error.find("divisible by 4"), std::string::npos) << r.error;
  // Channels that are not a multiple of 8 are about unet_channels (they used to be blamed on data).
  r = run(R"({"steps": 5, "architecture": "unet", "unet_channels": 12})", latent(at::randn({8, 1, 8, 8})));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "unet_channels") << r.error;
  EXPECT_NE(r.error.find("multiple of 8"), std::string::npos) << r.error;
  // lr <= 0, gamma outside (0, 1], n_min = 0: refused at validation, naming the input and value.
  for (const char* bad :
       {R"({"lr": 0})", R"({"lr": -0.1})", R"({"gamma": 0})", R"({"gamma": 1.5})", R"({"n_min": 0})"}) {
    r = run(bad, data);
    EXPECT_FALSE(r.ok) << bad;
    EXPECT_EQ(r.error_kind, "validation") << bad;
    EXPECT_NE(r.error.find("TrainDenoiser"), std::string::npos) << r.error;
  }
  // A loss that becomes NaN / infinite: names the step and suggests a lower lr.
  r = run(R"({"steps": 5, "sigma_data": 1, "width": 8, "depth": 1})", latent(at::full({16, 2}, 1e25)));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "lr");
  EXPECT_NE(r.error.find("at step 1"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("lower lr"), std::string::npos) << r.error;
  // NaN in the data.
  r = run(R"({"steps": 5})", latent(at::full({16, 2}, NAN)));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "data");
  // An unwritable path: a regular file where the folder should be.
  std::ofstream(fs::path(runner().output_dir()) / "blocker") << "x";
  r = run(R"({"steps": 3, "width": 8, "depth": 1, "filename_prefix": "blocker/net"})", data);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "filename_prefix") << r.error;
  // burn_in longer than steps: a warning, and training on the fixed schedule.
  r = run(
      R"({"steps": 20, "width": 8, "depth": 1, "noise_levels": "adaptive", "burn_in": 50, "filename_prefix": "b/n"})",
      data);
  ASSERT_TRUE(r.ok) << r.error;
  bool warned = false;
  for (const auto& msg : r.messages) warned |= msg.find("never adapts") != std::string::npos;
  EXPECT_TRUE(warned);
  // More threads than cores, and a network too large for memory (~2.7e11 parameters): refused before
  // anything is built, naming the input.
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  r = run(R"({"steps": 3, "width": 8, "depth": 1, "threads": )" + std::to_string(cores + 1) + "}", data);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "threads");
  EXPECT_NE(r.error.find(std::to_string(cores) + " cores"), std::string::npos) << r.error;
  r = run(R"({"steps": 3, "width": 65536, "depth": 64})", data);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "width");
  EXPECT_NE(r.error.find("parameters"), std::string::npos) << r.error;
  // A wide network that fits is not refused by the projection.
  r = run(R"({"steps": 2, "width": 2048, "depth": 1, "filename_prefix": "wide/n"})", data);
  EXPECT_TRUE(r.ok) << r.error;
  // resume_from a missing file, and a file that is not a checkpoint.
  r = run(R"({"steps": 3, "resume_from": "/nonexistent/ckpt.pt"})", data);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "resume_from");
  std::ofstream(fs::path(runner().output_dir()) / "garbage.pt") << "not a checkpoint";
  r = run(R"({"steps": 3, "resume_from": ")" + (fs::path(runner().output_dir()) / "garbage.pt").string() + "\"}", data);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.error_input, "resume_from");
}

TEST(ModelMetrics, TheOdeLikelihoodOfAnExactMixtureIsItsExactDensity) {
  auto mr = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  ASSERT_TRUE(mr.ok) << mr.error;
  auto exact = std::dynamic_pointer_cast<const Model>(mr.outputs[0].object());
  at::Tensor x = exact->exact()->sample_data(64, 3).to(at::kDouble);
  at::Tensor truth = exact->exact()->log_density(x, 0.002).to(at::kDouble);
  // Heun is second order: 4x the steps, about 16x less error; the prior N(0, 80^2 I) stands in
  // for the mixture noised to 80 (an error of order d * var / 80^2).
  double e128 = (diffusion::ode_log_likelihood(*exact, x, 128, 0.002, 80) - truth).abs().max().item<double>();
  double e512 = (diffusion::ode_log_likelihood(*exact, x, 512, 0.002, 80) - truth).abs().max().item<double>();
  EXPECT_LT(e512, 0.01);
  EXPECT_LT(e512, 0.25 * e128);
  // The exact model has no score error against itself.
  auto e = diffusion::score_error(*exact, *exact, 256, 4, 0.002, 80, 1);
  EXPECT_EQ(e.weighted, 0.0);
  // Too many dimensions is an error about the model (the input it blames, not the exception's type).
  try {
    diffusion::ode_log_likelihood(*exact, at::zeros({2, 65}), 4, 0.002, 80);
    ADD_FAILURE() << "65 dimensions were accepted";
  } catch (const InputError& err) {
    EXPECT_EQ(err.input(), "model");
    EXPECT_NE(std::string(err.what()).find("dimension 65 is above the limit of 64"), std::string::npos);
  }
  // Progress (the nodes' lines in a plain log): once per step, and once per band, in order.
  std::vector<std::pair<int64_t, int64_t>> calls;
  auto record = [&](int64_t done, int64_t total) { calls.emplace_back(done, total); };
  diffusion::ode_log_likelihood(*exact, x, 5, 0.002, 80, 64, record);
  EXPECT_EQ(calls, (std::vector<std::pair<int64_t, int64_t>>{{1, 5}, {2, 5}, {3, 5}, {4, 5}, {5, 5}}));
  calls.clear();
  diffusion::score_error(*exact, *exact, 16, 3, 0.002, 80, 1, nullptr, record);
  EXPECT_EQ(calls, (std::vector<std::pair<int64_t, int64_t>>{{1, 3}, {2, 3}, {3, 3}}));
}

}  // namespace
}  // namespace sf
