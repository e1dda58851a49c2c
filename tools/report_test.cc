#include "tools/paired_stats.h"
#include "tools/plot.h"
#include "tools/study.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>

#include "absl/strings/str_cat.h"
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
  o.series.push_back({"a.dat", "grpo", "1:2:3", PlotStyle::kErrorLines});
  o.series.push_back({"b.dat", "", "1:($2-$3):($2+$3)", PlotStyle::kBand, 2});
  o.xtics = {{0, "grpo"}, {1, "skill_sd"}};
  o.x_min = -0.5;
  o.hlines.push_back({0.25, "before"});
  const std::string gp = GnuplotScript(o, "fig.png");
  EXPECT_THAT(gp, ::testing::HasSubstr("set title \"Solve \\\"rate\\\"\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("set xlabel \"step\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("set ylabel \"solved\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("set key"));
  EXPECT_THAT(gp, ::testing::HasSubstr("set yrange [0:*]"));
  EXPECT_THAT(gp, ::testing::HasSubstr("\"a.dat\" using 1:2:3 with yerrorlines title \"grpo\""));
  EXPECT_THAT(gp, ::testing::HasSubstr("\"b.dat\" using 1:($2-$3):($2+$3) with filledcurves"));
  EXPECT_THAT(gp, ::testing::HasSubstr("linetype 2 notitle"));
  EXPECT_THAT(gp, ::testing::HasSubstr("set xtics (\"grpo\" 0, \"skill_sd\" 1)"));
  EXPECT_THAT(gp, ::testing::HasSubstr("set xrange [-0.5:*]"));
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

TEST(StudyTest, MeansStandardErrorsAndPooledSe) {
  const MeanSe m = MeanAndSe({1, 2, 3, 6});
  EXPECT_DOUBLE_EQ(m.mean, 3);
  EXPECT_NEAR(m.se, std::sqrt(14.0 / 3 / 4), 1e-12);  // sample variance 14/3
  EXPECT_EQ(MeanAndSe({5}).se, 0);
  PairedChange a, b;
  a.mean = 0.02;
  a.stderr_ = 0.03;
  b.mean = 0.04;
  b.stderr_ = 0.04;
  const SeedSummary s = SummarizeChanges({a, b});
  EXPECT_NEAR(s.over_seeds.mean, 0.03, 1e-12);
  EXPECT_NEAR(s.over_seeds.se, 0.01, 1e-12);
  EXPECT_NEAR(s.pooled_se, 0.025, 1e-12);  // √(0.03² + 0.04²) / 2
}

// A study directory made of real files, as deploy/local/study.sh leaves it: two modes, two seeds, one run still
// going (no evaluation after). The report pairs each mode with the baseline seed by seed, per pass and per level.
TEST(StudyTest, ReportFromRunDirectories) {
  const std::string dir = ::testing::TempDir() + "/study_test";
  std::filesystem::remove_all(dir);
  auto eval = [](double a, double b) {
    return absl::StrCat("{\"sampled\": {\"episodes\": 32, \"solved\": ", (a + b) / 2,
                        ", \"invalid_rate\": 0.02, \"levels\": [{\"task\": \"t/0\", \"solved\": ", a,
                        ", \"completion\": ", a, "}, {\"task\": \"t/1\", \"solved\": ", b, ", \"completion\": ", b,
                        "}]}, \"greedy\": {\"episodes\": 2, \"solved\": 0, \"levels\": []}}");
  };
  auto run = [&](const std::string& name, double a, double b, bool finished) {
    const std::string r = dir + "/" + name;
    std::filesystem::create_directories(r);
    ASSERT_TRUE(WriteFileAtomically(r + "/eval_before.json", eval(0.1, 0.3)).ok());
    if (finished) ASSERT_TRUE(WriteFileAtomically(r + "/eval_after.json", eval(a, b)).ok());
    ASSERT_TRUE(
        WriteFileAtomically(r + "/config.yaml", "env:\n  train_levels: 4\nalgorithm:\n  tasks_per_step: 2\n").ok());
    ASSERT_TRUE(WriteFileAtomically(r + "/metrics.csv",
                                    "step,forward_backward_s,groups,train_solve_rate,skill_turns,workflow_applies\n"
                                    "1,2.5,v0/t0,0.25,0,\n2,2.5,v1/t0,0.5,0,\n3,2.5,v2/t0,0.75,10,0.4\n")
                    .ok());
    ASSERT_TRUE(WriteFileAtomically(r + "/times.tsv", "phase\tseconds\ntrain\t100\n").ok());
  };
  run("grpo-s1", 0.2, 0.4, true);
  run("grpo-s2", 0.1, 0.5, true);
  run("skill_sd-s1", 0.4, 0.4, true);
  run("skill_sd-s2", 0, 0, false);
  ASSERT_TRUE(WriteStudyReport(dir, {"grpo", "skill_sd"}, {1, 2}).ok());
  std::optional<StudyRun> r = ReadStudyRun(dir, "grpo", 2);
  ASSERT_TRUE(r.has_value());
  EXPECT_NEAR(r->solved.mean, 0.1, 1e-12);  // (0.0 + 0.2) / 2
  EXPECT_EQ(r->steps_per_pass, 2);
  EXPECT_EQ(r->train_solve_rate.at(0), 0.25);  // step 1 trained on version 0
  EXPECT_NEAR(r->mechanism.at("workflow_applies"), 0.4, 1e-12);
  EXPECT_NEAR(r->mechanism.at("skill_turns"), 10.0 / 3, 1e-12);
  EXPECT_DOUBLE_EQ(r->seconds.at("learner"), 7.5);
  EXPECT_FALSE(ReadStudyRun(dir, "skill_sd", 2).has_value());
  absl::StatusOr<std::string> md = ReadFile(dir + "/study.md");
  ASSERT_TRUE(md.ok());
  // grpo: +10.0 (seed 1: (0.1 + 0.1) / 2) and +10.0 (seed 2); skill_sd seed 1: +20.0; against grpo seed 1: +10.0.
  EXPECT_THAT(*md, ::testing::HasSubstr("| grpo | 2 | +10.0 ± 0.0 |"));
  EXPECT_THAT(*md, ::testing::HasSubstr("| skill_sd | 1 | +20.0 ± 0.0 |"));
  EXPECT_THAT(*md, ::testing::HasSubstr("## Against grpo"));
  EXPECT_THAT(*md, ::testing::HasSubstr("| skill_sd | 1 | +10.0 ± 0.0 (0.0) |"));
  EXPECT_THAT(*md, ::testing::HasSubstr("| pass 1 | pass 2 |"));
  EXPECT_THAT(*md, ::testing::HasSubstr("| grpo | 37.5% | 75.0% |"));
  EXPECT_THAT(*md, ::testing::HasSubstr(" – |"));  // skill_sd's unfinished seed
  for (const char* figure : {"/learning_curves.png", "/test_change.png"}) {
    absl::StatusOr<std::string> png = ReadFile(dir + figure);
    ASSERT_TRUE(png.ok()) << figure;
    EXPECT_EQ(png->substr(1, 3), "PNG");
  }
  absl::StatusOr<std::string> gp = ReadFile(dir + "/learning_curves.gp");
  ASSERT_TRUE(gp.ok());
  EXPECT_THAT(*gp, ::testing::HasSubstr("filledcurves"));
  EXPECT_THAT(*gp, ::testing::HasSubstr("title \"grpo (2 seeds)\""));
  EXPECT_FALSE(WriteStudyReport(dir, {}, {1}).ok());
}

}  // namespace
}  // namespace skillsd
