#include "plot.h"

#include <plplot/plstream.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <limits>

#include "sigmaflow/files.h"

namespace sf::nodes {

namespace {

// White background, black axes, then a qualitative palette; last, the light grey of bands.
const PLINT kR[] = {255, 0, 31, 255, 44, 214, 148, 140, 227, 127, 188, 23, 225};
const PLINT kG[] = {255, 0, 119, 127, 160, 39, 103, 86, 119, 127, 189, 190, 225};
const PLINT kB[] = {255, 0, 180, 14, 44, 40, 189, 75, 194, 127, 34, 207, 225};
constexpr int kColors = 12;  // background, axes and series colours
constexpr int kBandColor = kColors;
// One marker glyph per series (the same glyph is drawn in the plot and in the legend).
const char* const kMarkers[] = {"●", "■", "▲", "◆", "▼", "★", "○", "□", "△", "◇"};
constexpr int kMarkerCount = 10;

struct Frame {
  double x0, x1, y0, y1;  // the window, in plot coordinates (log10 on log axes)
};

double to_axis(double v, bool log) { return log ? std::log10(v) : v; }
bool plottable(double x, double y, const PlotSpec& spec) {
  return std::isfinite(x) && std::isfinite(y) && (!spec.log_x || x > 0) && (!spec.log_y || y > 0);
}

Result<Frame> frame_of(const PlotSpec& spec, const std::vector<Series>& series) {
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const auto& s : series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!plottable(s.x[i], s.y[i], spec)) continue;
      x0 = std::min(x0, to_axis(s.x[i], spec.log_x));
      x1 = std::max(x1, to_axis(s.x[i], spec.log_x));
      y0 = std::min(y0, to_axis(s.y[i], spec.log_y));
      y1 = std::max(y1, to_axis(s.y[i], spec.log_y));
      // Error bars and bands stay inside the window.
      for (const auto* bound : {&s.y_lo, &s.y_hi})
        if (i < bound->size() && plottable(s.x[i], (*bound)[i], spec)) {
          y0 = std::min(y0, to_axis((*bound)[i], spec.log_y));
          y1 = std::max(y1, to_axis((*bound)[i], spec.log_y));
        }
    }
  if (!std::isfinite(x0) || !std::isfinite(y0)) return InvalidArgument("nothing to plot for '" + spec.title + "'");
  if (x1 - x0 < 1e-12) x0 -= 0.5, x1 += 0.5;
  if (y1 - y0 < 1e-12) y0 -= 0.5, y1 += 0.5;
  double px = 0.05 * (x1 - x0), py = 0.08 * (y1 - y0);
  return Frame{x0 - px, x1 + px, y0 - py, y1 + py};
}

std::string tick_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, std::fabs(v) >= 1e5 || (std::fabs(v) < 1e-3 && v != 0) ? "%.0e" : "%g", v);
  return buf;
}

// Values to label on a log axis spanning [lo, hi] (log10): 1-2-5 per decade, thinned to at most
// about 8 labels.
std::vector<double> log_ticks(double lo, double hi) {
  std::vector<double> out;
  for (int e = static_cast<int>(std::floor(lo)); e <= static_cast<int>(std::ceil(hi)); ++e)
    for (double m : {1.0, 2.0, 5.0}) {
      double v = m * std::pow(10.0, e);
      if (std::log10(v) >= lo && std::log10(v) <= hi) out.push_back(v);
    }
  if (out.size() > 8) {
    std::vector<double> decades;
    for (double v : out)
      if (std::fabs(std::log10(v) - std::round(std::log10(v))) < 1e-9) decades.push_back(v);
    if (decades.size() >= 2) out = decades;
  }
  return out;
}

