// PlotDensity1D: histogram densities of 1-D sample sets, drawn as lines on one plot.
#include <ATen/ATen.h>

#include <cmath>

#include "../common/outputs.h"
#include "../common/plot.h"
#include "../common/text.h"
#include "sigmaflow/node.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Latent> kSamples1{Port("samples_1", "LATENT")};
const In<Latent> kSamples2{Optional(Port("samples_2", "LATENT"))};
const In<Latent> kSamples3{Optional(Port("samples_3", "LATENT"))};
const In<Latent> kSamples4{Optional(Port("samples_4", "LATENT"))};
const In<Latent>* const kSampleSets[] = {&kSamples1, &kSamples2, &kSamples3, &kSamples4};
const In<std::string> kLabels{Tooltip(String("labels", ""), "comma-separated names of the sets")};
const In<int64_t> kBins{Int("bins", 200, 2, 100000)};
const In<double> kXMin{Tooltip(Float("x_min", 0.0, -1e9, 1e9, 0.1), "x_min = x_max: automatic")};
const In<double> kXMax{Float("x_max", 0.0, -1e9, 1e9, 0.1)};
const In<std::string> kTitle{String("title", "densities")};
const In<std::string> kFilenamePrefix{String("filename_prefix", "plots/density")};

}  // namespace

NodeDef plot_density_1d_node() {
  NodeContract c = OutputNode(
      "PlotDensity1D", "image",
      "Histogram densities (PLplot, PNG and SVG) of up to four 1-D sample sets [N] or [N, 1] on one plot: modes that "
      "a sampler or a model merged or missed show as missing peaks. The range is the pooled samples' unless given.",
      {kSamples1, kSamples2, kSamples3, kSamples4, kLabels, kBins, kXMin, kXMax, kTitle, kFilenamePrefix});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    std::vector<at::Tensor> sets;
    std::vector<std::string> names = split_commas(kLabels(in));
    for (const In<Latent>* set : kSampleSets) {
      if (!set->given(in)) continue;
      at::Tensor x = (*set)(in)->samples().detach().to(at::kCPU, at::kDouble);
      if (x.numel() == 0 || x.numel() != x.size(0))
        throw InputError(set->name(), c10::str(x.sizes()), "expected non-empty 1-D samples [N] or [N, 1]");
      sets.push_back(x.reshape({-1}));
    }
    double lo = kXMin(in), hi = kXMax(in);
    if (!(lo < hi)) {
      lo = INFINITY;
      hi = -INFINITY;
      for (const auto& x : sets) {
        lo = std::min(lo, x.min().item<double>());
        hi = std::max(hi, x.max().item<double>());
      }
      const double pad = 0.02 * (hi - lo + 1e-12);
      lo -= pad;
      hi += pad;
    }
    const int64_t bins = kBins(in);
    const double width = (hi - lo) / static_cast<double>(bins);
    std::vector<Series> series;
    for (size_t k = 0; k < sets.size(); ++k) {
      at::Tensor h = at::histc(sets[k], bins, lo, hi) / (static_cast<double>(sets[k].numel()) * width);
      Series s{k < names.size() && !names[k].empty() ? names[k] : "samples_" + std::to_string(k + 1), {}, {}};
      for (int64_t b = 0; b < bins; ++b) {
        s.x.push_back(lo + (static_cast<double>(b) + 0.5) * width);
        s.y.push_back(h[b].item<double>());
      }
      series.push_back(std::move(s));
    }
    std::vector<std::string> written;
    const std::string& prefix = kFilenamePrefix(in);
    Status st =
        write_plot(output_file(ctx, prefix, ""), plot_spec(kTitle(in), "x", "density", false, false), series, &written);
    if (!st.ok()) throw InputError(kFilenamePrefix.name(), "\"" + prefix + "\"", st.message());
    for (const auto& f : written) ctx.record_output(f);
    return Outputs{};
  });
}

}  // namespace sf::nodes
