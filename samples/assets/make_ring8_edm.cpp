// Writes samples/assets/ring8_edm.pt: a TorchScript network with EDM preconditioning (sigma_data
// 0.5, time ln(sigma)/4) whose output makes D(x, sigma) the exact denoiser of a ring of 8 Gaussian
// modes (radius 1, std 0.05). It stands in for a trained network in the TorchScript sample, without
// Python or downloads. Build target: make_sample_assets; run: build/bin/make_ring8_edm OUT.pt
#include <torch/script.h>

#include <cmath>
#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  std::string mu = "[";
  for (int k = 0; k < 8; ++k) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s[%.17e, %.17e]", k ? ", " : "", std::cos(2 * M_PI * k / 8),
                  std::sin(2 * M_PI * k / 8));
    mu += buf;
  }
  mu += "]";
  torch::jit::Module m("Ring8EDM");
  m.define(R"(
def forward(self, x, t):
    SD = 0.5
    v = 0.0025
    s = torch.exp(4.0 * t).view(-1, 1)
    xv = x * torch.sqrt(s * s + SD * SD)
    mu = torch.tensor()" +
           mu + R"(, dtype=x.dtype, device=x.device)
    tot = v + s * s
    diff = xv.unsqueeze(1) - mu.unsqueeze(0)
    r = torch.softmax(-0.5 * (diff * diff).sum(2) / tot, dim=1)
    post = mu.unsqueeze(0) + (v / tot).unsqueeze(2) * diff
    D = (r.unsqueeze(2) * post).sum(1)
    return (D - xv * SD * SD / (s * s + SD * SD)) * torch.sqrt(s * s + SD * SD) / (s * SD)
)");
  m.save(argc > 1 ? argv[1] : "ring8_edm.pt");
  return 0;
}
