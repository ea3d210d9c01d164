// Metric nodes against closed forms, and their bad inputs.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

#include "sigmaflow/diffusion/metrics.h"
#include "sigmaflow/report.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

at::Tensor randn(std::vector<int64_t> shape, uint64_t seed) {
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randn(shape, g, at::TensorOptions().dtype(at::kDouble));
}

Value latent(at::Tensor t, int64_t steps = 0, int64_t nfe = 0) {
  auto l = std::make_shared<Latent>(std::move(t));
  l->steps = steps;
  l->nfe = nfe;
  l->sampler = "test";
  return Value(l);
}

double metric(const testing::NodeRun& r) {
  EXPECT_TRUE(r.ok) << r.error;
  return r.ok ? std::dynamic_pointer_cast<const Metric>(r.outputs[0].object())->value : NAN;
}

TEST(Metrics, TrajectoryErrorIsTheRmsDistance) {
  at::Tensor a = randn({100, 3}, 1);
  at::Tensor shift = at::tensor({3.0, 0.0, 4.0}, at::kDouble);
  auto r = runner().run("TrajectoryError", "{}",
                        {{"samples", latent(a + shift, 10, 10)}, {"reference", latent(a, 1000, 2000)}});
  EXPECT_NEAR(metric(r), 5.0, 1e-12);
  auto m = std::dynamic_pointer_cast<const Metric>(r.outputs[0].object());
  EXPECT_EQ(m->nfe, 10);
  EXPECT_EQ(m->steps, 10);
}

// A constant per-particle distance: the interval has zero width.
TEST(MetricIntervals, ConstantDistanceHasAZeroWidthInterval) {
  at::Tensor a = randn({100, 3}, 1);
  auto r = runner().run("TrajectoryError", "{}",
                        {{"samples", latent(a + at::tensor({3.0, 0.0, 4.0}, at::kDouble), 10, 10)},
                         {"reference", latent(a, 1000, 2000)}});
  ASSERT_TRUE(r.ok) << r.error;
  auto m = std::dynamic_pointer_cast<const Metric>(r.outputs[0].object());
  EXPECT_NEAR(m->annotations.at("lo"), 5.0, 1e-12);
  EXPECT_NEAR(m->annotations.at("hi"), 5.0, 1e-12);
  EXPECT_EQ(m->annotations.at("particles"), 100.0);
}

// Per-particle distances a_i ~ |N(0, 1)| in one coordinate: e_i = a_i^2, RMS = sqrt(mean e). By
// the delta method the 95 % interval's width is about 2 x 1.96 sd(e) / (2 RMS sqrt(n)); and
// MeanLogDensity's is 2 x 1.96 sd(log p) / sqrt(n).
TEST(MetricIntervals, WidthsMatchTheDeltaMethod) {
  const int64_t n = 4000;
  at::Tensor ref = randn({n, 2}, 3), a = randn({n}, 4);
  at::Tensor samples = ref.clone();
  samples.select(1, 0).add_(a);
  auto r = runner().run("TrajectoryError", "{}", {{"samples", latent(samples, 10)}, {"reference", latent(ref, 100)}});
  ASSERT_TRUE(r.ok) << r.error;
  auto m = std::dynamic_pointer_cast<const Metric>(r.outputs[0].object());
  at::Tensor e = a * a;
  const double rms = std::sqrt(e.mean().item<double>());
  EXPECT_NEAR(m->value, rms, 1e-12);
  const double want = 2 * 1.96 * e.std().item<double>() / (2 * rms * std::sqrt(double(n)));
  const double width = m->annotations.at("hi") - m->annotations.at("lo");
  EXPECT_NEAR(width / want, 1.0, 0.1) << width << " vs " << want;
  EXPECT_LT(m->annotations.at("lo"), m->value);
  EXPECT_GT(m->annotations.at("hi"), m->value);

  auto mixture = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  ASSERT_TRUE(mixture.ok) << mixture.error;
  auto model = std::dynamic_pointer_cast<const Model>(mixture.outputs[0].object());
  at::Tensor x = model->exact()->sample_data(n, 5);
  auto ld = runner().run("MeanLogDensity", "{}", {{"samples", latent(x)}, {"model", mixture.outputs[0]}});
  ASSERT_TRUE(ld.ok) << ld.error;
  auto lm = std::dynamic_pointer_cast<const Metric>(ld.outputs[0].object());
  at::Tensor lp = model->exact()->log_density(x, 0.0);
  const double want_ld = 2 * 1.96 * lp.std().item<double>() / std::sqrt(double(n));
  EXPECT_NEAR((lm->annotations.at("hi") - lm->annotations.at("lo")) / want_ld, 1.0, 0.1);
}

