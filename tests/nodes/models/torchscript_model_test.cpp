// TorchScriptModel: networks built here in C++ (torch::jit::Module::define + save) that compute the
// exact denoiser of N(0, c^2 I) in each parametrisation; every wrapper must return the exact
// D(x, sigma) = c^2 / (c^2 + sigma^2) x to 1e-5. No Python.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "sigmaflow/diffusion/torchscript_model.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;
const double kC = 0.8;

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

// Saves a module whose forward body is `body` (TorchScript), with C (data std) and SD in scope.
std::string save_module(const std::string& name, const std::string& body, int args = 2) {
  torch::jit::Module m("Net");
  std::string sig = args == 2 ? "self, x, t" : "self, x";
  m.define("def forward(" + sig + "):\n    C = " + std::to_string(kC) + "\n    SD = 0.5\n" + body);
  std::string path = (fs::temp_directory_path() / ("sigmaflow-ts-" + name + ".pt")).string();
  m.save(path);
  return path;
}

// Shared TorchScript lines: `s` is the VE sigma [B,1], `xv` the VE state.
const char* kExact = "    D = C * C / (C * C + s * s) * xv\n";

struct Case {
  std::string name, param, time, body;
};

std::vector<Case> cases() {
  return {
      {"eps", "eps", "sigma",
       "    s = t.view(-1, 1)\n    xv = x * torch.sqrt(s * s + 1.0)\n" + std::string(kExact) +
           "    return (xv - D) / s\n"},
      {"v", "v", "sigma",
       "    s = t.view(-1, 1)\n    xv = x * torch.sqrt(s * s + SD * SD)\n" + std::string(kExact) +
           "    return (xv * SD * SD / (s * s + SD * SD) - D) * torch.sqrt(s * s + SD * SD) / (s * SD)\n"},
      {"edm", "edm", "log_sigma_quarter",
       "    s = torch.exp(4.0 * t).view(-1, 1)\n    xv = x * torch.sqrt(s * s + SD * SD)\n" + std::string(kExact) +
           "    return (D - xv * SD * SD / (s * s + SD * SD)) * torch.sqrt(s * s + SD * SD) / (s * SD)\n"},
      {"x0", "x0", "sigma",
       "    s = t.view(-1, 1)\n    xv = x * torch.sqrt(s * s + SD * SD)\n" + std::string(kExact) + "    return D\n"},
      {"flow", "flow", "flow_t1000",
       "    sf = (t / 1000.0).view(-1, 1)\n    s = sf / (1.0 - sf)\n    xv = x / (1.0 - sf)\n" + std::string(kExact) +
           "    return (x - D) / sf\n"},
  };
}

std::shared_ptr<const Model> load(const std::string& json) {
  auto r = runner().run("TorchScriptModel", json);
  EXPECT_TRUE(r.ok) << r.error;
  return r.ok ? std::dynamic_pointer_cast<const Model>(r.outputs[0].object()) : nullptr;
}

double max_err_vs_exact(const Model& m, const std::vector<double>& sigmas) {
  at::Tensor x = at::randn({4, 3}, at::TensorOptions().dtype(at::kDouble));
  double worst = 0;
  for (double s : sigmas) {
    at::Tensor d = m.denoise(x, s);
    worst = std::max(worst, (d - x * (kC * kC / (kC * kC + s * s))).abs().max().item<double>());
  }
  return worst;
}

TEST(TorchScriptModel, EveryParametrisationGivesTheExactDenoiser) {
  for (const auto& c : cases()) {
    std::string path = save_module(c.name, c.body);
    auto m =
        load(R"({"path": ")" + path + R"(", "parametrization": ")" + c.param + R"(", "time_input": ")" + c.time +
             R"(", "sample_shape": "3", "sigma_data": 0.5, "sigma_min": 0.002, "sigma_max": 80, "dtype": "float64"})");
    ASSERT_TRUE(m) << c.name;
    EXPECT_LT(max_err_vs_exact(*m, {0.002, 0.05, 0.7, 3.0, 80.0}), 1e-5) << c.name;
    EXPECT_EQ(std::string(to_string(m->info().parametrization)), c.param);
  }
}

// The SD linear-beta table inside TorchScript, for discrete-time eps networks.
const char* kTableEps =
    "    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=7) ** 2\n"
    "    ac = torch.cumprod(1.0 - betas, dim=0)\n"
    "    ls = torch.log(torch.sqrt((1.0 - ac) / ac))\n"
    "    lo = torch.floor(t).long()\n"
    "    hi = torch.ceil(t).long()\n"
    "    w = t - torch.floor(t)\n"
    "    s = torch.exp((1.0 - w) * ls[lo] + w * ls[hi]).view(-1, 1)\n"
    "    xv = x * torch.sqrt(s * s + 1.0)\n"
    "    D = C * C / (C * C + s * s) * xv\n"
    "    return (xv - D) / s\n";