// Ticks and labels at `values` on both edges of a log axis, in the window `f`.
void label_axis(plstream& pls, const std::vector<double>& values, bool x_axis, const Frame& f) {
  const double lo = x_axis ? f.x0 : f.y0, hi = x_axis ? f.x1 : f.y1;
  const double tick_x = 0.015 * (f.x1 - f.x0), tick_y = 0.015 * (f.y1 - f.y0);
  for (double v : values) {
    double a = std::log10(v), pos = (a - lo) / (hi - lo);
    if (pos < 0 || pos > 1) continue;
    std::string text = tick_text(v);
    if (x_axis) {
      pls.join(a, f.y0, a, f.y0 + tick_y);
      pls.join(a, f.y1, a, f.y1 - tick_y);
      pls.mtex("b", 1.6, pos, 0.5, text.c_str());
    } else {
      pls.join(f.x0, a, f.x0 + tick_x, a);
      pls.join(f.x1, a, f.x1 - tick_x, a);
      pls.mtex("lv", 0.6, pos, 1.0, text.c_str());
    }
  }
}

void draw_axes(plstream& pls, const PlotSpec& spec, const Frame& f) {
  pls.col0(1);
  pls.wind(f.x0, f.x1, f.y0, f.y1);
  // Linear axes tick and label themselves; log axes get ticks and labels at chosen values (PLplot
  // would label only the decades).
  pls.box(spec.log_x ? "bc" : "bcnst", 0, 0, spec.log_y ? "bc" : "bcnstv", 0, 0);
  if (spec.log_x) label_axis(pls, spec.x_ticks.empty() ? log_ticks(f.x0, f.x1) : spec.x_ticks, true, f);
  size_t widest = 5;  // PLplot's own labels of a linear axis: about five characters
  if (spec.log_y) {
    auto ticks = log_ticks(f.y0, f.y1);
    label_axis(pls, ticks, false, f);
    for (double v : ticks) widest = std::max(widest, tick_text(v).size());
  }
  pls.lab(spec.x_label.c_str(), "", spec.title.c_str());
  // The y label clears the widest tick label.
  pls.mtex("l", 1.2 + 0.8 * static_cast<double>(widest), 0.5, 0.5, spec.y_label.c_str());
}

// Lines of up to 60 points carry a marker at every point; longer lines are plain (the legend
// follows the same rule).
bool has_markers(const Series& s) { return !s.band && (s.points || std::min(s.x.size(), s.y.size()) <= 60); }

// The shaded interval of a band series (light grey, under the data) across the window's x range.
void draw_band(plstream& pls, const PlotSpec& spec, const Series& s, const Frame& f) {
  if (s.y.empty() || s.y_lo.empty() || s.y_hi.empty()) return;
  const double lo = s.y_lo.front(), hi = s.y_hi.front();
  if (!plottable(1.0, hi, spec) || !std::isfinite(lo)) return;
  // A lower bound of 0 on a log axis: the band reaches the bottom of the window.
  const double bottom = plottable(1.0, lo, spec) ? to_axis(lo, spec.log_y) : f.y0;
  PLFLT xs[] = {f.x0, f.x1, f.x1, f.x0}, ys[] = {bottom, bottom, to_axis(hi, spec.log_y), to_axis(hi, spec.log_y)};
  pls.col0(kBandColor);
  pls.fill(4, xs, ys);
}

