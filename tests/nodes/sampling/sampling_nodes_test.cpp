// Sampling nodes: noise, latents, SamplerCustom(Advanced), KSampler, .npy files, bad inputs.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "sigmaflow/diffusion/npy.h"
#include "sigmaflow/diffusion/sigmas.h"
#include "sigmaflow/scheduler/stock.h"
#include "sigmaflow/testing/node_runner.h"
#include "support/gaussian_reference.h"

namespace sf {
namespace {

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

const double kC = 0.5;
Value model_value() { return Value(std::shared_ptr<const Object>(std::make_shared<test::GaussianModel>(kC, 3))); }
Value latent_value(at::Tensor t) { return Value(std::make_shared<Latent>(std::move(t))); }
const at::Tensor& samples(const Value& v) { return std::dynamic_pointer_cast<const Latent>(v.object())->samples(); }

TEST(Noise, RandomNoiseIsTorchRandnFromTheSeedOnTheCpu) {
  auto r = runner().run("RandomNoise", R"({"noise_seed": 1234})");
  ASSERT_TRUE(r.ok) << r.error;
  auto noise = std::dynamic_pointer_cast<const Noise>(r.outputs[0].object());
  at::Tensor like = at::zeros({2, 3}, at::kDouble);
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(1234);
  at::Tensor want = at::randn({2, 3}, g, at::TensorOptions().dtype(at::kFloat)).to(at::kDouble);
  EXPECT_TRUE(at::equal(noise->generate(like), want));
  EXPECT_EQ(noise->generate(like).scalar_type(), at::kDouble);
}

TEST(Latents, EmptyLatentHasTheModelShape) {
  auto r = runner().run("EmptyLatent", R"({"batch_size": 4})", {{"model", model_value()}});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(samples(r.outputs[0]).sizes(), (std::vector<int64_t>{4, 3}));
  EXPECT_EQ(samples(r.outputs[0]).abs().sum().item<double>(), 0.0);
}

TEST(SamplerCustom, StartsFromLatentPlusSigmaNoiseAndRecordsProvenance) {
  auto sampler = runner().run("KSamplerSelect", R"({"sampler_name": "euler"})");
  ASSERT_TRUE(sampler.ok);
  auto sig = schedules::karras(5, 0.002, 80, 7).values();
  at::Tensor lat = at::zeros({2, 3}, at::kDouble);
  auto r = runner().run("SamplerCustom", R"({"add_noise": true, "noise_seed": 7})",
                        {{"model", model_value()},
                         {"sampler", sampler.outputs[0]},
                         {"sigmas", diffusion::Sigmas(sig).to_value()},
                         {"latent_image", latent_value(lat)}});
  ASSERT_TRUE(r.ok) << r.error;
  at::Generator g = at::make_generator<at::CPUGeneratorImpl>(7);
  at::Tensor noise = at::randn({2, 3}, g, at::TensorOptions().dtype(at::kFloat)).to(at::kDouble);
  auto sig32 = diffusion::Sigmas(sig).rounded_to_float32().values();
  at::Tensor want = noise * sig32[0] * test::reference_multiplier("euler", kC, sig32);
  EXPECT_LT((samples(r.outputs[0]) - want).abs().max().item<double>(), 1e-9);
  auto out = std::dynamic_pointer_cast<const Latent>(r.outputs[0].object());
  EXPECT_EQ(out->nfe, 5);
  EXPECT_EQ(out->steps, 5);
  EXPECT_EQ(out->sampler, "euler");
  EXPECT_EQ(out->seed, 7);
  // add_noise false: the latent itself is the start.
  auto quiet = runner().run("SamplerCustom", R"({"add_noise": false})",
                            {{"model", model_value()},
                             {"sampler", sampler.outputs[0]},
                             {"sigmas", diffusion::Sigmas(sig).to_value()},
                             {"latent_image", latent_value(at::ones({1, 3}, at::kDouble))}});
  ASSERT_TRUE(quiet.ok);
  EXPECT_NEAR(samples(quiet.outputs[0])[0][0].item<double>(), test::reference_multiplier("euler", kC, sig32), 1e-9);
  // Empty SIGMAS pass the latent through.
  auto empty = runner().run("SamplerCustom", R"({"add_noise": true})",
                            {{"model", model_value()},
                             {"sampler", sampler.outputs[0]},
                             {"sigmas", diffusion::Sigmas().to_value()},
                             {"latent_image", latent_value(at::ones({1, 3}, at::kDouble))}});
  ASSERT_TRUE(empty.ok);
  EXPECT_TRUE(at::equal(samples(empty.outputs[0]), at::ones({1, 3}, at::kDouble)));
}

TEST(SamplerCustom, ComfyNoiseScalingUsesSqrtOnePlusSigmaSquared) {
  auto sampler = runner().run("KSamplerSelect", R"({"sampler_name": "euler"})");
  std::vector<double> sig = {80, 0};
  auto run = [&](bool comfy) {
    auto r = runner().run(
        "SamplerCustom", std::string(R"({"noise_seed": 3, "comfy_noise_scaling": )") + (comfy ? "true" : "false") + "}",
        {{"model", model_value()},
         {"sampler", sampler.outputs[0]},
         {"sigmas", diffusion::Sigmas(sig).to_value()},
         {"latent_image", latent_value(at::zeros({1, 3}, at::kDouble))}});
    EXPECT_TRUE(r.ok) << r.error;
    return samples(r.outputs[0]);
  };
  double ratio = (run(true) / run(false)).mean().item<double>();
  EXPECT_NEAR(ratio, std::sqrt(1 + 80.0 * 80.0) / 80.0, 1e-12);
}

TEST(SamplerCustom, BadInputsAreClearErrors) {
  auto sampler = runner().run("KSamplerSelect", R"({"sampler_name": "heun"})");
  auto run = [&](const std::vector<double>& sig, at::Tensor lat) {
    return runner().run("SamplerCustom", "{}",
                        {{"model", model_value()},
                         {"sampler", sampler.outputs[0]},
                         {"sigmas", diffusion::Sigmas(sig).to_value()},
                         {"latent_image", latent_value(std::move(lat))}});
  };
  auto ascending = run({1, 2, 0}, at::zeros({1, 3}, at::kDouble));
  ASSERT_FALSE(ascending.ok);
  EXPECT_EQ(ascending.error_input, "sigmas");
  EXPECT_NE(ascending.error.find("strictly descending"), std::string::npos);
  auto negative = run({1, -0.5}, at::zeros({1, 3}, at::kDouble));
  ASSERT_FALSE(negative.ok);
  EXPECT_NE(negative.error.find("negative"), std::string::npos);
  // NaN SIGMAS cannot even be handed over: the host refuses them from any node's output.
  auto nan = run({NAN, 0}, at::zeros({1, 3}, at::kDouble));
  ASSERT_FALSE(nan.ok);
  EXPECT_NE(nan.error.find("non-finite sigmas"), std::string::npos) << nan.error;
  auto shape = run({1, 0}, at::zeros({1, 4}, at::kDouble));
  ASSERT_FALSE(shape.ok);
  EXPECT_EQ(shape.error_input, "latent_image");
  EXPECT_NE(shape.error.find("does not match the model's sample shape [B, 3]"), std::string::npos) << shape.error;
  auto unknown = runner().run("KSamplerSelect", R"({"sampler_name": "euler_magic"})");
  ASSERT_FALSE(unknown.ok);
  EXPECT_EQ(unknown.error_type, "value_not_in_list");
}

TEST(KSampler, EqualsBasicSchedulerPlusSamplerCustom) {
  at::Tensor lat = at::zeros({3, 3}, at::kDouble);
  auto k =
      runner().run("KSampler", R"({"seed": 9, "steps": 6, "sampler_name": "dpmpp_2m", "scheduler": "exponential"})",
                   {{"model", model_value()}, {"latent_image", latent_value(lat)}});
  ASSERT_TRUE(k.ok) << k.error;
  auto sched =
      runner().run("BasicScheduler", R"({"scheduler": "exponential", "steps": 6})", {{"model", model_value()}});
  auto sampler = runner().run("KSamplerSelect", R"({"sampler_name": "dpmpp_2m"})");
  auto c = runner().run("SamplerCustom", R"({"noise_seed": 9})",
                        {{"model", model_value()},
                         {"sampler", sampler.outputs[0]},
                         {"sigmas", sched.outputs[0]},
                         {"latent_image", latent_value(lat)}});
  ASSERT_TRUE(c.ok) << c.error;
  EXPECT_TRUE(at::equal(samples(k.outputs[0]), samples(c.outputs[0])));
  auto bad = runner().run("KSampler", R"({"sampler_name": "nope"})",
                          {{"model", model_value()}, {"latent_image", latent_value(lat)}});
  ASSERT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_input, "sampler_name");
}

TEST(LatentFiles, SaveLoadRoundTripAndMalformedFiles) {
  at::Tensor t = at::arange(12, at::kFloat).reshape({3, 4}) / 7;
  auto w = runner().run("SaveLatent", R"({"filename_prefix": "npy/rt"})", {{"samples", latent_value(t)}});
  ASSERT_TRUE(w.ok) << w.error;
  ASSERT_EQ(w.files.size(), 1u);
  // The header is exactly what numpy writes for this array.
  std::ifstream f(w.files[0], std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  EXPECT_EQ(bytes.substr(0, 6), "\x93NUMPY");
  EXPECT_NE(bytes.find("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"), std::string::npos);
  EXPECT_EQ((bytes.size() - 48) % 64, 0u) << "64-byte aligned header + 48 bytes of data";
  auto r = runner().run("LoadLatent", R"({"path": ")" + w.files[0] + R"("})");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_TRUE(at::equal(samples(r.outputs[0]), t));
  // Truncated data, bad magic, unsupported dtype.
  std::string dir = runner().output_dir();
  std::ofstream(dir + "/trunc.npy", std::ios::binary) << bytes.substr(0, bytes.size() - 5);
  std::ofstream(dir + "/magic.npy", std::ios::binary) << "NOTNUMPY" << bytes.substr(8);
  std::string c16 = bytes;
  c16.replace(c16.find("<f4"), 3, "<c8");
  std::ofstream(dir + "/complex.npy", std::ios::binary) << c16;
  for (auto [file, msg] : {std::pair{"trunc.npy", "truncated data"}, std::pair{"magic.npy", "magic"},
                           std::pair{"complex.npy", "unsupported dtype '<c8'"}}) {
    auto bad = runner().run("LoadLatent", R"({"path": ")" + dir + "/" + file + R"("})");
    ASSERT_FALSE(bad.ok) << file;
    EXPECT_EQ(bad.error_input, "path");
    EXPECT_NE(bad.error.find(msg), std::string::npos) << bad.error;
  }
}

TEST(LatentFiles, FortranOrderIsTransposedBack) {
  at::Tensor t = at::arange(6, at::kDouble).reshape({2, 3});
  std::string header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size()) + '\0' + header;
  at::Tensor colmajor = t.t().contiguous();
  bytes.append(static_cast<const char*>(colmajor.data_ptr()), static_cast<size_t>(colmajor.nbytes()));
  auto r = diffusion::parse_npy(bytes, "test");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(at::equal(r.value(), t));
}

TEST(LatentToNoise, ExplicitNoiseMustMatchTheLatentShape) {
  at::Tensor n = at::ones({2, 3}, at::kDouble);
  auto noise = runner().run("LatentToNoise", "{}", {{"latent", latent_value(n)}});
  ASSERT_TRUE(noise.ok);
  auto sampler = runner().run("KSamplerSelect", R"({"sampler_name": "euler"})");
  auto guider = runner().run("BasicGuider", "{}", {{"model", model_value()}});
  ASSERT_TRUE(guider.ok) << guider.error;
  std::vector<double> sig = {2, 0};
  auto ok = runner().run("SamplerCustomAdvanced", "{}",
                         {{"noise", noise.outputs[0]},
                          {"guider", guider.outputs[0]},
                          {"sampler", sampler.outputs[0]},
                          {"sigmas", diffusion::Sigmas(sig).to_value()},
                          {"latent_image", latent_value(at::zeros({2, 3}, at::kDouble))}});
  ASSERT_TRUE(ok.ok) << ok.error;
  EXPECT_NEAR(samples(ok.outputs[0])[1][2].item<double>(), 2 * kC * kC / (kC * kC + 4), 1e-12);
  auto bad = runner().run("SamplerCustomAdvanced", "{}",
                          {{"noise", noise.outputs[0]},
                           {"guider", guider.outputs[0]},
                           {"sampler", sampler.outputs[0]},
                           {"sigmas", diffusion::Sigmas(sig).to_value()},
                           {"latent_image", latent_value(at::zeros({4, 3}, at::kDouble))}});
  ASSERT_FALSE(bad.ok);
  EXPECT_EQ(bad.error_input, "noise");
}

}  // namespace
}  // namespace sf
