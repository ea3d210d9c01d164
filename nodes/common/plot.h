// Plots for reports and sample views, drawn with PLplot (cairo driver) on a white background:
// labelled axes (log axes get a label at every plotted value or at 1-2-5 steps, not only at
// decades), series drawn with distinct markers that the legend shows too, the legend inside the
// picture. Every plot is written as both PNG and SVG, each atomically (temporary file, then rename).
#pragma once

#include <string>
#include <vector>

#include "sigmaflow/status.h"

namespace sf::nodes {

struct Series {
  Series() = default;
  Series(std::string label_, std::vector<double> x_ = {}, std::vector<double> y_ = {}, bool points_ = false)
      : label(std::move(label_)), x(std::move(x_)), y(std::move(y_)), points(points_) {}
  std::string label;
  std::vector<double> x, y;
  bool points = false;  // markers only (a scatter), instead of a line with markers
  // Error bars (an interval per point: y_lo[i] .. y_hi[i]); empty: none.
  std::vector<double> y_lo, y_hi;
  // A reference level rather than data: y_lo .. y_hi shaded across the x range and y dashed
  // (e.g. a noise floor and its interval).
  bool band = false;
};

struct PlotSpec {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  int width = 900, height = 650;  // pixels (PNG)
  bool equal_aspect = false;      // one unit is as long on both axes (scatter plots of 2-D samples)
  // Values to label on the x axis (e.g. the NFE of the plotted runs); empty: automatic.
  std::vector<double> x_ticks;
};

// A spec with the usual fields set.
inline PlotSpec plot_spec(std::string title, std::string x_label, std::string y_label, bool log_x, bool log_y) {
  PlotSpec s;
  s.title = std::move(title);
  s.x_label = std::move(x_label);
  s.y_label = std::move(y_label);
  s.log_x = log_x;
  s.log_y = log_y;
  return s;
}

// Writes <path_base>.png and <path_base>.svg. Returns the written paths in `written`. An
// InvalidArgument status means there was nothing to plot.
Status write_plot(const std::string& path_base, const PlotSpec& spec, const std::vector<Series>& series,
                  std::vector<std::string>* written);

}  // namespace sf::nodes
