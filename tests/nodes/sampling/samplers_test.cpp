// Samplers against an independent float64 reference on a closed-form Gaussian denoiser,
// measured convergence orders, reproducibility, and statistical correctness of stochastic ones.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>

#include "sigmaflow/diffusion/samplers.h"
#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/testing/node_runner.h"
#include "support/gaussian_reference.h"

namespace sf {
namespace {

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

std::shared_ptr<const Sampler> sampler(const std::string& name) {
  auto r = runner().run("KSamplerSelect", R"({"sampler_name": ")" + name + R"("})");
  EXPECT_TRUE(r.ok) << r.error;
  return std::dynamic_pointer_cast<const Sampler>(r.outputs.at(0).object());
}

std::shared_ptr<const Sampler> with_options(const std::string& node, const std::string& json) {
  auto r = runner().run(node, json);
  EXPECT_TRUE(r.ok) << r.error;
  return std::dynamic_pointer_cast<const Sampler>(r.outputs.at(0).object());
}

at::Tensor start(int64_t n, int64_t d, double scale, uint64_t seed = 1) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn({n, d}, g, at::TensorOptions().dtype(at::kDouble)) * scale;
}

double max_rel_err(const at::Tensor& got, const at::Tensor& want) {
  return ((got - want).abs().max() / want.abs().max()).item<double>();
}

// KSamplerSelect's samplers (k-diffusion's defaults: lower_order_final off) against the scalar
// float64 recursions, at ComfyUI's usual step counts and the edge cases 1 and 2.
TEST(Samplers, DeterministicSamplersMatchTheScalarReference) {
  const double c = 0.7;
  test::GaussianModel model(c, 3);
  for (const char* name : {"euler", "heun", "dpm_2", "lms", "dpmpp_2m", "dpmpp_3m", "ipndm", "ipndm_v"}) {
    for (int n : {1, 2, 3, 5, 10, 18, 25}) {
      for (bool trailing_zero : {true, false}) {
        auto sig = schedules::karras(n, 0.002, 80, 7).values();
        if (!trailing_zero) sig.pop_back();
        if (sig.size() < 2) continue;
        at::Tensor x0 = start(4, 3, 80);
        SampleContext ctx;
        at::Tensor out = sampler(name)->sample(model, x0, sig, ctx);
        double m = test::reference_multiplier(name, c, sig);
        EXPECT_LT(max_rel_err(out, x0 * m), 1e-9) << name << " N=" << n << " zero=" << trailing_zero;
      }
    }
  }
}

TEST(Samplers, StepIntoZeroReturnsTheDenoisedEstimateAndCountsNfe) {
  test::GaussianModel model(1.0, 2);
  for (const auto& entry : diffusion::sampler_table()) {
    const std::string name = entry.name;
    std::vector<double> sig = {2.0, 0.0};
    at::Tensor x0 = start(3, 2, 2);
    SampleContext ctx;
    ctx.seed = 3;
    at::Tensor out = sampler(name)->sample(model, x0, sig, ctx);
    EXPECT_LT(max_rel_err(out, x0 * 0.2), 1e-12) << name;  // D = c^2/(c^2+4) x
    EXPECT_EQ(ctx.nfe, 1) << name;
  }
  // Heun uses 2 evaluations per step except into 0.
  SampleContext ctx;
  sampler("heun")->sample(model, start(1, 2, 80), schedules::karras(10, 0.002, 80, 7).values(), ctx);
  EXPECT_EQ(ctx.nfe, 19);
}

TEST(Samplers, ConvergenceOrders) {
  // Error at sigma_min = 0.05 against the exact ODE solution, N = 64 and 128 karras steps.
  const double c = 1.0;
  test::GaussianModel model(c, 1);
  auto order_of = [&](const std::shared_ptr<const Sampler>& smp, int n) {
    double err[2];
    for (int k = 0; k < 2; ++k) {
      auto sig = schedules::karras(n << k, 0.05, 80, 7).values();
      sig.pop_back();
      at::Tensor x0 = at::ones({1, 1}, at::kDouble) * 80;
      SampleContext ctx;
      double got = smp->sample(model, x0, sig, ctx).item<double>();
      err[k] = std::fabs(got - 80 * test::exact_multiplier(c, 80, 0.05));
    }
    return std::log2(err[0] / err[1]);
  };
  // Multistep samplers without lower_order_final (it would cap the last step's order).
  auto order = [&](const std::string& name, int n) {
    return order_of(
        with_options("SamplerMultistepOptions", R"({"sampler_name": ")" + name + R"(", "lower_order_final": "off"})"),
        n);
  };
  auto order1 = [&](const std::string& name, int n) { return order_of(sampler(name), n); };
  EXPECT_NEAR(order1("euler", 64), 1.0, 0.15);
  EXPECT_NEAR(order1("heun", 64), 2.0, 0.2);
  EXPECT_NEAR(order1("dpm_2", 64), 2.0, 0.2);
  EXPECT_NEAR(order("dpmpp_2m", 64), 2.0, 0.25);
  EXPECT_GT(order("lms", 64), 1.8);
  EXPECT_GT(order("ipndm", 64), 1.8);
  // The lower-order start (a first-order first step, local error O(h^2)) caps the measured global
  // order of the higher-order multistep samplers near 2 (1.86 here for dpmpp_3m).
  EXPECT_GT(order("dpmpp_3m", 64), 1.8);
}

TEST(Samplers, LowerOrderFinalTakesTheLastPositiveStepAtFirstOrder) {
  test::GaussianModel model(0.3, 2);
  auto sig = schedules::karras(6, 0.002, 80, 7).values();
  at::Tensor x0 = start(2, 2, 80);
  for (const char* name : {"dpmpp_2m", "dpmpp_3m", "lms", "ipndm"}) {
    for (int lof : {0, 1}) {
      auto s =
          with_options("SamplerMultistepOptions", std::string(R"({"sampler_name": ")") + name +
                                                      R"(", "lower_order_final": ")" + (lof ? "on" : "off") + "\"}");
      SampleContext ctx;
      at::Tensor out = s->sample(model, x0, sig, ctx);
      EXPECT_LT(max_rel_err(out, x0 * test::reference_multiplier(name, 0.3, sig, lof)), 1e-9) << name << lof;
    }
    // auto: on below 15 steps, off from 15
    auto automatic = with_options("SamplerMultistepOptions",
                                  std::string(R"({"sampler_name": ")") + name + R"(", "lower_order_final": "auto"})");
    SampleContext ctx;
    at::Tensor out = automatic->sample(model, x0, sig, ctx);
    EXPECT_LT(max_rel_err(out, x0 * test::reference_multiplier(name, 0.3, sig, 1)), 1e-9) << name;
    auto long_sig = schedules::karras(16, 0.002, 80, 7).values();
    out = automatic->sample(model, x0, long_sig, ctx);
    EXPECT_LT(max_rel_err(out, x0 * test::reference_multiplier(name, 0.3, long_sig, 0)), 1e-9) << name;
    // KSamplerSelect: never (k-diffusion and ComfyUI)
    out = sampler(name)->sample(model, x0, sig, ctx);
    EXPECT_LT(max_rel_err(out, x0 * test::reference_multiplier(name, 0.3, sig, 0)), 1e-9) << name;
  }
}

// SampleContext's extension chain as plugins of other minors build it (fixture_extensions): the
// sharding extension gives a shard the whole batch's noise rows; an unknown extension is skipped;
// a sharding extension too short to hold global_rows (an older layout) is ignored.
TEST(Samplers, SampleContextExtensionsFromOtherMinors) {
  static testing::NodeRunner with_fixture({SF_PLUGIN_DIR, SF_FIXTURE_DIR "/extensions"});
  auto model = with_fixture.run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  ASSERT_TRUE(model.ok) << model.error;
  auto variant = [&](int v) {
    auto r = with_fixture.run("FixtureExtensionChains", R"({"variant": )" + std::to_string(v) + "}",
                              {{"model", model.outputs.at(0)}});
    EXPECT_TRUE(r.ok) << r.error;
    return std::dynamic_pointer_cast<const Latent>(r.outputs.at(0).object())->samples();
  };
  at::Tensor whole = variant(0), sharded = variant(1), behind_unknown = variant(2), older = variant(3),
             alone = variant(4);
  EXPECT_TRUE(at::equal(sharded, whole.narrow(0, 2, 2)));
  EXPECT_TRUE(at::equal(behind_unknown, whole.narrow(0, 2, 2)));
  EXPECT_TRUE(at::equal(older, alone));
  EXPECT_FALSE(at::equal(alone, whole.narrow(0, 2, 2)));  // the noise rows differ without the extension
}

TEST(Samplers, StochasticSamplersAreReproducibleAndSeedDependent) {
  test::GaussianModel model(1.0, 2);
  auto sig = schedules::karras(8, 0.002, 80, 7).values();
  for (const char* name :
       {"euler_ancestral", "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_2m_sde", "dpmpp_3m_sde", "ddpm", "lcm"}) {
    at::Tensor x0 = start(5, 2, 80);
    SampleContext a, b, c;
    a.seed = b.seed = 11;
    c.seed = 12;
    at::Tensor ra = sampler(name)->sample(model, x0, sig, a);
    at::Tensor rb = sampler(name)->sample(model, x0, sig, b);
    at::Tensor rc = sampler(name)->sample(model, x0, sig, c);
    EXPECT_TRUE(at::equal(ra, rb)) << name;
    EXPECT_FALSE(at::equal(ra, rc)) << name;
  }
}

TEST(Samplers, StochasticSamplersReachTheGaussianTarget) {
  // Target N(0, c^2) in 1-D; 40000 chains from x = sigma_max * noise; 400 karras steps (the
  // first-order ancestral samplers' variance bias is O(h)). lcm is left out on purpose: with an
  // exact denoiser it under-disperses by construction (it is meant for consistency models).
  const double c = 1.5;
  test::GaussianModel model(c, 1);
  auto sig = schedules::karras(400, 0.002, 80, 7).values();
  const int64_t n = 40000;
  for (const char* name : {"euler_ancestral", "dpm_2_ancestral", "dpmpp_2s_ancestral", "dpmpp_2m_sde", "dpmpp_3m_sde",
                           "ddpm", "euler", "heun"}) {
    at::Tensor x0 = start(n, 1, 80, 99);
    SampleContext ctx;
    ctx.seed = 5;
    at::Tensor out = sampler(name)->sample(model, x0, sig, ctx);
    double mean = out.mean().item<double>(), var = out.var().item<double>();
    EXPECT_LT(std::fabs(mean), 4 * c / std::sqrt(static_cast<double>(n))) << name;
    EXPECT_NEAR(var / (c * c), 1.0, 0.04) << name << " var " << var;
  }
  // eta = 0 makes an ancestral sampler deterministic (plain euler).
  auto det = with_options("SamplerStochasticOptions", R"({"sampler_name": "euler_ancestral", "eta": 0})");
  at::Tensor x0 = start(3, 1, 80);
  SampleContext ctx;
  EXPECT_LT(max_rel_err(det->sample(model, x0, sig, ctx), x0 * test::reference_multiplier("euler", c, sig)), 1e-9);
}

TEST(Samplers, ChurnAddsNoiseOnlyInsideItsWindow) {
  test::GaussianModel model(1.0, 1);
  auto sig = schedules::karras(10, 0.002, 80, 7).values();
  at::Tensor x0 = start(4, 1, 80);
  auto churn_off =
      with_options("SamplerEDMChurn", R"({"sampler_name": "heun", "s_churn": 40, "s_tmin": 1000, "s_tmax": 2000})");
  SampleContext ctx;
  EXPECT_LT(max_rel_err(churn_off->sample(model, x0, sig, ctx), x0 * test::reference_multiplier("heun", 1.0, sig)),
            1e-9);
  auto churn_on = with_options("SamplerEDMChurn", R"({"sampler_name": "heun", "s_churn": 40})");
  SampleContext ctx2;
  EXPECT_GT(max_rel_err(churn_on->sample(model, x0, sig, ctx2), x0 * test::reference_multiplier("heun", 1.0, sig)),
            1e-3);
}

TEST(Samplers, LmsCoefficientsIntegrateTheLagrangeBasis) {
  // Order 1 is the step length; the coefficients of any order sum to the step length.
  std::vector<double> t = {10, 6, 3, 1.5, 0.5};
  EXPECT_DOUBLE_EQ(diffusion::samplers::linear_multistep_coeff(1, t, 0, 0), -4.0);
  for (int order = 1; order <= 4; ++order) {
    double sum = 0;
    for (int j = 0; j < order; ++j) sum += diffusion::samplers::linear_multistep_coeff(order, t, 3, j);
    EXPECT_NEAR(sum, t[4] - t[3], 1e-12) << order;
  }
  // Order 2 with equal spacing h: Adams-Bashforth 2 weights (3/2, -1/2) h.
  std::vector<double> u = {3, 2, 1};
  EXPECT_NEAR(diffusion::samplers::linear_multistep_coeff(2, u, 1, 0), -1.5, 1e-12);
  EXPECT_NEAR(diffusion::samplers::linear_multistep_coeff(2, u, 1, 1), 0.5, 1e-12);
}

TEST(Samplers, NonFiniteModelOutputNamesTheSigma) {
  class NanModel : public test::GaussianModel {
   public:
    NanModel() : GaussianModel(1.0, 1) {}

   protected:
    at::Tensor denoise_batch(const at::Tensor& x, const NoiseLevels& sigma, const Conditioning& c) const override {
      at::Tensor d = GaussianModel::denoise_batch(x, sigma, c);
      return sigma.value() < 1.0 ? d * NAN : d;
    }
  } model;
  auto sig = schedules::exponential(4, 0.1, 10).values();  // 10, 4.64, 2.15, 1 (not < 1), then 0.1...
  sig = {10, 3, 0.5, 0.1, 0};
  SampleContext ctx;
  try {
    sampler("euler")->sample(model, start(2, 1, 10), sig, ctx);
    FAIL() << "expected an error";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("NaN or Inf at sigma = 0.5"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sf
