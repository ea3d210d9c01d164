// Guiders and conditioning as in ComfyUI: a graph written as ComfyUI exports it
// (SamplerCustomAdvanced + CFGGuider + KSamplerSelect + BasicScheduler + RandomNoise +
// EmptyLatent, on a class-conditional mixture) and its KSampler twin both match a hand-written
// float64 Euler + CFG loop; cfg = 1 halves the evaluations; a TorchScript twin of the mixture,
// conditioned through forward's third argument, gives the same samples; bad inputs name the input.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/script.h>

#include <cmath>
#include <filesystem>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/diffusion/npy.h"
#include "sigmaflow/guider.h"
#include "sigmaflow/testing/node_runner.h"

namespace sf {
namespace {

namespace fs = std::filesystem;

testing::NodeRunner& runner() {
  static testing::NodeRunner r({SF_PLUGIN_DIR});
  return r;
}

// Two classes: N((1, 0), 0.3^2 I) labelled 0 and N((-1, 0), 0.3^2 I) labelled 1, equal weights.
const char* kMixture = R"("preset": "custom", "means": {"__value__": [[1.0, 0.0], [-1.0, 0.0]]},
  "stds": {"__value__": [0.3, 0.3]}, "labels": {"__value__": [0, 1]}, "sigma_min": 0.002, "sigma_max": 80.0,
  "dtype": "float64")";

std::string graph(const std::string& sampling_nodes) {
  return std::string(R"({
  "1": {"class_type": "GaussianMixtureModel", "_meta": {"title": "Load Model"}, "inputs": {)") +
         kMixture + R"(}},
  "2": {"class_type": "ClassConditioning", "_meta": {"title": "Positive"}, "inputs": {"class_index": 1}},
  "3": {"class_type": "ConditioningZeroOut", "_meta": {"title": "Negative"}, "inputs": {"conditioning": ["2", 0]}},
  "4": {"class_type": "EmptyLatent", "_meta": {"title": "Empty Latent"}, "inputs": {"model": ["1", 0], "batch_size": 64}},
)" + sampling_nodes +
         R"(,
  "9": {"class_type": "SaveLatent", "_meta": {"title": "Save"}, "inputs": {"samples": ["8", 0], "filename_prefix": "cfg/out"}}
})";
}

const char* kAdvanced = R"(
  "5": {"class_type": "CFGGuider", "_meta": {"title": "CFGGuider"},
        "inputs": {"model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "cfg": 3.0}},
  "6": {"class_type": "KSamplerSelect", "_meta": {"title": "KSamplerSelect"}, "inputs": {"sampler_name": "euler"}},
  "7": {"class_type": "BasicScheduler", "_meta": {"title": "BasicScheduler"},
        "inputs": {"model": ["1", 0], "scheduler": "karras", "steps": 12, "denoise": 1.0}},
  "10": {"class_type": "RandomNoise", "_meta": {"title": "RandomNoise"}, "inputs": {"noise_seed": 42}},
  "8": {"class_type": "SamplerCustomAdvanced", "_meta": {"title": "SamplerCustomAdvanced"},
        "inputs": {"noise": ["10", 0], "guider": ["5", 0], "sampler": ["6", 0], "sigmas": ["7", 0],
                   "latent_image": ["4", 0]}})";

const char* kKSampler = R"(
  "8": {"class_type": "KSampler", "_meta": {"title": "KSampler"},
        "inputs": {"model": ["1", 0], "seed": 42, "steps": 12, "cfg": 3.0, "sampler_name": "euler",
                   "scheduler": "karras", "positive": ["2", 0], "negative": ["3", 0], "latent_image": ["4", 0],
                   "denoise": 1.0}})";

