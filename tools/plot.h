// Figures through gnuplot (Debian's gnuplot-nox, installed by deploy/install_deps.sh): a figure is a gnuplot script
// written beside its data, run in that folder, so each figure can be redrawn or restyled by hand
// (`gnuplot learning_curve.gp`). Every figure has a title, labelled axes and a legend.
#ifndef SKILLSD_TOOLS_PLOT_H_
#define SKILLSD_TOOLS_PLOT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace skillsd {

enum class PlotStyle {
  kLinesPoints,  // columns "x:y"
  kErrorLines,   // "x:y:err": lines through points with error bars
  kErrorBars,    // "x:y:err": points with error bars, no line
  kBand,         // "x:low:high": a shaded band (a standard-error region)
};

struct PlotSeries {
  std::string data_file;  // relative to the figure's folder; whitespace-separated columns, '#' comments
  std::string title;      // its legend entry; empty = none (a band drawn under its own line)
  std::string columns;    // gnuplot `using`, as the style needs
  PlotStyle style = PlotStyle::kLinesPoints;
  int color = 0;  // 0 = gnuplot's next; k > 0 = line type k, so a band and its line match
};

struct PlotLine {
  double y = 0;
  std::string title;
};

struct PlotOptions {
  std::string title, xlabel, ylabel;
  std::optional<double> x_min, x_max, y_min, y_max;
  std::vector<std::pair<double, std::string>> xtics;  // categorical x: a label at each position
  std::vector<PlotSeries> series;
  std::vector<PlotLine> hlines;  // horizontal reference lines, each in the legend
  int width = 800, height = 420;
};

// The gnuplot script that draws `options` as PNG into `png_file`.
std::string GnuplotScript(const PlotOptions& options, const std::string& png_file);

// Writes <png_file without .png>.gp into `dir` and runs gnuplot there. FAILED_PRECONDITION naming the package
// when gnuplot is not installed; INTERNAL with gnuplot's message when it fails.
absl::Status DrawPng(const PlotOptions& options, const std::string& dir, const std::string& png_file);

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_PLOT_H_
