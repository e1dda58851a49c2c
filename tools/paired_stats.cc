#include "tools/paired_stats.h"

#include <cmath>
#include <map>

namespace skillsd {

PairedChange ComparePaired(const std::vector<std::pair<std::string, double>>& before,
                           const std::vector<std::pair<std::string, double>>& after) {
  PairedChange c;
  std::map<std::string, double> by_task(before.begin(), before.end());
  std::vector<double> d;
  for (const auto& [task, value] : after) {
    auto it = by_task.find(task);
    if (it == by_task.end()) {
      ++c.unmatched;
      continue;
    }
    d.push_back(value - it->second);
    by_task.erase(it);
  }
  c.unmatched += static_cast<int>(by_task.size());
  c.levels = static_cast<int>(d.size());
  if (d.empty()) return c;
  for (double x : d) {
    c.mean += x;
    c.improved += x > 0;
    c.worsened += x < 0;
  }
  c.mean /= c.levels;
  if (c.levels > 1) {
    double var = 0;
    for (double x : d) var += (x - c.mean) * (x - c.mean);
    c.stderr_ = std::sqrt(var / (c.levels - 1) / c.levels);
  }
  return c;
}

}  // namespace skillsd
