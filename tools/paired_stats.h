// Paired comparisons of two evaluations of the same levels (skillsd report; the statistics, apart from drawing).
#ifndef SKILLSD_TOOLS_PAIRED_STATS_H_
#define SKILLSD_TOOLS_PAIRED_STATS_H_

#include <string>
#include <utility>
#include <vector>

namespace skillsd {

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

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_PAIRED_STATS_H_