TEST(TorchScriptModel, DiscreteTablesNearestAndInterpolated) {
  std::string path = save_module("discrete", kTableEps);
  auto table = diffusion::DiscreteTable::linear_beta(0.00085, 0.012, 1000);
  EXPECT_NEAR(table.sigmas().front(), 0.0291675, 1e-6);
  EXPECT_NEAR(table.sigmas().back(), 14.614642, 1e-5);
  auto interp = load(R"({"path": ")" + path + R"(", "parametrization": "eps", "time_input": "discrete_index",
      "timestep_rounding": "interpolate", "sample_shape": "3", "dtype": "float64"})");
  ASSERT_TRUE(interp);
  EXPECT_DOUBLE_EQ(interp->sigma_min(), table.sigmas().front());
  EXPECT_DOUBLE_EQ(interp->sigma_max(), table.sigmas().back());
  // Any sigma inside the table: the fractional timestep reproduces it exactly.
  EXPECT_LT(max_err_vs_exact(*interp, {0.03, 0.1234, 1.0, 5.5, 14.0}), 1e-5);
  auto nearest = load(R"({"path": ")" + path + R"(", "parametrization": "eps", "time_input": "discrete_index",
      "timestep_rounding": "nearest", "sample_shape": "3", "dtype": "float64"})");
  ASSERT_TRUE(nearest);
  // On table sigmas nearest is exact; off the table it is the denoiser of the nearest entry (ComfyUI).
  EXPECT_LT(max_err_vs_exact(*nearest, {table.sigmas()[0], table.sigmas()[500], table.sigmas()[999]}), 1e-5);
  double off = 1.0, k = nearest->timestep(off), on = table.sigmas()[static_cast<size_t>(k)];
  at::Tensor x = at::ones({1, 3}, at::kDouble);
  at::Tensor d = nearest->denoise(x, off);
  // eps network at sigma_k, applied with the true sigma: D = x - s * eps(sigma_k).
  double eps_k = on / (kC * kC + on * on) * std::sqrt((on * on + 1) / (off * off + 1));
  EXPECT_NEAR(d[0][0].item<double>(), 1 - off * eps_k, 1e-9);
  // The table schedules use the model's own table.
  EXPECT_EQ(nearest->sigma_table().size(), 1000u);
  EXPECT_NEAR(nearest->sigma_at(999.0), table.sigmas().back(), 1e-12);
}

TEST(TorchScriptModel, SamplesThroughTheGraphLikeTheExactModel) {
  std::string path = save_module("edm-graph", cases()[2].body);
  std::string graph = R"({
    "1": {"class_type": "TorchScriptModel", "inputs": {"path": ")" +
                      path + R"(", "parametrization": "edm",
          "time_input": "log_sigma_quarter", "sample_shape": "3", "sigma_data": 0.5, "dtype": "float64"}},
    "2": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "seed": 3, "steps": 8, "sampler_name": "heun",
          "scheduler": "karras", "latent_image": ["3", 0]}},
    "3": {"class_type": "EmptyLatent", "inputs": {"model": ["1", 0], "batch_size": 5}},
    "4": {"class_type": "SaveLatent", "inputs": {"samples": ["2", 0], "filename_prefix": "ts_edm"}}})";
  std::map<std::string, Outputs> outs;
  auto r = runner().run_graph(graph, &outs);
  ASSERT_TRUE(r.ok) << r.error;
  auto lat = std::dynamic_pointer_cast<const Latent>(outs.at("2")[0].object());
  EXPECT_EQ(lat->samples().sizes(), (std::vector<int64_t>{5, 3}));
  EXPECT_TRUE(at::isfinite(lat->samples()).all().item<bool>());
}

// TorchScript files are read first by the probe process (diffusion/src/torchscript_probe.h), which
// caps its own address space: this process never runs under a limit (other threads, a server or
// Gloo, allocate meanwhile). A thread watches RLIMIT_AS for the whole load.
TEST(TorchScriptModel, LoadingSetsNoProcessWideLimit) {
  rlimit before{};
  ASSERT_EQ(getrlimit(RLIMIT_AS, &before), 0);
  std::atomic<bool> done{false}, changed{false};
  std::atomic<long> samples{0};
  std::thread watcher([&] {
    while (!done) {
      rlimit now{};
      getrlimit(RLIMIT_AS, &now);
      if (now.rlim_cur != before.rlim_cur) changed = true;
      ++samples;
    }
  });
  // A file the probe has not seen in this process (fresh mtime), loaded twice (the second from
  // the probe's verdict).
  std::string path = save_module("probe-watch", cases()[2].body);
  for (int i = 0; i < 2; ++i) {
    auto r = runner().run("TorchScriptModel", R"({"path": ")" + path + R"(", "parametrization": "edm",
        "time_input": "log_sigma_quarter", "sample_shape": "3"})");
    ASSERT_TRUE(r.ok) << r.error;
  }
  done = true;
  watcher.join();
  EXPECT_GT(samples.load(), 0);
  EXPECT_FALSE(changed.load()) << "RLIMIT_AS changed during a TorchScript load";
}

