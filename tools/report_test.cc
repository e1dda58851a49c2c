#include "tools/canvas.h"
#include "tools/paired_stats.h"

#include <cmath>

#include "gtest/gtest.h"

namespace skillsd {
namespace {

TEST(ComparePairedTest, MatchesTheClosedFormAndPairsByTask) {
  // Three shared levels with differences +0.5, 0, +0.25; "c" only before, "d" only after; order does not matter.
  const std::vector<std::pair<std::string, double>> before = {{"a", 0.0}, {"b", 0.5}, {"c", 1.0}, {"e", 0.25}};
  const std::vector<std::pair<std::string, double>> after = {{"e", 0.5}, {"b", 0.5}, {"a", 0.5}, {"d", 0.0}};
  const PairedChange c = ComparePaired(before, after);
  EXPECT_EQ(c.levels, 3);
  EXPECT_EQ(c.unmatched, 2);
  EXPECT_EQ(c.improved, 2);
  EXPECT_EQ(c.worsened, 0);
  EXPECT_DOUBLE_EQ(c.mean, 0.25);
  // Sample variance of {0.5, 0, 0.25} around 0.25: (0.0625 + 0.0625 + 0) / 2 = 0.0625; SE = sqrt(0.0625 / 3).
  EXPECT_DOUBLE_EQ(c.stderr_, std::sqrt(0.0625 / 3));
}

TEST(ComparePairedTest, IdenticalEvaluationsShowNoChangeAndEmptyInputsNothing) {
  const std::vector<std::pair<std::string, double>> levels = {{"a", 0.25}, {"b", 1.0}};
  const PairedChange same = ComparePaired(levels, levels);
  EXPECT_EQ(same.levels, 2);
  EXPECT_EQ(same.mean, 0);
  EXPECT_EQ(same.stderr_, 0);
  EXPECT_EQ(same.improved + same.worsened, 0);
  const PairedChange none = ComparePaired({}, levels);
  EXPECT_EQ(none.levels, 0);
  EXPECT_EQ(none.unmatched, 2);
}

}  // namespace
}  // namespace skillsd
