#include "sigmaflow/diffusion/networks.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/api/module.h>

#include <cmath>
#include <stdexcept>
#include <string>

#include "sigmaflow/diffusion/noise.h"
#include "sigmaflow/status.h"

namespace sf::diffusion {
namespace {

// Registers parameters drawn from one generator, in registration order (so a seed fixes them).
class ParamMaker {
 public:
  ParamMaker(torch::jit::Module& m, uint64_t seed) : m_(m), gen_(cpu_generator(seed)) {}
  // N(0, gain^2 / fan_in) weights; gain 0 gives zeros (the last layers).
  void weight(const std::string& name, std::vector<int64_t> shape, int64_t fan_in, double gain) {
    at::Tensor w = at::randn(shape, gen_, at::kFloat) * (gain / std::sqrt(static_cast<double>(fan_in)));
    m_.register_parameter(name, w, false);
  }
  void constant(const std::string& name, std::vector<int64_t> shape, double value) {
    m_.register_parameter(name, at::full(shape, value, at::kFloat), false);
  }
  void linear(const std::string& name, int64_t in, int64_t out, double gain = std::sqrt(2.0)) {
    weight(name + "_w", {out, in}, in, gain);
    constant(name + "_b", {out}, 0.0);
  }
  void conv(const std::string& name, int64_t in, int64_t out, int64_t k, double gain = std::sqrt(2.0)) {
    weight(name + "_w", {out, in, k, k}, in * k * k, gain);
    constant(name + "_b", {out}, 0.0);
  }
  void conv_transpose(const std::string& name, int64_t in, int64_t out) {
    weight(name + "_w", {in, out, 2, 2}, in, std::sqrt(2.0));
    constant(name + "_b", {out}, 0.0);
  }
  void norm(const std::string& name, int64_t channels) {
    constant(name + "_w", {channels}, 1.0);
    constant(name + "_b", {channels}, 0.0);
  }

 private:
  torch::jit::Module& m_;
  at::Generator gen_;
};

// Frequencies of the sinusoidal noise embedding: geometric from 1 to 100 (c_noise spans about
// -1.6 .. 1.1 over sigma in [0.002, 80]).
at::Tensor embedding_frequencies(int64_t features) {
  return at::exp(at::linspace(0.0, std::log(100.0), features / 2, at::kFloat));
}

const char* kEmbed = R"(
def _embed(self, sigma):
    a = (torch.log(sigma) * 0.25).unsqueeze(1) * self.freqs.unsqueeze(0)
    return torch.cat([torch.sin(a), torch.cos(a)], 1)
)";

}  // namespace

int64_t parameter_count(const torch::jit::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::shared_ptr<torch::jit::Module> make_mlp(const MlpSpec& s, uint64_t seed) {
  if (s.dim < 1 || s.width < 1 || s.depth < 1 || s.embedding < 2 || s.embedding % 2 != 0)
    throw std::invalid_argument("MLP needs dim, width, depth >= 1 and an even embedding >= 2");
  auto m = std::make_shared<torch::jit::Module>("SigmaflowMLP");
  ParamMaker p(*m, seed);
  p.linear("in", s.dim + s.embedding, s.width);
  for (int64_t l = 1; l < s.depth; ++l) p.linear("h" + std::to_string(l), s.width, s.width);
  p.linear("out", s.width, s.dim, 0.0);
  m->register_buffer("freqs", embedding_frequencies(s.embedding));
  std::string src = std::string(kEmbed) + R"(
def forward(self, x, sigma):
    h = torch.cat([x.reshape([x.size(0), -1]), self._embed(sigma.to(x.dtype))], 1)
    h = torch.addmm(self.in_b, h, self.in_w.t())
    h = h * torch.sigmoid(h)
)";
  for (int64_t l = 1; l < s.depth; ++l) {
    std::string n = "self.h" + std::to_string(l);
    src += "    h = torch.addmm(" + n + "_b, h, " + n + "_w.t())\n    h = h * torch.sigmoid(h)\n";
  }
  src += "    return torch.addmm(self.out_b, h, self.out_w.t()).reshape(x.shape)\n";
  m->define(src);
  return m;
}