// CompareReport carries a metric's interval into its cell.
TEST(MetricIntervals, CompareReportKeepsThem) {
  at::Tensor ref = randn({500, 2}, 3);
  auto te = runner().run("TrajectoryError", "{}",
                         {{"samples", latent(ref + randn({500, 2}, 6) * 0.1, 10)}, {"reference", latent(ref, 100)}});
  ASSERT_TRUE(te.ok) << te.error;
  auto m = std::dynamic_pointer_cast<const Metric>(te.outputs[0].object());
  auto report = runner().run("CompareReport", R"({"filename_prefix": "metric_intervals/r", "labels": "noisy"})",
                             {{"metric_1", te.outputs[0]}});
  ASSERT_TRUE(report.ok) << report.error;
  auto j = nlohmann::json::parse(std::ifstream(runner().output_dir() + "/metric_intervals/r.json"));
  ASSERT_EQ(j["cells"].size(), 1u);
  EXPECT_EQ(j["cells"][0]["metrics"]["trajectory_error:lo"].get<double>(), m->annotations.at("lo"));
  EXPECT_EQ(j["cells"][0]["metrics"]["trajectory_error:hi"].get<double>(), m->annotations.at("hi"));
}

// How often a metric node's 95 % interval holds `truth` over `repeats` independent runs;
// `run(r)` runs the node on the r-th independent data.
template <class Run>
double interval_coverage(int repeats, double truth, Run run) {
  int covered = 0;
  for (int r = 0; r < repeats; ++r) {
    testing::NodeRun out = run(r);
    if (!out.ok) {
      ADD_FAILURE() << out.error;
      return NAN;
    }
    auto m = std::dynamic_pointer_cast<const Metric>(out.outputs[0].object());
    covered += m->annotations.at("lo") <= truth && truth <= m->annotations.at("hi");
  }
  return static_cast<double>(covered) / repeats;
}

// 300 repeats: the coverage of a right 95 % interval is 95 % +- 1.3 % (1 sd); 91-98.5 % is 3 sd.
// (bench_intervals metrics runs 1000.)
constexpr int kCoverageRepeats = 300;

// Sliced W2 between N(0, I) and N(0, s^2 I): every 1-D projection is N(0, 1) against N(0, s^2),
// W2 = |1 - s| whatever the directions, so SW = 0.5 for s = 1.5.
TEST(MetricIntervals, SlicedWassersteinCoversTheClosedForm) {
  const double coverage = interval_coverage(kCoverageRepeats, 0.5, [](int r) {
    return runner().run("SlicedWasserstein", R"({"projections": 64, "seed": 3})",
                        {{"samples", latent(randn({800, 2}, 100 + 2 * r))},
                         {"reference_samples", latent(randn({600, 2}, 101 + 2 * r) * 1.5)}});
  });
  EXPECT_GE(coverage, 0.91);
  EXPECT_LE(coverage, 0.985);
}

// Frechet distance between N(0, I) and N(m, s^2 I) in d dims: |m|^2 + d (1 - s)^2 = 1.5 for
// m = (1, 0), s = 1.5.
TEST(MetricIntervals, FrechetDistanceCoversTheClosedForm) {
  const at::Tensor shift = at::tensor({1.0, 0.0}, at::kDouble);
  const double coverage = interval_coverage(kCoverageRepeats, 1.5, [&](int r) {
    return runner().run("FrechetDistance", R"({"features": "identity", "seed": 0})",
                        {{"samples", latent(randn({800, 2}, 5000 + 2 * r))},
                         {"reference_samples", latent(randn({600, 2}, 5001 + 2 * r) * 1.5 + shift)}});
  });
  EXPECT_GE(coverage, 0.91);
  EXPECT_LE(coverage, 0.985);
}

