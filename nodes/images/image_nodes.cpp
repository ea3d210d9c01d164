// LatentToImage, SaveImage and PlotSamples2D.
#include <ATen/ATen.h>

#include <cmath>

#include "../common/outputs.h"
#include "../common/plot.h"
#include "../common/text.h"
#include "png_writer.h"
#include "sigmaflow/files.h"
#include "sigmaflow/node.h"
#include "sigmaflow/ports.h"

namespace sf::nodes {

namespace {

// Declared once: each is the contract's entry and the typed reader in execute (sigmaflow/ports.h).
const In<Latent> kLatentSamples{Port("samples", "LATENT")};
const In<Latent> kPlotSamples{Port("samples", "LATENT")};
const In<Latent> kPlotReference{Optional(Port("reference", "LATENT"))};
const In<std::string> kPlotFilenamePrefix{String("filename_prefix", "plots/samples")};
const In<std::string> kPlotTitle{String("title", "samples")};

}  // namespace

namespace {
// [B, ...] in [-1, 1] -> IMAGE [B, H, W, C] in [0, 1] (ComfyUI's layout): [B, C, H, W] with C = 1
// or 3, [B, H, W], or flat [B, d] with d a perfect square.
at::Tensor to_image(const at::Tensor& latent, const std::string& input) {
  at::Tensor x = latent.detach().to(at::kCPU, at::kFloat);
  if (x.dim() == 2) {
    auto side = static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(x.size(1)))));
    if (side * side != x.size(1))
      throw InputError(input, c10::str(x.sizes()), "flat samples must have a square number of values to form images");
    x = x.reshape({x.size(0), 1, side, side});
  } else if (x.dim() == 3) {
    x = x.unsqueeze(1);
  } else if (x.dim() != 4 || (x.size(1) != 1 && x.size(1) != 3)) {
    throw InputError(input, c10::str(x.sizes()), "expected [B, C, H, W] with C = 1 or 3, [B, H, W] or [B, H*W]");
  }
  return ((x + 1) / 2).clamp(0, 1).permute({0, 2, 3, 1}).contiguous();
}
// The batch [B, H, W, C] (bytes) as one grid image with 2-px white gutters; `cols` <= 0: about square.
at::Tensor image_grid(const at::Tensor& bytes, int64_t cols) {
  const int64_t B = bytes.size(0), H = bytes.size(1), W = bytes.size(2), C = bytes.size(3);
  if (cols <= 0) cols = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(B))));
  int64_t rows = (B + cols - 1) / cols, pad = 2;
  at::Tensor grid = at::full({rows * H + (rows + 1) * pad, cols * W + (cols + 1) * pad, C}, 255, at::kByte);
  for (int64_t b = 0; b < B; ++b) {
    int64_t y = pad + (b / cols) * (H + pad), x = pad + (b % cols) * (W + pad);
    grid.slice(0, y, y + H).slice(1, x, x + W).copy_(bytes[b]);
  }
  return grid.contiguous();
}

}  // namespace

NodeDef latent_to_image_node() {
  NodeContract c = Node("LatentToImage", "image",
                        "Maps samples in [-1, 1] to an IMAGE batch [B, H, W, C] in [0, 1] (ComfyUI's layout).",
                        {kLatentSamples}, {{"IMAGE", "IMAGE"}});
  return make_node(c, [](Context&, const Inputs& in) {
    return Outputs{Value("IMAGE", to_image(kLatentSamples(in)->samples(), kLatentSamples.name()))};
  });
}