std::shared_ptr<const Latent> run_graph(const std::string& g, std::map<std::string, Outputs>* all = nullptr) {
  std::map<std::string, Outputs> outputs;
  auto r = runner().run_graph(g, &outputs);
  EXPECT_TRUE(r.ok) << r.error;
  if (all) *all = outputs;
  return r.ok ? std::dynamic_pointer_cast<const Latent>(outputs.at("8").at(0).object()) : nullptr;
}

// The exact class-conditional denoiser of the mixture above, written out independently.
at::Tensor exact_denoiser(const at::Tensor& x, double s, int label) {
  const double c2 = 0.09, v = c2 + s * s;
  at::Tensor mu = at::tensor({1.0, 0.0, -1.0, 0.0}, at::kDouble).reshape({2, 2});
  at::Tensor logits = -(x.unsqueeze(1) - mu.unsqueeze(0)).pow(2).sum(2) / (2 * v);  // [B, 2]
  if (label >= 0) logits.select(1, 1 - label).fill_(-INFINITY);
  at::Tensor r = logits.softmax(1);
  at::Tensor post = mu.unsqueeze(0) + (c2 / v) * (x.unsqueeze(1) - mu.unsqueeze(0));  // [B, 2, 2]
  return (r.unsqueeze(2) * post).sum(1);
}

// k-diffusion's Euler with ComfyUI's cfg_function, by hand: x = 80 z, D = Du + cfg (Dc - Du).
at::Tensor reference_cfg_euler(const std::vector<double>& sigmas, double cfg, int64_t batch, uint64_t seed) {
  at::Tensor x = diffusion::seeded_normal(seed, {batch, 2}, c10::Device(c10::kCPU), at::kDouble) * sigmas[0];
  for (size_t i = 0; i + 1 < sigmas.size(); ++i) {
    at::Tensor du = exact_denoiser(x, sigmas[i], -1), dc = exact_denoiser(x, sigmas[i], 1);
    at::Tensor d = du + cfg * (dc - du);
    x = sigmas[i + 1] == 0 ? d : x + (x - d) / sigmas[i] * (sigmas[i + 1] - sigmas[i]);
  }
  return x;
}

std::vector<double> karras12() {
  std::map<std::string, Outputs> all;
  run_graph(graph(kAdvanced), &all);
  at::Tensor s = all.at("7").at(0).tensor().to(at::kDouble).contiguous();
  return std::vector<double>(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
}

TEST(Guidance, ComfyUiGraphAndItsKSamplerTwinMatchAHandWrittenCfgLoop) {
  auto sigmas = karras12();
  ASSERT_EQ(sigmas.size(), 13u);
  at::Tensor want = reference_cfg_euler(sigmas, 3.0, 64, 42);
  auto advanced = run_graph(graph(kAdvanced));
  auto ksampler = run_graph(graph(kKSampler));
  ASSERT_TRUE(advanced && ksampler);
  EXPECT_LT((advanced->samples() - want).abs().max().item<double>(), 1e-6);
  EXPECT_LT((ksampler->samples() - want).abs().max().item<double>(), 1e-6);
  EXPECT_EQ(advanced->nfe, 24);  // 12 steps, 2 evaluations each
  // Guidance pushes the samples to class 1 (x < 0) harder than the conditional model alone.
  EXPECT_LT(want.select(1, 0).mean().item<double>(), -0.9);
}

TEST(Guidance, CfgOneEvaluatesOnlyThePositiveBranch) {
  std::string one = graph(kAdvanced);
  one.replace(one.find("\"cfg\": 3.0"), 10, "\"cfg\": 1.0");
  auto sampled = run_graph(one);
  ASSERT_TRUE(sampled);
  EXPECT_EQ(sampled->nfe, 12);  // half of cfg 3's 24
  at::Tensor want = reference_cfg_euler(karras12(), 1.0, 64, 42);
  EXPECT_LT((sampled->samples() - want).abs().max().item<double>(), 1e-6);
}

// The mixture's twin as a TorchScript network, x0-parametrised (it receives x / sqrt(sigma^2 + 1),
// sigma_data 1), time = sigma, conditioned on a one-hot class embedding (zeros: unconditional).
std::string save_conditional_twin() {
  torch::jit::Module m("Twin");
  m.define(R"(
def forward(self, x, t, cond):
    s = t.view(-1, 1)
    x = x * torch.sqrt(s * s + 1.0)
    v = 0.09 + s * s
    mu = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=x.dtype)
    diff = x.unsqueeze(1) - mu.unsqueeze(0)
    logits = -(diff * diff).sum(2) / (2.0 * v)
    k = cond.sum(1, keepdim=True)
    w = torch.where(k > 0.0, cond, torch.ones_like(cond))
    logits = logits + torch.log(w)
    r = torch.softmax(logits, 1)
    post = mu.unsqueeze(0) + (0.09 / v).unsqueeze(2) * diff
    return (r.unsqueeze(2) * post).sum(1)
)");
  std::string path = (fs::temp_directory_path() / "sigmaflow-cond-twin.pt").string();
  m.save(path);
  return path;
}