void draw_series(plstream& pls, const PlotSpec& spec, const Series& s, size_t k, const Frame& f) {
  std::vector<PLFLT> xs, ys, lo, hi, ex;
  for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
    if (!plottable(s.x[i], s.y[i], spec)) continue;
    xs.push_back(to_axis(s.x[i], spec.log_x));
    ys.push_back(to_axis(s.y[i], spec.log_y));
    if (i < s.y_lo.size() && i < s.y_hi.size() && plottable(s.x[i], s.y_lo[i], spec) &&
        plottable(s.x[i], s.y_hi[i], spec)) {
      ex.push_back(xs.back());
      lo.push_back(to_axis(s.y_lo[i], spec.log_y));
      hi.push_back(to_axis(s.y_hi[i], spec.log_y));
    }
  }
  if (xs.empty()) return;
  pls.col0(2 + static_cast<PLINT>(k % (kColors - 2)));
  pls.width(2.0);
  if (s.band) {  // the level across the window, dashed
    PLFLT lx[] = {f.x0, f.x1}, ly[] = {ys.front(), ys.front()};
    pls.lsty(2);
    pls.line(2, lx, ly);
    pls.lsty(1);
    return;
  }
  if (!ex.empty()) {
    pls.width(1.2);
    pls.erry(static_cast<PLINT>(ex.size()), ex.data(), lo.data(), hi.data());
    pls.width(2.0);
  }
  if (!s.points) pls.line(static_cast<PLINT>(xs.size()), xs.data(), ys.data());
  // Large clouds get small markers so the density shows; short series, full-size ones.
  pls.schr(0, xs.size() > 500 ? 0.35 : 0.9);
  if (has_markers(s)) pls.string(static_cast<PLINT>(xs.size()), xs.data(), ys.data(), kMarkers[k % kMarkerCount]);
  pls.schr(0, 0.85);
}

// The place for the legend (a corner, or the middle of an edge) whose area holds the fewest data
// points: where it hides the least.
PLINT emptiest_place(const PlotSpec& spec, const std::vector<Series>& series, const Frame& f) {
  struct Place {
    PLINT position;
    double u0, u1, v0, v1;  // the area it covers, as fractions of the window
  };
  const Place places[] = {{PL_POSITION_TOP | PL_POSITION_RIGHT, 0.6, 1, 0.65, 1},
                          {PL_POSITION_TOP | PL_POSITION_LEFT, 0, 0.4, 0.65, 1},
                          {PL_POSITION_BOTTOM | PL_POSITION_LEFT, 0, 0.4, 0, 0.35},
                          {PL_POSITION_BOTTOM | PL_POSITION_RIGHT, 0.6, 1, 0, 0.35},
                          {PL_POSITION_TOP, 0.3, 0.7, 0.65, 1},
                          {PL_POSITION_BOTTOM, 0.3, 0.7, 0, 0.35},
                          {PL_POSITION_LEFT, 0, 0.4, 0.33, 0.67},
                          {PL_POSITION_RIGHT, 0.6, 1, 0.33, 0.67}};
  size_t best = 0, best_count = SIZE_MAX;
  for (size_t p = 0; p < std::size(places); ++p) {
    size_t count = 0;
    for (const auto& s : series)
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!plottable(s.x[i], s.y[i], spec)) continue;
        double u = (to_axis(s.x[i], spec.log_x) - f.x0) / (f.x1 - f.x0);
        double v = (to_axis(s.y[i], spec.log_y) - f.y0) / (f.y1 - f.y0);
        count += u >= places[p].u0 && u <= places[p].u1 && v >= places[p].v0 && v <= places[p].v1;
      }
    if (count < best_count) best = p, best_count = count;
  }
  return places[best].position;
}

void draw_legend(plstream& pls, const std::vector<Series>& series, PLINT corner) {
  const auto n = static_cast<PLINT>(series.size());
  std::vector<PLINT> opt(series.size()), colors(series.size()), styles(series.size(), 1), text_colors(series.size(), 1);
  std::vector<PLINT> symbol_numbers(series.size(), 1);
  std::vector<PLFLT> widths(series.size(), 2.0), scales(series.size(), 0.9);
  std::vector<const char*> texts(series.size()), symbols(series.size());
  for (size_t k = 0; k < series.size(); ++k) {
    opt[k] = (series[k].points ? 0 : PL_LEGEND_LINE) | (has_markers(series[k]) ? PL_LEGEND_SYMBOL : 0);
    if (series[k].band) styles[k] = 2;  // dashed, as drawn
    colors[k] = 2 + static_cast<PLINT>(k % (kColors - 2));
    texts[k] = series[k].label.c_str();
    symbols[k] = kMarkers[k % kMarkerCount];
  }
  PLFLT w, h;
  pls.col0(1);
  pls.legend(&w, &h, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, corner | PL_POSITION_INSIDE, 0.02, 0.02, 0.06, 0, 1,
             1, 0, 0, n, opt.data(), 1.0, 0.75, 1.8, 0.0, text_colors.data(), texts.data(), nullptr, nullptr, nullptr,
             nullptr, colors.data(), styles.data(), widths.data(), colors.data(), scales.data(), symbol_numbers.data(),
             symbols.data());
}