NodeDef save_image_node() {
  NodeContract c =
      OutputNode("SaveImage", "image",
                 "Writes PNG files (libpng), atomically: one grid of the whole batch (grid on) or one file per image. "
                 "Accepts an IMAGE, or a LATENT in [-1, 1] directly.",
                 {Port("images", "IMAGE,LATENT"), String("filename_prefix", "images/sample"), Bool("grid", true),
                  Tooltip(Int("columns", 0, 0, 1024), "grid columns (0 = about square)")});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    const Value& v = in.get("images");
    at::Tensor img =
        v.is_tensor() ? v.tensor().to(at::kCPU, at::kFloat) : to_image(in.get<Latent>("images")->samples(), "images");
    if (img.dim() != 4 || img.size(0) == 0)
      throw InputError("images", c10::str(img.sizes()), "expected a non-empty IMAGE batch [B, H, W, C]");
    const int64_t B = img.size(0), H = img.size(1), W = img.size(2), C = img.size(3);
    if (C != 1 && C != 3) throw InputError("images", c10::str(img.sizes()), "images need 1 or 3 channels");
    at::Tensor bytes = (img.clamp(0, 1) * 255).round().to(at::kByte).contiguous();
    const std::string& prefix = in.get_string("filename_prefix");
    auto write = [&](const at::Tensor& pix, int64_t w, int64_t h, const std::string& path) {
      std::vector<uint8_t> data(pix.data_ptr<uint8_t>(), pix.data_ptr<uint8_t>() + pix.numel());
      auto png = encode_png(data, static_cast<int>(w), static_cast<int>(h), static_cast<int>(C));
      if (!png.ok()) throw InputError("images", c10::str(img.sizes()), png.status().message());
      Status st = write_file_atomic(path, png.value());
      if (!st.ok()) throw InputError("filename_prefix", "\"" + prefix + "\"", st.message(), st.code());
      ctx.record_output(path);
    };
    if (in.get_bool("grid")) {
      at::Tensor grid = image_grid(bytes, in.get_int("columns"));
      write(grid, grid.size(1), grid.size(0), output_file(ctx, prefix, ".png"));
    } else {
      for (int64_t b = 0; b < B; ++b) {
        char suffix[32];
        std::snprintf(suffix, sizeof suffix, "_%05lld.png", static_cast<long long>(b));
        write(bytes[b].contiguous(), W, H, output_file(ctx, prefix, suffix));
      }
    }
    return Outputs{};
  });
}

NodeDef plot_samples_2d_node() {
  NodeContract c = OutputNode("PlotSamples2D", "image",
                              "Scatter plot (PLplot, PNG and SVG) of 2-D samples, optionally over reference samples.",
                              {kPlotSamples, kPlotReference, kPlotFilenamePrefix, kPlotTitle});
  return make_node(c, [](Context& ctx, const Inputs& in) {
    auto points = [](const at::Tensor& t, const std::string& input, const std::string& label) {
      at::Tensor x = t.detach().to(at::kCPU, at::kDouble);
      if (x.dim() != 2 || x.size(1) != 2 || x.size(0) == 0)
        throw InputError(input, c10::str(x.sizes()), "expected non-empty 2-D samples [N, 2]");
      x = x.contiguous();
      auto a = x.accessor<double, 2>();
      Series s{label, {}, {}, true};
      for (int64_t i = 0; i < x.size(0); ++i) {
        s.x.push_back(a[i][0]);
        s.y.push_back(a[i][1]);
      }
      return s;
    };
    std::vector<Series> series;
    if (kPlotReference.given(in))
      series.push_back(points(kPlotReference(in)->samples(), kPlotReference.name(), "reference"));
    series.push_back(points(kPlotSamples(in)->samples(), kPlotSamples.name(), "samples"));
    std::vector<std::string> written;
    PlotSpec spec = plot_spec(kPlotTitle(in), "x1", "x2", false, false);
    spec.width = spec.height = 800;
    spec.equal_aspect = true;  // round blobs must look round
    const std::string& prefix = kPlotFilenamePrefix(in);
    Status st = write_plot(output_file(ctx, prefix, ""), spec, series, &written);
    if (!st.ok()) throw InputError(kPlotFilenamePrefix.name(), "\"" + prefix + "\"", st.message());
    for (const auto& f : written) ctx.record_output(f);
    return Outputs{};
  });
}

}  // namespace sf::nodes
