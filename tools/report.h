// skillsd report: turns a run directory (metrics.csv, actor.csv, eval_before.json, eval_after.json) into
// report.md (before/after table with standard errors, time per phase) and learning_curve.png.
#ifndef SKILLSD_TOOLS_REPORT_H_
#define SKILLSD_TOOLS_REPORT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace skillsd {

// A minimal RGB canvas that writes PNG (zlib-compressed, no text).
class Canvas {
 public:
  Canvas(int width, int height);
  void Line(int x0, int y0, int x1, int y1, uint32_t rgb, int thickness = 1);
  void Rect(int x0, int y0, int x1, int y1, uint32_t rgb);  // filled
  std::string Png() const;
  int width() const { return width_; }
  int height() const { return height_; }
  uint32_t Pixel(int x, int y) const;

 private:
  void Set(int x, int y, uint32_t rgb);
  int width_, height_;
  std::vector<uint8_t> rgb_;
};

// The change between two evaluations of the same levels, level by level: for each level present in both, d = after −
// before (a per-level mean); `mean` is the mean of d and `stderr` its standard error (sample standard deviation of d /
// sqrt(levels)), the paired comparison. Levels present in only one evaluation are left out and counted.
struct PairedChange {
  int levels = 0;
  double mean = 0, stderr_ = 0;
  int improved = 0, worsened = 0;
  int unmatched = 0;
};
PairedChange ComparePaired(const std::vector<std::pair<std::string, double>>& before,
                           const std::vector<std::pair<std::string, double>>& after);

int ReportCommand();

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_REPORT_H_
