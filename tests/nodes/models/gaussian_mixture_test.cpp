// GaussianMixtureModel: exact denoiser against brute-force formulas, log-density, sampling,
// presets, fingerprints and bad inputs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

std::shared_ptr<const Model> make(const std::string& json) {
  auto r = runner().run("GaussianMixtureModel", json);
  EXPECT_TRUE(r.ok) << r.error;
  return r.ok ? std::dynamic_pointer_cast<const Model>(r.outputs[0].object()) : nullptr;
}

const char* kTwo = R"({"preset": "custom", "weights": {"__value__": [0.25, 0.75]},
  "means": {"__value__": [[-1.0, 0.5], [2.0, 0.0]]}, "variances": {"__value__": [[0.04, 0.09], [0.25, 0.01]]},
  "dtype": "float64"})";

// Brute force for one point: posterior over components and each component's posterior mean.
std::vector<double> brute_denoise(const std::vector<double>& x, double s) {
  const double w[2] = {0.25, 0.75}, mu[2][2] = {{-1, 0.5}, {2, 0}}, v[2][2] = {{0.04, 0.09}, {0.25, 0.01}};
  double logp[2];
  for (int k = 0; k < 2; ++k) {
    logp[k] = std::log(w[k]);
    for (int j = 0; j < 2; ++j) {
      double t = v[k][j] + s * s;
      logp[k] += -0.5 * (std::pow(x[static_cast<size_t>(j)] - mu[k][j], 2) / t + std::log(2 * M_PI * t));
    }
  }
  double mx = std::max(logp[0], logp[1]);
  double r0 = std::exp(logp[0] - mx), r1 = std::exp(logp[1] - mx);
  double r[2] = {r0 / (r0 + r1), r1 / (r0 + r1)};
  std::vector<double> out(2, 0.0);
  for (int k = 0; k < 2; ++k)
    for (int j = 0; j < 2; ++j) {
      double t = v[k][j] + s * s;
      out[static_cast<size_t>(j)] += r[k] * (mu[k][j] + v[k][j] / t * (x[static_cast<size_t>(j)] - mu[k][j]));
    }
  return out;
}

TEST(GaussianMixture, DenoiserMatchesBruteForceForUniformAndMixedSigmas) {
  auto m = make(kTwo);
  ASSERT_TRUE(m);
  at::Tensor x = at::tensor({0.3, -0.2, 1.5, 0.4, -2.0, 1.0, 5.0, -3.0}, at::kDouble).reshape({4, 2});
  for (bool uniform : {true, false}) {
    NoiseLevels s = uniform ? NoiseLevels(0.7) : NoiseLevels(std::vector<double>{0.01, 0.3, 2.0, 40.0});
    at::Tensor d = m->denoise(x, s);
    for (int64_t b = 0; b < 4; ++b) {
      auto want = brute_denoise({x[b][0].item<double>(), x[b][1].item<double>()}, s[b]);
      for (int64_t j = 0; j < 2; ++j)
        EXPECT_NEAR(d[b][j].item<double>(), want[static_cast<size_t>(j)], 1e-12) << b << j;
    }
  }
  // Score = (D - x)/sigma^2.
  EXPECT_TRUE(at::allclose(m->score(x, 0.7), (m->denoise(x, 0.7) - x) / 0.49, 1e-12, 1e-12));
}

TEST(GaussianMixture, LogDensityIsTheNoisedMixtureDensity) {
  auto m = make(kTwo);
  at::Tensor x = at::tensor({0.3, -0.2}, at::kDouble).reshape({1, 2});
  double s = 0.5, p = 0;
  const double w[2] = {0.25, 0.75}, mu[2][2] = {{-1, 0.5}, {2, 0}}, v[2][2] = {{0.04, 0.09}, {0.25, 0.01}};
  for (int k = 0; k < 2; ++k) {
    double pk = w[k];
    for (int j = 0; j < 2; ++j) {
      double t = v[k][j] + s * s;
      pk *= std::exp(-0.5 * std::pow(x[0][j].item<double>() - mu[k][j], 2) / t) / std::sqrt(2 * M_PI * t);
    }
    p += pk;
  }
  EXPECT_NEAR(m->exact()->log_density(x, s)[0].item<double>(), std::log(p), 1e-12);
}

TEST(GaussianMixture, ExactSamplesHaveTheMixtureMoments) {
  auto m = make(kTwo);
  at::Tensor x = m->exact()->sample_data(200000, 5);
  ASSERT_EQ(x.sizes(), (std::vector<int64_t>{200000, 2}));
  // Mean: 0.25*(-1, 0.5) + 0.75*(2, 0) = (1.25, 0.125).
  EXPECT_NEAR(x.select(1, 0).mean().item<double>(), 1.25, 0.01);
  EXPECT_NEAR(x.select(1, 1).mean().item<double>(), 0.125, 0.005);
  // Var of coordinate 0: E[v + mu^2] - mean^2 = 0.25*(0.04+1) + 0.75*(0.25+4) - 1.5625 = 1.885.
  EXPECT_NEAR(x.select(1, 0).var().item<double>(), 1.885, 0.02);
  EXPECT_TRUE(at::equal(x, m->exact()->sample_data(200000, 5)));
}