TEST(Guidance, TorchScriptTwinConditionedThroughForwardMatches) {
  std::string path = save_conditional_twin();
  std::string one_hot = (fs::temp_directory_path() / "sigmaflow-class1.npy").string();
  ASSERT_TRUE(diffusion::save_npy(one_hot, at::tensor({0.0, 1.0}, at::kDouble).reshape({1, 2})).ok());
  std::string g = graph(kAdvanced);
  const std::string model_node = g.substr(g.find("\"1\":"), g.find("\"2\":") - g.find("\"1\":"));
  g.replace(g.find(model_node), model_node.size(),
            R"("1": {"class_type": "TorchScriptModel", "inputs": {"path": ")" + path +
                R"(", "parametrization": "x0", "time_input": "sigma", "sample_shape": "2", "sigma_min": 0.002,
                "sigma_max": 80.0, "dtype": "float64"}},
  )");
  g.replace(
      g.find(R"({"class_type": "ClassConditioning", "_meta": {"title": "Positive"}, "inputs": {"class_index": 1}})"),
      std::string(
          R"({"class_type": "ClassConditioning", "_meta": {"title": "Positive"}, "inputs": {"class_index": 1}})")
          .size(),
      R"({"class_type": "LoadConditioning", "inputs": {"path": ")" + one_hot + R"("}})");
  auto sampled = run_graph(g);
  ASSERT_TRUE(sampled);
  at::Tensor want = reference_cfg_euler(karras12(), 3.0, 64, 42);
  EXPECT_LT((sampled->samples() - want).abs().max().item<double>(), 1e-6);
}

Value node_output(const std::string& class_type, const std::string& json, const std::map<std::string, Value>& in = {}) {
  auto r = runner().run(class_type, json, in);
  EXPECT_TRUE(r.ok) << class_type << ": " << r.error;
  return r.ok ? r.outputs.at(0) : Value();
}

