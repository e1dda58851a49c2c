#include "tools/paired_stats.h"
#include "tools/plot.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "core/file_util.h"
#include "gmock/gmock.h"

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

TEST(PlotTest, ScriptHasTitleAxesLegendAndEverySeries) {
  PlotOptions o;
  o.title = "Solve \"rate\"";
  o.xlabel = "step";
  o.ylabel = "solved";
  o.y_min = 0;
  o.series.push_back({"a.dat", "grpo", "1:2:3", /*error_bars=*/true});
  o.hlines.push_back({0.25, "before"});
  const std::string gp = GnuplotScript(o, "fig.png");
  EXPECT_THAT(gp, ::testing::HasSubstr("set title \"Solve \\\"rate\\\"\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("set xlabel \"step\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("set ylabel \"solved\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("set key"));
  EXPECT_THAT(gp, ::testing::HasSubstr("set yrange [0:*]"));
  EXPECT_THAT(gp, ::testing::HasSubstr("\"a.dat\" using 1:2:3 with yerrorlines title \"grpo\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("0.250000 with lines linewidth 2 title \"before\""));
}

// gnuplot is a test dependency (deploy/install_deps.sh): the figure is really drawn.
TEST(PlotTest, DrawsAPng) {
  const std::string dir = ::testing::TempDir() + "/plot_test";
  std::filesystem::create_directories(dir);
  ASSERT_TRUE(WriteFileAtomically(dir + "/c.dat", "# x y\n0 0.1\n1 0.3\n2 0.2\n").ok());
  PlotOptions o;
  o.title = "t";
  o.xlabel = "x";
  o.ylabel = "y";
  o.series.push_back({"c.dat", "curve", "1:2"});
  ASSERT_TRUE(DrawPng(o, dir, "c.png").ok());
  absl::StatusOr<std::string> png = ReadFile(dir + "/c.png");
  ASSERT_TRUE(png.ok());
  ASSERT_GT(png->size(), 8u);
  EXPECT_EQ(png->substr(1, 3), "PNG");
  o.series[0].data_file = "missing.dat";
  EXPECT_FALSE(DrawPng(o, dir, "d.png").ok());  // gnuplot's own error comes back
}

}  // namespace
}  // namespace skillsd