// Two modes 10 apart (a particle lands nearer the wrong mean with probability 3e-7), equal
// weights, samples drawn 70 / 30: TV = 0.2.
TEST(MetricIntervals, ModeCoverageCoversTheClosedForm) {
  auto model = runner().run("GaussianMixtureModel", R"({"preset": "custom", "means": {"__value__": [[-5, 0], [5, 0]]},
      "stds": {"__value__": [1, 1]}, "dtype": "float64"})");
  ASSERT_TRUE(model.ok) << model.error;
  const double coverage = interval_coverage(kCoverageRepeats, 0.2, [&](int r) {
    at::Generator g = at::make_generator<at::CPUGeneratorImpl>(9000 + r);
    at::Tensor second = at::rand({400}, g, at::TensorOptions().dtype(at::kDouble)) < 0.3;
    at::Tensor x = randn({400, 2}, 7000 + r);
    x.select(1, 0).add_(at::where(second, 5.0, -5.0));
    return runner().run("ModeCoverage", "{}", {{"samples", latent(x)}, {"model", model.outputs[0]}});
  });
  EXPECT_GE(coverage, 0.91);
  EXPECT_LE(coverage, 0.985);
}

// The floor is what two sets of one distribution measure: over 20 independent pairs of exact sets
// at the node's sizes, the mean distance lies inside the floor's interval (sliced W2, Frechet on
// random features, mode coverage against the exact model).
TEST(MetricIntervals, FloorsMatchIndependentSetsOfOneDistribution) {
  auto mixture = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  ASSERT_TRUE(mixture.ok) << mixture.error;
  const ExactDensity* exact = std::dynamic_pointer_cast<const Model>(mixture.outputs[0].object())->exact();
  struct Case {
    std::string node, literals;
  };
  for (const Case& c :
       {Case{"SlicedWasserstein", R"({"projections": 64, "seed": 1})"},
        Case{"FrechetDistance", R"({"features": "random_relu", "seed": 1})"}, Case{"ModeCoverage", "{}"}}) {
    double sum = 0;
    std::shared_ptr<const Metric> first;
    for (int r = 0; r < 20; ++r) {
      std::map<std::string, Value> links{{"samples", latent(exact->sample_data(500, 300 + 2 * r))}};
      if (c.node == "ModeCoverage")
        links.emplace("model", mixture.outputs[0]);
      else
        links.emplace("reference_samples", latent(exact->sample_data(2000, 301 + 2 * r)));
      auto out = runner().run(c.node, c.literals, links);
      ASSERT_TRUE(out.ok) << c.node << ": " << out.error;
      auto m = std::dynamic_pointer_cast<const Metric>(out.outputs[0].object());
      if (!first) first = m;
      sum += m->value;
    }
    const double mean = sum / 20, lo = first->annotations.at("floor_lo"), hi = first->annotations.at("floor_hi");
    EXPECT_LE(lo, mean) << c.node << " floor " << first->annotations.at("floor");
    EXPECT_GE(hi, mean) << c.node << " floor " << first->annotations.at("floor");
    EXPECT_GT(first->annotations.at("floor"), 0.0) << c.node;
    // A distance's interval does not reach below 0 (the linearised replicates are clamped).
    EXPECT_GE(first->annotations.at("lo"), 0.0) << c.node;
  }
}

// Identical sets: the distance and every resample of it are 0 (Frechet) or the one value (SW).
TEST(MetricIntervals, IdenticalSetsHaveAZeroWidthInterval) {
  at::Tensor a = randn({300, 3}, 8);
  auto fd = runner().run("FrechetDistance", R"({"features": "identity", "seed": 0})",
                         {{"samples", latent(a)}, {"reference_samples", latent(a.clone())}});
  ASSERT_TRUE(fd.ok) << fd.error;
  auto m = std::dynamic_pointer_cast<const Metric>(fd.outputs[0].object());
  EXPECT_NEAR(m->value, 0.0, 1e-9);
  EXPECT_NEAR(m->annotations.at("hi") - m->annotations.at("lo"), 0.0, 1e-9);
}

TEST(Metrics, SlicedWassersteinOfShiftedGaussians) {
  // SW2 between N(0, I) and N(m, I) in d dims is |m| / sqrt(d).
  // Direction sampling error with 2000 projections: about 0.03 (1 sd).
  at::Tensor a = randn({5000, 2}, 2), b = randn({5000, 2}, 3) + at::tensor({3.0, 4.0}, at::kDouble);
  auto r = runner().run("SlicedWasserstein", R"({"projections": 2000, "seed": 1})",
                        {{"samples", latent(a)}, {"reference_samples", latent(b)}});
  EXPECT_NEAR(metric(r), 5.0 / std::sqrt(2.0), 0.1);
  // Unequal sizes go through quantiles.
  EXPECT_NEAR(diffusion::sliced_wasserstein(a.slice(0, 0, 1500), b, 2000, 4), 5.0 / std::sqrt(2.0), 0.12);
  EXPECT_NEAR(diffusion::sliced_wasserstein(a, a, 16, 4), 0.0, 1e-12);
}

