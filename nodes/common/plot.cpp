#include "plot.h"

#include <plplot/plstream.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <limits>

namespace sf::nodes {

namespace {

// White background, black axes, then a qualitative palette.
const PLINT kR[] = {255, 0, 31, 255, 44, 214, 148, 140, 227, 127, 188, 23};
const PLINT kG[] = {255, 0, 119, 127, 160, 39, 103, 86, 119, 127, 189, 190};
const PLINT kB[] = {255, 0, 180, 14, 44, 40, 189, 75, 194, 127, 34, 207};
constexpr int kColors = 12;

Status draw(const std::string& device, const std::string& file, const PlotSpec& spec, const std::vector<Series>& series) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  auto tx = [&](double v) { return spec.log_x ? std::log10(v) : v; };
  auto ty = [&](double v) { return spec.log_y ? std::log10(v) : v; };
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if ((spec.log_x && !(s.x[i] > 0)) || (spec.log_y && !(s.y[i] > 0)) || !std::isfinite(s.x[i]) || !std::isfinite(s.y[i]))
        continue;
      x0 = std::min(x0, tx(s.x[i]));
      x1 = std::max(x1, tx(s.x[i]));
      y0 = std::min(y0, ty(s.y[i]));
      y1 = std::max(y1, ty(s.y[i]));
    }
  if (!std::isfinite(x0) || !std::isfinite(y0)) return InvalidArgument("nothing to plot for '" + spec.title + "'");
  if (x1 - x0 < 1e-12) { x0 -= 0.5; x1 += 0.5; }
  if (y1 - y0 < 1e-12) { y0 -= 0.5; y1 += 0.5; }
  double px = 0.04 * (x1 - x0), py = 0.06 * (y1 - y0);
  {
    plstream pls;
    pls.sdev(device.c_str());
    pls.sfnam(file.c_str());
    pls.scmap0(kR, kG, kB, kColors);
    pls.spage(0, 0, spec.width, spec.height, 0, 0);
    pls.init();
    pls.col0(1);
    pls.schr(0, 0.85);
    pls.adv(0);
    // Leave the right third for the legend.
    pls.vpor(0.1, series.size() > 1 ? 0.66 : 0.95, 0.12, 0.9);
    pls.wind(x0 - px, x1 + px, y0 - py, y1 + py);
    pls.box(spec.log_x ? "bcnstl" : "bcnst", 0, 0, spec.log_y ? "bcnstvl" : "bcnstv", 0, 0);
    pls.lab(spec.x_label.c_str(), spec.y_label.c_str(), spec.title.c_str());
    std::vector<PLINT> opt, line_colors, line_styles, symbol_colors, symbol_numbers, text_colors;
    std::vector<PLFLT> line_widths, symbol_scales;
    std::vector<const char*> texts, symbols;
    for (size_t k = 0; k < series.size(); ++k) {
      const Series& s = series[k];
      std::vector<PLFLT> xs, ys;
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if ((spec.log_x && !(s.x[i] > 0)) || (spec.log_y && !(s.y[i] > 0))) continue;
        xs.push_back(tx(s.x[i]));
        ys.push_back(ty(s.y[i]));
      }
      PLINT color = 2 + static_cast<PLINT>(k % (kColors - 2));
      pls.col0(color);
      pls.width(2.0);
      if (s.points) {
        // Large clouds as dots, short lists (schedule steps) as visible circles.
        pls.ssym(0, xs.size() > 200 ? 0.6 : 1.6);
        pls.poin(static_cast<PLINT>(xs.size()), xs.data(), ys.data(), xs.size() > 200 ? 1 : 4);
        pls.ssym(0, 1.0);
      } else if (!xs.empty()) {
        pls.line(static_cast<PLINT>(xs.size()), xs.data(), ys.data());
        if (xs.size() <= 60) pls.poin(static_cast<PLINT>(xs.size()), xs.data(), ys.data(), 17);
      }
      opt.push_back(s.points ? PL_LEGEND_SYMBOL : PL_LEGEND_LINE);
      line_colors.push_back(color);
      line_styles.push_back(1);
      line_widths.push_back(2.0);
      symbol_colors.push_back(color);
      symbol_scales.push_back(1.0);
      symbol_numbers.push_back(3);
      text_colors.push_back(1);
      texts.push_back(s.label.c_str());
      symbols.push_back("#(728)");
    }
    if (series.size() > 1) {
      PLFLT w, h;
      pls.col0(1);
      pls.legend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX,
                 PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.03, 0.0,
                 0.08, 0, 1, 1, 0, 0, static_cast<PLINT>(series.size()), opt.data(), 1.0, 0.8, 2.0, 0.0,
                 text_colors.data(), texts.data(), nullptr, nullptr, nullptr, nullptr, line_colors.data(),
                 line_styles.data(), line_widths.data(), symbol_colors.data(), symbol_scales.data(),
                 symbol_numbers.data(), symbols.data());
    }
  }  // plend: the file is complete here
  return Status::Ok();
}

}  // namespace

Status write_plot(const std::string& base, const PlotSpec& spec, const std::vector<Series>& series,
                  std::vector<std::string>* written) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(base);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) return IoError("cannot create folder for '" + base + "': " + ec.message());
  for (auto [device, ext] : {std::pair{"pngcairo", ".png"}, std::pair{"svg", ".svg"}}) {
    std::string final_path = base + ext;
    std::string tmp = base + ".tmp." + std::to_string(::getpid()) + ext;
    Status st = draw(device, tmp, spec, series);
    if (!st.ok()) {
      fs::remove(tmp, ec);
      return st;
    }
    if (!fs::exists(tmp)) return IoError("the plotting library wrote nothing to '" + tmp + "'");
    fs::rename(tmp, final_path, ec);
    if (ec) {
      fs::remove(tmp, ec);
      return IoError("cannot write '" + final_path + "': " + ec.message());
    }
    if (written) written->push_back(final_path);
  }
  return Status::Ok();
}

}  // namespace sf::nodes
