#include "tools/report.h"

#include <algorithm>
#include <cmath>
#include <iostream>
#include <map>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/file_util.h"
#include "core/json.h"
#include "tools/paired_stats.h"
#include "tools/plot.h"
#include "tools/run_files.h"

ABSL_FLAG(std::string, run_dir, "", "report: the run directory (runs/NAME).");
ABSL_FLAG(int64_t, setup_seconds, -1, "report: wall time of set-up and warm start, for the report.");
ABSL_FLAG(int64_t, train_seconds, -1, "report: wall time of training, for the report.");

namespace skillsd {

namespace {

std::string Points(const PairedChange& c) {
  return absl::StrFormat("%+.1f ± %.1f (%.1f SE)", 100 * c.mean, 100 * c.stderr_,
                         c.stderr_ > 0 ? c.mean / c.stderr_ : 0.0);
}

std::string Pct(double v, double se) { return absl::StrFormat("%.1f%% ± %.1f", 100 * v, 100 * se); }

}  // namespace

int ReportCommand() {
  const std::string dir = absl::GetFlag(FLAGS_run_dir);
  if (dir.empty()) {
    std::cerr << "skillsd report: --run_dir is required\n";
    return 2;
  }
  const CsvTable learner = ReadCsv(dir + "/metrics.csv");
  const CsvTable actor = ReadCsv(dir + "/actor.csv");
  std::string md = absl::StrCat("# Run report: ", dir, "\n\n");
  // Before / after.
  absl::StrAppend(&md, "## Test accuracy (64 test levels, plain prompt, no skills)\n\n",
                  "| evaluation | before: solved | after: solved | before: completion | after: completion |\n",
                  "|---|---|---|---|---|\n");
  // Alongside each row, the change level by level: the same levels before and after, so the paired difference is the
  // sharper test (its table follows the note below).
  std::string paired;
  for (const char* which : {"greedy", "sampled"}) {
    const EvalResult before = ReadEval(dir + "/eval_before.json", which),
                     after = ReadEval(dir + "/eval_after.json", which);
    absl::StrAppend(&md, "| ", which, " (", before.episodes, " episodes) | ", Pct(before.solved, before.solved_se),
                    " | ", after.ok ? Pct(after.solved, after.solved_se) : "–", " | ",
                    Pct(before.completion, before.completion_se), " | ",
                    after.ok ? Pct(after.completion, after.completion_se) : "–", " |\n");
    const PairedChange solved = ComparePaired(before.level_solved, after.level_solved);
    const PairedChange completion = ComparePaired(before.level_completion, after.level_completion);
    if (!after.ok || solved.levels < 2) continue;
    absl::StrAppend(&paired, "| ", which, " | ", Points(solved), " | ", solved.improved, " / ", solved.worsened, " | ",
                    Points(completion), " |\n");
  }
  absl::StrAppend(&md,
                  "\n± is the standard error of the mean over episodes. Greedy is one episode per level; "
                  "sampled plays each level actor.eval_episodes_per_level times at the rollout temperature.\n\n");
  if (!paired.empty()) {
    absl::StrAppend(&md, "### Change, level by level (after − before, percentage points)\n\n",
                    "| evaluation | solved | levels better / worse (solved) | completion |\n|---|---|---|---|\n",
                    paired,
                    "\n± is the standard error of the mean per-level difference (paired over the test levels: "
                    "sample standard deviation of the differences / √levels); (… SE) is the change in those "
                    "units.\n\n");
  }
  // Time per phase.
  absl::StrAppend(&md, "## Time\n\n| phase | seconds |\n|---|---|\n");
  if (absl::GetFlag(FLAGS_setup_seconds) >= 0) {
    absl::StrAppend(&md, "| set-up and warm start (SFT) | ", absl::GetFlag(FLAGS_setup_seconds), " |\n");
  }
  if (absl::GetFlag(FLAGS_train_seconds) >= 0) {
    absl::StrAppend(&md, "| training, wall | ", absl::GetFlag(FLAGS_train_seconds), " |\n");
  }
  const std::pair<const char*, double> phases[] = {
      {"rollout (actor)", actor.Sum("rollout_s")},
      {"teacher scoring (actor's wait)", actor.Sum("teacher_s")},
      {"skill service calls (actor)", actor.Sum("skill_s")},
      {"submitting groups (actor)", actor.Sum("submit_s")},
      {"learner update: forward/backward", learner.Sum("forward_backward_s")},
      {"learner update: optimizer", learner.Sum("optimizer_s")},
      {"weight publishing (learner)", learner.Sum("publish_s")},
      {"checkpoints (learner)", learner.Sum("checkpoint_s")},
  };
  for (const auto& [name, s] : phases) absl::StrAppend(&md, "| ", name, " | ", absl::StrFormat("%.1f", s), " |\n");
  // Learning curve: training solve rate per policy version (actor), and the learner's loss.
  const int version_col = actor.Column("policy_version"), solve_col = actor.Column("solve_rate");
  std::map<int64_t, std::pair<double, int>> by_version;
  for (const auto& row : actor.rows) {
    if (version_col < 0 || solve_col < 0 || row.size() <= static_cast<size_t>(std::max(version_col, solve_col))) {
      continue;
    }
    auto& [s, n] = by_version[static_cast<int64_t>(row[version_col])];
    s += row[solve_col];
    ++n;
  }
  absl::StrAppend(&md, "\n## Learning curve\n\n![training solve rate](learning_curve.png)\n\n",
                  "The solved fraction of the training episodes at each policy version, and the sampled test "
                  "accuracy before and after training (drawn by gnuplot from learning_curve.dat).\n\n",
                  "| policy version | training solve rate |\n|---|---|\n");
  std::string data = "# policy_version training_solve_rate\n";
  for (const auto& [v, sn] : by_version) {
    const double rate = sn.first / sn.second;
    absl::StrAppend(&md, "| ", v, " | ", absl::StrFormat("%.3f", rate), " |\n");
    absl::StrAppend(&data, v, " ", absl::StrFormat("%.6f", rate), "\n");
  }
  const EvalResult before = ReadEval(dir + "/eval_before.json", "sampled"),
                   after = ReadEval(dir + "/eval_after.json", "sampled");
  absl::StrAppend(&md,
                  "\nLearner per-step figures (loss terms, KL, clip fraction, ρ, grad norm, tokens/s, phase times) "
                  "are in metrics.csv; per-assignment actor figures in actor.csv.\n");
  absl::Status written = WriteFileAtomically(dir + "/report.md", md);
  if (written.ok()) written = WriteFileAtomically(dir + "/learning_curve.dat", data);
  if (!written.ok()) {
    std::cerr << "skillsd report: " << written << "\n";
    return 1;
  }
  std::cout << md;
  // The figure: labelled axes, legend and title, by gnuplot (deploy/install_deps.sh installs gnuplot-nox).
  PlotOptions plot;
  plot.title = absl::StrCat("Training solve rate, ", dir.substr(dir.find_last_of('/') + 1));
  plot.xlabel = "policy version (learner steps)";
  plot.ylabel = "solved fraction";
  plot.y_min = 0;
  plot.y_max = 1;
  plot.series.push_back({"learning_curve.dat", "training episodes (actor)", /*columns=*/"1:2"});
  if (before.ok) plot.hlines.push_back({before.solved, "test, sampled: before"});
  if (after.ok) plot.hlines.push_back({after.solved, "test, sampled: after"});
  const absl::Status drawn = DrawPng(plot, dir, "learning_curve.png");
  if (!drawn.ok()) {
    std::cerr << "skillsd report: learning_curve.png not drawn: " << drawn << "\n";
    return 1;
  }
  return 0;
}

}  // namespace skillsd