TEST(Guidance, BadInputsNameTheInput) {
  Value mixture = node_output("GaussianMixtureModel", std::string("{") + kMixture + "}");
  Value plain = node_output("GaussianMixtureModel", R"({"preset": "ring8"})");
  Value class5 = node_output("ClassConditioning", R"({"class_index": 5})");
  Value class1 = node_output("ClassConditioning", R"({"class_index": 1})");
  // A label outside the mixture's classes.
  auto out_of_range =
      runner().run("CFGGuider", R"({"cfg": 2.0})", {{"model", mixture}, {"positive", class5}, {"negative", class1}});
  ASSERT_FALSE(out_of_range.ok);
  EXPECT_EQ(out_of_range.error_input, "positive");
  EXPECT_NE(out_of_range.error.find("class label 5 is outside the model's classes 0..1"), std::string::npos)
      << out_of_range.error;
  // A label for an unconditional model.
  auto unconditional = runner().run("BasicGuider", "{}", {{"model", plain}, {"conditioning", class1}});
  ASSERT_FALSE(unconditional.ok);
  EXPECT_EQ(unconditional.error_input, "conditioning");
  // Conditioning of the wrong kind for the model: an embedding for a mixture.
  std::string emb = (fs::temp_directory_path() / "sigmaflow-emb.npy").string();
  ASSERT_TRUE(diffusion::save_npy(emb, at::zeros({1, 7}, at::kFloat)).ok());
  Value embedding = node_output("LoadConditioning", R"({"path": ")" + emb + "\"}");
  auto wrong_kind = runner().run("BasicGuider", "{}", {{"model", mixture}, {"conditioning", embedding}});
  ASSERT_FALSE(wrong_kind.ok);
  EXPECT_EQ(wrong_kind.error_input, "conditioning");
  EXPECT_NE(wrong_kind.error.find("takes no conditioning embedding"), std::string::npos) << wrong_kind.error;
  // A TorchScript network whose forward takes no conditioning, given some.
  Value ts = node_output("TorchScriptModel", R"({"path": ")" + std::string(SF_SAMPLES_DIR) +
                                                 R"(/assets/ring8_edm.pt", "parametrization": "edm",
      "time_input": "log_sigma_quarter", "sample_shape": "2", "sigma_min": 0.002, "sigma_max": 80.0})");
  auto no_arg = runner().run("BasicGuider", "{}", {{"model", ts}, {"conditioning", embedding}});
  ASSERT_FALSE(no_arg.ok);
  EXPECT_EQ(no_arg.error_input, "conditioning");
  // cfg negative (validation) and NaN (from a link).
  auto negative =
      runner().run("CFGGuider", R"({"cfg": -1.0})", {{"model", mixture}, {"positive", class1}, {"negative", class1}});
  ASSERT_FALSE(negative.ok);
  EXPECT_EQ(negative.error_input, "cfg");
  auto nan = runner().run(
      "CFGGuider", "{}",
      {{"model", mixture}, {"positive", class1}, {"negative", class1}, {"cfg", Value("FLOAT", Literal(std::nan("")))}});
  ASSERT_FALSE(nan.ok);
  EXPECT_EQ(nan.error_input, "cfg");
  // A guider whose model has another sample shape than the latent.
  Value guider =
      node_output("CFGGuider", R"({"cfg": 2.0})", {{"model", mixture}, {"positive", class1}, {"negative", class1}});
  Value other = node_output("GaussianMixtureModel", R"({"preset": "powerlaw64"})");
  Value latent = node_output("EmptyLatent", R"({"batch_size": 2})", {{"model", other}});
  Value noise = node_output("RandomNoise", R"({"noise_seed": 1})");
  Value sampler = node_output("KSamplerSelect", R"({"sampler_name": "euler"})");
  Value sigmas = node_output("KarrasScheduler", R"({"steps": 3, "sigma_min": 0.002, "sigma_max": 80})");
  auto shape = runner().run(
      "SamplerCustomAdvanced", "{}",
      {{"noise", noise}, {"guider", guider}, {"sampler", sampler}, {"sigmas", sigmas}, {"latent_image", latent}});
  ASSERT_FALSE(shape.ok);
  EXPECT_EQ(shape.error_input, "latent_image");
  EXPECT_NE(shape.error.find("the guider's model"), std::string::npos) << shape.error;
}

TEST(Guidance, EmptyLatentImageHasComfyUisShape) {
  Value v = node_output("EmptyLatentImage", R"({"width": 512, "height": 768, "batch_size": 2})");
  auto latent = std::dynamic_pointer_cast<const Latent>(v.object());
  ASSERT_TRUE(latent);
  EXPECT_EQ(latent->samples().sizes(), (std::vector<int64_t>{2, 4, 96, 64}));
  EXPECT_EQ(latent->samples().abs().sum().item<double>(), 0.0);
}

}  // namespace
}  // namespace sf