Status draw(const std::string& device, const std::string& file, const PlotSpec& spec,
            const std::vector<Series>& series) {
  auto f = frame_of(spec, series);
  if (!f.ok()) return f.status();
  plstream pls;  // plend in the destructor: the file is complete when this scope ends
  pls.sdev(device.c_str());
  pls.sfnam(file.c_str());
  pls.scmap0(kR, kG, kB, kColors + 1);
  pls.spage(0, 0, spec.width, spec.height, 0, 0);
  pls.init();
  pls.schr(0, 0.85);
  pls.adv(0);
  if (spec.equal_aspect)
    pls.vpas(0.14, 0.95, 0.12, 0.9, (f->y1 - f->y0) / (f->x1 - f->x0));
  else
    pls.vpor(0.14, 0.95, 0.12, 0.9);
  pls.wind(f->x0, f->x1, f->y0, f->y1);  // bands go under the axes and the data
  for (const auto& s : series)
    if (s.band) draw_band(pls, spec, s, *f);
  draw_axes(pls, spec, *f);
  for (size_t k = 0; k < series.size(); ++k) draw_series(pls, spec, series[k], k, *f);
  if (series.size() > 1) draw_legend(pls, series, emptiest_place(spec, series, *f));
  return Status::Ok();
}

}  // namespace

// PLplot reports no write error: on a full disk (or a file-size limit) it leaves a short file and
// returns normally. A plot counts as written only when its bytes end as the format requires.
bool complete_plot(const std::string& bytes, const std::string& ext) {
  if (ext == ".png") {
    static const std::string iend("\0\0\0\0IEND\xAE\x42\x60\x82", 12);
    return bytes.size() > 8 + iend.size() && bytes.compare(0, 4, "\x89PNG") == 0 &&
           bytes.compare(bytes.size() - iend.size(), iend.size(), iend) == 0;
  }
  const size_t end = bytes.find_last_not_of(" \t\r\n");
  return end != std::string::npos && end >= 5 && bytes.compare(end - 5, 6, "</svg>") == 0;
}

Status write_plot(const std::string& base, const PlotSpec& spec, const std::vector<Series>& series,
                  std::vector<std::string>* written) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path target(base);
  if (target.has_parent_path()) fs::create_directories(target.parent_path(), ec);
  if (ec) return IoError("cannot create folder for '" + base + "': " + ec.message());
  for (auto [device, ext] : {std::pair{"pngcairo", ".png"}, std::pair{"svg", ".svg"}}) {
    const std::string final_path = base + ext;
    // Drawn beside the output under a name remove_stale_temp_files recognises, read back and
    // checked, then written atomically (fsync'ed, write errors reported).
    const std::string drawn = (target.has_parent_path() ? target.parent_path().string() + "/" : std::string()) + "." +
                              target.filename().string() + ext + ".tmp." + std::to_string(::getpid()) + ".plot";
    Status st = draw(device, drawn, spec, series);
    Result<std::string> bytes = st.ok() ? read_file_bounded(drawn, kMaxGraphFileBytes) : Result<std::string>(st);
    fs::remove(drawn, ec);
    if (!bytes.ok()) return bytes.status();
    if (!complete_plot(*bytes, ext))
      return IoError("cannot write '" + final_path + "': the plot came out incomplete (" +
                     std::to_string(bytes->size()) + " bytes; is the disk full?)");
    st = write_file_atomic(final_path, *bytes);
    if (!st.ok()) return st;
    if (written) written->push_back(final_path);
  }
  return Status::Ok();
}

}  // namespace sf::nodes
