// PlotDensity1D: histogram densities of 1-D sample sets, drawn as lines on one plot.
#include <ATen/ATen.h>

#include <cmath>

#include "../common/outputs.h"
#include "../common/plot.h"
#include "../common/text.h"
#include "sigmaflow/node.h"

namespace sf::nodes {

NodeDef plot_density_1d_node() {
  NodeContract c = OutputNode(
      "PlotDensity1D", "image",
      "Histogram densities (PLplot, PNG and SVG) of up to four 1-D sample sets [N] or [N, 1] on one plot: modes that "
      "a sampler or a model merged or missed show as missing peaks. The range is the pooled samples' unless given.",
      {Port("samples_1", "LATENT"), Optional(Port("samples_2", "LATENT")), Optional(Port("samples_3", "LATENT")),
       Optional(Port("samples_4", "LATENT")), Tooltip(String("labels", ""), "comma-separated names of the sets"),
       Int("bins", 200, 2, 100000), Tooltip(Float("x_min", 0.0, -1e9, 1e9, 0.1), "x_min = x_max: automatic"),
       Float("x_max", 0.0, -1e9, 1e9, 0.1), String("title", "densities"), String("filename_prefix", "plots/density")});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    std::vector<at::Tensor> sets;
    std::vector<std::string> names = split_commas(in.get_string("labels"));
    for (int k = 1; k <= 4; ++k) {
      const std::string name = "samples_" + std::to_string(k);
      if (!in.has(name)) continue;
      at::Tensor x = in.get<Latent>(name)->samples().detach().to(at::kCPU, at::kDouble);
      if (x.numel() == 0 || x.numel() != x.size(0))
        throw InputError(name, c10::str(x.sizes()), "expected non-empty 1-D samples [N] or [N, 1]");
      sets.push_back(x.reshape({-1}));
    }
    double lo = in.get_float("x_min"), hi = in.get_float("x_max");
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
    const int64_t bins = in.get_int("bins");
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
    Status st = write_plot(output_file(ctx, in.get_string("filename_prefix"), ""),
                           plot_spec(in.get_string("title"), "x", "density", false, false), series, &written);
    if (!st.ok()) throw InputError("filename_prefix", "\"" + in.get_string("filename_prefix") + "\"", st.message());
    for (const auto& f : written) ctx.record_output(f);
    return Outputs{};
  });
}

}  // namespace sf::nodes