namespace {

// A residual block's parameters and its call in forward.
std::string residual_block(ParamMaker& p, const std::string& name, int64_t in, int64_t out, int64_t emb,
                           const std::string& x) {
  p.norm(name + "_n1", in);
  p.conv(name + "_c1", in, out, 3);
  p.linear(name + "_e", emb, out, 1.0);
  p.norm(name + "_n2", out);
  p.conv(name + "_c2", out, out, 3, 0.0);
  std::string s = "self." + name;
  std::string call = "self._block(" + x + ", e, " + s + "_n1_w, " + s + "_n1_b, " + s + "_c1_w, " + s + "_c1_b, " + s +
                     "_e_w, " + s + "_e_b, " + s + "_n2_w, " + s + "_n2_b, " + s + "_c2_w, " + s + "_c2_b)";
  if (in == out) return x + " + " + call;
  p.conv(name + "_skip", in, out, 1, 1.0);
  return "torch.conv2d(" + x + ", " + s + "_skip_w, " + s + "_skip_b) + " + call;
}

const char* kBlock = R"(
def _block(self, x, e, n1w, n1b, c1w, c1b, ew, eb, n2w, n2b, c2w, c2b):
    h = torch.group_norm(x, 8, n1w, n1b, 1e-5)
    h = torch.conv2d(h * torch.sigmoid(h), c1w, c1b, [1, 1], [1, 1])
    h = h + torch.addmm(eb, e, ew.t()).unsqueeze(2).unsqueeze(3)
    h = torch.group_norm(h, 8, n2w, n2b, 1e-5)
    return torch.conv2d(h * torch.sigmoid(h), c2w, c2b, [1, 1], [1, 1])
)";

}  // namespace

std::shared_ptr<torch::jit::Module> make_unet(const UnetSpec& s, uint64_t seed) {
  if (s.channels < 1 || s.height < 4 || s.width < 4 || s.height % 4 != 0 || s.width % 4 != 0)
    throw InputError(
        "data",
        "images of " + std::to_string(s.channels) + " x " + std::to_string(s.height) + " x " + std::to_string(s.width),
        "does not fit architecture 'unet': the UNet needs images with height and width divisible by 4");
  if (s.base < 8 || s.base % 8 != 0)
    throw InputError("unet_channels", std::to_string(s.base), "the UNet needs base channels a multiple of 8");
  if (s.embedding < 8) throw std::invalid_argument("the UNet needs an embedding >= 8");
  const int64_t c = s.base, e = s.embedding, features = 32;
  auto m = std::make_shared<torch::jit::Module>("SigmaflowUNet");
  ParamMaker p(*m, seed);
  m->register_buffer("freqs", embedding_frequencies(features));
  p.linear("emb1", features, e);
  p.linear("emb2", e, e);
  p.conv("conv_in", s.channels, c, 3, 1.0);
  std::string src = std::string(kEmbed) + kBlock + R"(
def forward(self, x, sigma):
    e = torch.addmm(self.emb1_b, self._embed(sigma.to(x.dtype)), self.emb1_w.t())
    e = e * torch.sigmoid(e)
    e = torch.addmm(self.emb2_b, e, self.emb2_w.t())
    e = e * torch.sigmoid(e)
    h0 = torch.conv2d(x, self.conv_in_w, self.conv_in_b, [1, 1], [1, 1])
)";
  src += "    h1 = " + residual_block(p, "b1", c, c, e, "h0") + "\n";
  p.conv("down1", c, 2 * c, 3);
  src += "    h = torch.conv2d(h1, self.down1_w, self.down1_b, [2, 2], [1, 1])\n";
  src += "    h2 = " + residual_block(p, "b2", 2 * c, 2 * c, e, "h") + "\n";
  p.conv("down2", 2 * c, 2 * c, 3);
  src += "    h = torch.conv2d(h2, self.down2_w, self.down2_b, [2, 2], [1, 1])\n";
  src += "    h = " + residual_block(p, "mid", 2 * c, 2 * c, e, "h") + "\n";
  p.conv_transpose("up2", 2 * c, 2 * c);
  src += "    h = torch.cat([torch.conv_transpose2d(h, self.up2_w, self.up2_b, [2, 2]), h2], 1)\n";
  src += "    h = " + residual_block(p, "b3", 4 * c, 2 * c, e, "h") + "\n";
  p.conv_transpose("up1", 2 * c, c);
  src += "    h = torch.cat([torch.conv_transpose2d(h, self.up1_w, self.up1_b, [2, 2]), h1], 1)\n";
  src += "    h = " + residual_block(p, "b4", 2 * c, c, e, "h") + "\n";
  p.norm("out_n", c);
  p.conv("out", c, s.channels, 3, 0.0);
  src += R"(    h = torch.group_norm(h, 8, self.out_n_w, self.out_n_b, 1e-5)
    return torch.conv2d(h * torch.sigmoid(h), self.out_w, self.out_b, [1, 1], [1, 1])
)";
  m->define(src);
  return m;
}

}  // namespace sf::diffusion
