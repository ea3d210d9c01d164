// Plots for reports and sample views, drawn with PLplot (cairo driver) on a white background.
// Every plot is written as both PNG and SVG, each atomically (temporary file, then rename).
#pragma once

#include <string>
#include <vector>

#include "sigmaflow/status.h"

namespace sf::nodes {

struct Series {
  std::string label;
  std::vector<double> x, y;
  bool points = false;  // markers instead of a line
};

struct PlotSpec {
  std::string title, x_label, y_label;
  bool log_x = false, log_y = false;
  int width = 900, height = 650;  // pixels (PNG)
};

// Writes <path_base>.png and <path_base>.svg. Returns the written paths in `written`.
Status write_plot(const std::string& path_base, const PlotSpec& spec, const std::vector<Series>& series,
                  std::vector<std::string>* written);

}  // namespace sf::nodes