TEST(Metrics, ModeCoverageIsTotalVariation) {
  auto model =
      runner().run("GaussianMixtureModel",
                   R"({"preset": "custom", "means": {"__value__": [[0, 0], [10, 0]]}, "stds": {"__value__": [1, 1]}})");
  ASSERT_TRUE(model.ok) << model.error;
  at::Tensor x = at::tensor({0.1, 0.0, -0.2, 0.3, 0.0, 0.0, 9.5, 0.0}, at::kDouble)
                     .reshape({4, 2});  // 3 near mode 0, 1 near mode 1
  auto r = runner().run("ModeCoverage", "{}", {{"samples", latent(x)}, {"model", model.outputs[0]}});
  EXPECT_NEAR(metric(r), 0.25, 1e-12);
  auto ld_mode = runner().run("MeanLogDensity", "{}",
                              {{"samples", latent(at::zeros({2, 2}, at::kDouble))}, {"model", model.outputs[0]}});
  auto ld_gap = runner().run(
      "MeanLogDensity", "{}",
      {{"samples", latent(at::tensor({5.0, 0.0}, at::kDouble).reshape({1, 2}))}, {"model", model.outputs[0]}});
  // log(0.5 N(0; 0, I)) = log 0.5 - log(2 pi).
  EXPECT_NEAR(metric(ld_mode), std::log(0.5) - std::log(2 * M_PI), 1e-6);
  EXPECT_LT(metric(ld_gap), metric(ld_mode) - 10);
}

TEST(Metrics, FrechetDistanceOfGaussians) {
  // N(0, I) vs N(m, 4 I) in 3-D: |m|^2 + 3 (1 + 4 - 2 * 2) = |m|^2 + 3.
  at::Tensor a = randn({200000, 3}, 5), b = randn({200000, 3}, 6) * 2 + at::tensor({1.0, 2.0, 2.0}, at::kDouble);
  auto r = runner().run("FrechetDistance", R"({"features": "identity"})",
                        {{"samples", latent(a)}, {"reference_samples", latent(b)}});
  EXPECT_NEAR(metric(r), 12.0, 0.12);
  auto same = runner().run("FrechetDistance", R"({"features": "random_relu"})",
                           {{"samples", latent(a)}, {"reference_samples", latent(a)}});
  EXPECT_NEAR(metric(same), 0.0, 1e-8);
}

// The covariance is a tree sum over blocks of 1024 rows (so ranks can share the blocks): the
// same value as the direct two-pass formula to rounding, on 5 blocks (the last one short).
TEST(Metrics, FrechetDistanceOverRowBlocksIsTheDirectFormula) {
  at::Tensor a = randn({4500, 4}, 7), b = randn({3000, 4}, 8) * 1.5 + 0.3;
  auto direct = [](const at::Tensor& x, const at::Tensor& y) {
    at::Tensor mx = x.mean(0), my = y.mean(0);
    at::Tensor cx = (x - mx).t().mm(x - mx) / (x.size(0) - 1), cy = (y - my).t().mm(y - my) / (y.size(0) - 1);
    auto sqrtm = [](const at::Tensor& c) {
      auto [vals, vecs] = at::linalg_eigh(c);
      return vecs.mm(at::diag(vals.clamp_min(0).sqrt())).mm(vecs.t());
    };
    at::Tensor sx = sqrtm(cx);
    return (mx - my).pow(2).sum().item<double>() + (cx + cy - 2 * sqrtm(sx.mm(cy).mm(sx))).trace().item<double>();
  };
  EXPECT_NEAR(diffusion::frechet_distance(a, b), direct(a, b), 1e-12);
  auto features = diffusion::random_feature_map(4, 16, 3);
  EXPECT_NEAR(diffusion::frechet_distance(a, b, nullptr, features), direct(features(a), features(b)), 1e-12);
}