// The probe's verdicts reach the node's error: a probe that crashes (as LibTorch's parser does on
// some files under AddressSanitizer) or does not start.
TEST(TorchScriptModel, ProbeCrashesAndMissingProbesAreClearErrors) {
  const fs::path crashing = fs::temp_directory_path() / "sigmaflow-crashing-probe.sh";
  std::ofstream(crashing) << "#!/bin/sh\nkill -SEGV $$\n";
  fs::permissions(crashing, fs::perms::owner_all);
  std::string path = save_module("probe-crash", cases()[2].body);
  auto with_probe = [&](const std::string& probe) {
    setenv("SIGMAFLOW_TORCHSCRIPT_PROBE", probe.c_str(), 1);
    // Another mtime, so the verdict is not the one remembered for this path.
    fs::last_write_time(path, fs::last_write_time(path) + std::chrono::seconds(probe.size()));
    auto r = runner().run("TorchScriptModel", R"({"path": ")" + path + R"(", "sample_shape": "3"})");
    unsetenv("SIGMAFLOW_TORCHSCRIPT_PROBE");
    return r;
  };
  auto crash = with_probe(crashing.string());
  ASSERT_FALSE(crash.ok);
  EXPECT_EQ(crash.error_input, "path");
  EXPECT_NE(crash.error.find("is not a loadable TorchScript file: LibTorch crashed while reading it (signal 11"),
            std::string::npos)
      << crash.error;
  auto missing = with_probe("/nonexistent/sigmaflow-torchscript-probe");
  ASSERT_FALSE(missing.ok);
  EXPECT_NE(missing.error.find("the TorchScript probe '/nonexistent/sigmaflow-torchscript-probe' did not start"),
            std::string::npos)
      << missing.error;
}

TEST(TorchScriptModel, BadFilesAndModulesAreClearErrors) {
  auto missing = runner().run("TorchScriptModel", R"({"path": "/nonexistent/model.pt", "sample_shape": "3"})");
  ASSERT_FALSE(missing.ok);
  EXPECT_EQ(missing.error_input, "path");
  EXPECT_NE(missing.error.find("does not exist"), std::string::npos) << missing.error;
  std::string junk = (fs::temp_directory_path() / "sigmaflow-ts-junk.pt").string();
  std::ofstream(junk) << "this is not a zip archive";
  auto notts = runner().run("TorchScriptModel", R"({"path": ")" + junk + R"(", "sample_shape": "3"})");
  ASSERT_FALSE(notts.ok);
  EXPECT_NE(notts.error.find("not a loadable TorchScript file"), std::string::npos) << notts.error;
  std::string arity = save_module("arity", "    return x\n", 1);
  auto a =
      runner().run("TorchScriptModel", R"({"path": ")" + arity + R"(", "sample_shape": "3", "time_input": "sigma"})");
  ASSERT_FALSE(a.ok);
  EXPECT_NE(a.error.find("forward must take (x, t) or (x, t, conditioning) (2 or 3 arguments), it takes 1"),
            std::string::npos)
      << a.error;
  std::string shape = save_module("shape", "    return x.sum(1)\n");
  auto b =
      runner().run("TorchScriptModel", R"({"path": ")" + shape + R"(", "sample_shape": "3", "time_input": "sigma"})");
  ASSERT_FALSE(b.ok);
  EXPECT_NE(b.error.find("forward returned shape [1] for input [1, 3]"), std::string::npos) << b.error;
  auto dims = runner().run("TorchScriptModel", R"({"path": ")" + shape + R"(", "sample_shape": "3, x"})");
  ASSERT_FALSE(dims.ok);
  EXPECT_EQ(dims.error_input, "sample_shape");
  auto dev =
      runner().run("TorchScriptModel", R"({"path": ")" + shape + R"(", "sample_shape": "3", "device": "cuda:5"})");
  ASSERT_FALSE(dev.ok);
  EXPECT_EQ(dev.error_input, "device");
  // Settings the loader refuses name their own input (it used to blame 'path' for all of them).
  auto index = runner().run("TorchScriptModel", R"({"path": ")" + shape + R"(", "sample_shape": "3",
      "time_input": "discrete_index", "discrete_table": "list", "sigma_list": {"__value__": [0.5, 0.2]}})");
  ASSERT_FALSE(index.ok);
  EXPECT_EQ(index.error_input, "sigma_list") << index.error;
  EXPECT_NE(index.error.find("strictly ascending (entry 1)"), std::string::npos) << index.error;
  auto betas = runner().run("TorchScriptModel", R"({"path": ")" + shape + R"(", "sample_shape": "3",
      "time_input": "discrete_index", "beta_start": 0.02, "beta_end": 0.01})");
  ASSERT_FALSE(betas.ok);
  EXPECT_EQ(betas.error_input, "beta_end") << betas.error;  // was blamed on beta_start
  EXPECT_NE(betas.error.find("0 < beta_start < beta_end < 1"), std::string::npos) << betas.error;
  auto range = runner().run("TorchScriptModel", R"({"path": ")" + shape + R"(", "sample_shape": "3",
      "time_input": "sigma", "sigma_min": 5, "sigma_max": 1})");
  ASSERT_FALSE(range.ok);
  EXPECT_EQ(range.error_input, "sigma_min") << range.error;  // was blamed on path
  EXPECT_EQ(b.error_input, "path");
  EXPECT_NE(b.error.find("(is sample_shape \"3\" the network's?)"), std::string::npos) << b.error;
  // A network that emits NaN: sampling names the sigma.
  std::string nan = save_module("nan", "    return x * float('nan')\n");
  auto nm = runner().run("TorchScriptModel", R"({"path": ")" + nan + R"(", "sample_shape": "3", "time_input": "sigma",
      "parametrization": "x0"})");
  ASSERT_TRUE(nm.ok) << nm.error;
  auto ks =
      runner().run("KSampler", R"({"steps": 3, "sampler_name": "euler", "scheduler": "karras"})",
                   {{"model", nm.outputs[0]}, {"latent_image", Value(std::make_shared<Latent>(at::zeros({2, 3})))}});
  ASSERT_FALSE(ks.ok);
  EXPECT_NE(ks.error.find("NaN or Inf at sigma = 80"), std::string::npos) << ks.error;
}