TEST(GaussianMixture, PresetsFingerprintsAndIsotropicStds) {
  for (const char* preset : {"clusters2d", "ring8", "powerlaw64"}) {
    auto m = make(std::string(R"({"preset": ")") + preset + "\"}");
    ASSERT_TRUE(m) << preset;
    EXPECT_EQ(m->fingerprint(), make(std::string(R"({"preset": ")") + preset + "\"}")->fingerprint());
    EXPECT_NEAR(m->exact()->component_weights().sum().item<double>(), 1.0, 1e-6);
  }
  EXPECT_EQ(make(R"({"preset": "powerlaw64"})")->sample_shape(), std::vector<int64_t>{64});
  EXPECT_NE(make(R"({"preset": "ring8"})")->fingerprint(),
            make(R"({"preset": "ring8", "sigma_max": 50})")->fingerprint());
  auto iso =
      make(R"({"preset": "custom", "means": {"__value__": [[0, 0], [1, 1]]}, "stds": {"__value__": [0.1, 0.2]}})");
  ASSERT_TRUE(iso);
  EXPECT_EQ(iso->dtype(), at::kFloat);
  EXPECT_NEAR(iso->exact()->component_weights()[1].item<double>(), 0.5, 1e-7);
}

TEST(GaussianMixture, BadInputsNameTheInput) {
  struct Case {
    const char* json;
    const char* input;
    const char* message;
  } cases[] = {
      {R"({"preset": "custom", "weights": {"__value__": [0.3, 0.3]}, "means": {"__value__": [[0], [1]]}, "stds": {"__value__": [1, 1]}})",
       "weights", "sum to 0.6"},
      {R"({"preset": "custom", "means": {"__value__": [[0], [1]]}, "variances": {"__value__": [[1], [-1]]}})",
       "variances", "variances must be finite and > 0"},
      {R"({"preset": "custom", "means": {"__value__": [[0, 1], [1]]}, "stds": {"__value__": [1, 1]}})", "means",
       "ragged"},
      {R"({"preset": "custom", "means": {"__value__": [[0], [1]]}})", "stds", "give per-component stds"},
      {R"({"preset": "custom", "means": {"__value__": [[0], [1]]}, "stds": {"__value__": [1]}})", "stds",
       "expected 2 stds"},
      {R"({"preset": "ring8", "device": "cuda:3"})", "device", "does not exist"},
      {R"({"preset": "ring8", "device": "tpu"})", "device", "not one of"},
      {R"({"preset": "ring8", "sigma_min": 10, "sigma_max": 5})", "sigma_min", "must be < sigma_max"},
      {R"({"preset": "custom"})", "means", "needs means"},
  };
  for (const auto& c : cases) {
    auto r = runner().run("GaussianMixtureModel", c.json);
    ASSERT_FALSE(r.ok) << c.json;
    EXPECT_EQ(r.error_input, c.input) << r.error;
    EXPECT_NE(r.error.find(c.message), std::string::npos) << r.error;
  }
  // normalize: true rescales weights that do not sum to 1.
  auto ok = make(
      R"({"preset": "custom", "normalize": true, "weights": {"__value__": [1, 3]}, "means": {"__value__": [[0], [1]]}, "stds": {"__value__": [1, 1]}})");
  ASSERT_TRUE(ok);
  EXPECT_NEAR(ok->exact()->component_weights()[1].item<double>(), 0.75, 1e-7);
}

TEST(SampleData, GivesExactReferenceSamples) {
  auto m = make(R"({"preset": "ring8"})");
  auto r =
      runner().run("SampleData", R"({"n": 1000, "seed": 3})", {{"model", Value(std::shared_ptr<const Object>(m))}});
  ASSERT_TRUE(r.ok) << r.error;
  auto lat = std::dynamic_pointer_cast<const Latent>(r.outputs[0].object());
  at::Tensor radius = lat->samples().pow(2).sum(1).sqrt();
  EXPECT_NEAR(radius.mean().item<double>(), 1.0, 0.01);  // modes on the unit circle, std 0.05
}

// Chunks of 2^20 / d samples (64-D: 16384), each from its own stream: up to one chunk the node
// gives exactly the model's sample_data(n, seed) (what it gave before chunking); past it, chunk 1
// is sample_data(rest, stream_seed(seed, 1)). So a rank can draw any chunk alone.
TEST(SampleData, ComesInChunksWithTheirOwnStreams) {
  auto m = make(R"({"preset": "powerlaw64", "dtype": "float64"})");
  auto run = [&](int64_t n) {
    auto r = runner().run("SampleData", R"({"n": )" + std::to_string(n) + R"(, "seed": 11})",
                          {{"model", Value(std::shared_ptr<const Object>(m))}});
    EXPECT_TRUE(r.ok) << r.error;
    return std::dynamic_pointer_cast<const Latent>(r.outputs[0].object())->samples();
  };
  const int64_t chunk = 16384;
  EXPECT_TRUE(at::equal(run(1000), m->exact()->sample_data(1000, 11)));
  at::Tensor two = run(chunk + 100);
  ASSERT_EQ(two.size(0), chunk + 100);
  EXPECT_TRUE(at::equal(two.narrow(0, 0, chunk), m->exact()->sample_data(chunk, 11)));
  EXPECT_TRUE(at::equal(two.narrow(0, chunk, 100), m->exact()->sample_data(100, diffusion::stream_seed(11, 1))));
  EXPECT_FALSE(at::equal(two.narrow(0, chunk, 100), two.narrow(0, 0, 100)));
}

}  // namespace
}  // namespace sf