TEST(Metrics, BadInputsAreClearErrors) {
  auto shape = runner().run("SlicedWasserstein", "{}",
                            {{"samples", latent(randn({10, 2}, 1))}, {"reference_samples", latent(randn({10, 3}, 1))}});
  ASSERT_FALSE(shape.ok);
  EXPECT_EQ(shape.error_input, "reference_samples");
  EXPECT_NE(shape.error.find("does not match"), std::string::npos) << shape.error;
  auto empty =
      runner().run("TrajectoryError", "{}",
                   {{"samples", latent(at::zeros({0, 2}, at::kDouble))}, {"reference", latent(randn({3, 2}, 1))}});
  ASSERT_FALSE(empty.ok);
  EXPECT_NE(empty.error.find("empty"), std::string::npos);
  auto fewer = runner().run("TrajectoryError", "{}",
                            {{"samples", latent(randn({3, 2}, 1), 20)}, {"reference", latent(randn({3, 2}, 2), 10)}});
  ASSERT_FALSE(fewer.ok);
  EXPECT_EQ(fewer.error_input, "reference");
  EXPECT_NE(fewer.error.find("fewer steps (10) than the compared run (20)"), std::string::npos) << fewer.error;
  auto not_mixture =
      runner().run("ModeCoverage", "{}", {{"samples", latent(randn({3, 2}, 1))}, {"model", latent(randn({3, 2}, 1))}});
  ASSERT_FALSE(not_mixture.ok);
  EXPECT_EQ(not_mixture.error_input, "model");
}

// NaN samples gave a null metric and exit 0; now each metric node refuses them, naming the input
// and how many samples are affected.
TEST(Metrics, NanSamplesAreRefusedNotMeasured) {
  auto mixture = runner().run("GaussianMixtureModel", R"({"preset": "ring8", "dtype": "float64"})");
  ASSERT_TRUE(mixture.ok) << mixture.error;
  at::Tensor nan = randn({10, 2}, 1);
  nan[3][1] = NAN;
  nan[7][0] = INFINITY;
  const Value good = latent(randn({10, 2}, 2)), bad = latent(nan);
  struct Case {
    std::string node, blamed;
    std::map<std::string, Value> inputs;
  };
  const std::vector<Case> cases{
      {"SlicedWasserstein", "samples", {{"samples", bad}, {"reference_samples", good}}},
      {"SlicedWasserstein", "reference_samples", {{"samples", good}, {"reference_samples", bad}}},
      {"TrajectoryError", "samples", {{"samples", bad}, {"reference", good}}},
      {"FrechetDistance", "samples", {{"samples", bad}, {"reference_samples", good}}},
      {"MeanLogDensity", "samples", {{"samples", bad}, {"model", mixture.outputs[0]}}},
      {"ModeCoverage", "samples", {{"samples", bad}, {"model", mixture.outputs[0]}}}};
  for (const auto& [node, blamed, inputs] : cases) {
    auto r = runner().run(node, "{}", inputs);
    ASSERT_FALSE(r.ok) << node;
    EXPECT_EQ(r.error_input, blamed) << node;
    EXPECT_NE(r.error.find("2 of 10 samples contain NaN or Inf"), std::string::npos) << node << ": " << r.error;
  }
}

// The linearised bootstrap of sliced W2 (what the sweep's intervals use) against independent
// truth: the spread of the distance over 200 independent sample sets measured against one fixed
// reference. From a single set, the bootstrap's standard deviation matches it within 30 %, and its
// resample with all counts 1 is the distance itself.
TEST(SlicedWassersteinBootstrap, SpreadMatchesIndependentSets) {
  const int64_t n = 1000, dims = 2;
  auto sample = [&](uint64_t seed) {  // two well-separated Gaussian clusters
    at::Tensor x = randn({n, dims}, seed) * 0.3;
    x.narrow(0, 0, n / 2).add_(2.0);
    return x;
  };
  const diffusion::SlicedWassersteinReference ref(sample(1), 64, 9);
  std::vector<double> independent;
  for (uint64_t k = 0; k < 200; ++k) independent.push_back(ref.distance(sample(100 + k)));
  auto sd = [](const std::vector<double>& v) {
    double m = 0, q = 0;
    for (double x : v) m += x / static_cast<double>(v.size());
    for (double x : v) q += (x - m) * (x - m) / static_cast<double>(v.size() - 1);
    return std::sqrt(q);
  };
  const at::Tensor one = sample(7);
  const std::vector<double> boot = ref.resampled_distances(one, 3, 400);
  EXPECT_NEAR(sd(boot), sd(independent), 0.3 * sd(independent));
  const auto parts = ref.linearised(one);
  EXPECT_NEAR(parts.resampled(std::vector<uint32_t>(n, 1)), ref.distance(one), 1e-12);
  EXPECT_NEAR(std::sqrt(parts.squared), ref.distance(one), 1e-12);
}

}  // namespace
}  // namespace sf