// Metadata (the "sigmaflow.json" extra file TrainDenoiser writes): unset settings come from it; a
// file without it needs a sample_shape (named); unreadable metadata is ignored with a warning.
TEST(TorchScriptModel, MetadataFillsUnsetSettingsAndBadMetadataIsIgnored) {
  auto save_with = [](const std::string& name, const std::string& metadata) {
    torch::jit::Module m("Net");
    m.define("def forward(self, x, t):\n    return x * 0.0\n");
    std::string path = (fs::temp_directory_path() / ("sigmaflow-ts-meta-" + name + ".pt")).string();
    std::ofstream out(path, std::ios::binary);
    m.save(out, {{diffusion::kNetworkMetadataFile, metadata}});
    return path;
  };
  diffusion::TorchScriptSettings ts;
  ts.parametrization = Parametrization::kX0;
  ts.time_input = TimeInput::kSigma;
  ts.sigma_data = 0.7;
  ts.sigma_min = 0.01;
  ts.sigma_max = 40.0;
  ts.sample_shape = {3, 2};
  auto good = runner().run("TorchScriptModel",
                           R"({"path": ")" + save_with("good", diffusion::network_metadata_json(ts)) + R"("})");
  ASSERT_TRUE(good.ok) << good.error;
  auto m = std::dynamic_pointer_cast<const Model>(good.outputs[0].object());
  EXPECT_EQ(m->info().parametrization, Parametrization::kX0);
  EXPECT_EQ(m->info().time_input, TimeInput::kSigma);
  EXPECT_EQ(m->sigma_data(), 0.7);
  EXPECT_EQ(m->sigma_min(), 0.01);
  EXPECT_EQ(m->sigma_max(), 40.0);
  EXPECT_EQ(m->sample_shape(), (std::vector<int64_t>{3, 2}));
  // x0 with a zero network: D = 0 whatever x (eps would give D = x).
  EXPECT_EQ(m->denoise(at::ones({2, 3, 2}), 1.0).abs().max().item<double>(), 0.0);

  auto broken = runner().run("TorchScriptModel",
                             R"({"path": ")" + save_with("broken", "{\"format\": 3") + R"(", "sample_shape": "2"})");
  ASSERT_TRUE(broken.ok) << broken.error;
  bool warned = false;
  for (const auto& msg : broken.messages) warned = warned || msg.find("is unreadable") != std::string::npos;
  EXPECT_TRUE(warned);

  auto none = runner().run("TorchScriptModel", R"({"path": ")" + save_with("none", "") + R"("})");
  ASSERT_FALSE(none.ok);
  EXPECT_EQ(none.error_input, "sample_shape");
  EXPECT_NE(none.error.find("carries no metadata"), std::string::npos) << none.error;
}

}  // namespace
}  // namespace sf
