#include "tools/study.h"

#include <algorithm>
#include <cmath>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "core/config.h"
#include "core/file_util.h"
#include "core/status.h"
#include "tools/plot.h"
#include "tools/run_files.h"

ABSL_FLAG(std::string, dir, "", "study: the study directory (runs/STUDY).");
ABSL_FLAG(std::string, modes, "", "study: the modes, comma-separated; the first is the baseline.");
ABSL_FLAG(std::string, seeds, "1,2,3", "study: the seeds, comma-separated.");

namespace skillsd {
namespace {

// metrics.csv's skill diagnostics (learner/step_report.h), in the report's order.
constexpr const char* kMechanism[] = {"skill_turns",
                                      "workflow_applies",
                                      "teacher_gap_on",
                                      "teacher_gap_off",
                                      "teacher_optimal_on",
                                      "student_optimal_on",
                                      "teacher_optimal_off",
                                      "student_optimal_off",
                                      "teacher_follows_workflow",
                                      "student_follows_workflow"};

// Percentage points with an SE.
std::string Pp(double mean, double se) { return absl::StrFormat("%+.1f ± %.1f", 100 * mean, 100 * se); }
std::string Pct(double v) { return absl::StrFormat("%.1f%%", 100 * v); }

// A mechanism figure as a percentage (rates) or a signed number (log-prob gaps); "–" when not measured.
std::string Rate(const std::map<std::string, double>& m, const char* key, bool percent) {
  auto it = m.find(key);
  if (it == m.end() || !std::isfinite(it->second)) return "–";
  return percent ? Pct(it->second) : absl::StrFormat("%+.3f", it->second);
}

}  // namespace

MeanSe MeanAndSe(const std::vector<double>& values) {
  MeanSe out;
  out.n = static_cast<int>(values.size());
  if (values.empty()) return out;
  for (double v : values) out.mean += v;
  out.mean /= out.n;
  if (out.n < 2) return out;
  double ss = 0;
  for (double v : values) ss += (v - out.mean) * (v - out.mean);
  out.se = std::sqrt(ss / (out.n - 1) / out.n);
  return out;
}

SeedSummary SummarizeChanges(const std::vector<PairedChange>& changes) {
  SeedSummary out;
  std::vector<double> means;
  double var = 0;
  for (const PairedChange& c : changes) {
    means.push_back(c.mean);
    var += c.stderr_ * c.stderr_;
  }
  out.over_seeds = MeanAndSe(means);
  if (!changes.empty()) out.pooled_se = std::sqrt(var) / static_cast<double>(changes.size());
  return out;
}

std::optional<StudyRun> ReadStudyRun(const std::string& dir, const std::string& mode, int seed) {
  const std::string run = absl::StrCat(dir, "/", mode, "-s", seed);
  const EvalResult before = ReadEval(run + "/eval_before.json", "sampled");
  const EvalResult after = ReadEval(run + "/eval_after.json", "sampled");
  if (!before.ok || !after.ok) return std::nullopt;
  StudyRun r;
  r.mode = mode;
  r.seed = seed;
  r.before_solved = before.solved;
  r.after_solved = after.solved;
  r.solved = ComparePaired(before.level_solved, after.level_solved);
  r.completion = ComparePaired(before.level_completion, after.level_completion);
  r.greedy = ComparePaired(ReadEval(run + "/eval_before.json", "greedy").level_solved,
                           ReadEval(run + "/eval_after.json", "greedy").level_solved);
  r.after_level_solved = after.level_solved;
  r.after_level_completion = after.level_completion;
  r.invalid_rate_after = after.invalid_rate;
  const CsvTable learner = ReadCsv(run + "/metrics.csv");
  const CsvTable actor = ReadCsv(run + "/actor.csv");
  // Training solve rate per policy version: the learner's, over the groups each step trained on (a step's row is
  // the version it made, so its groups played the version before), or the actor's per assignment in older runs.
  const int step = learner.Column("step"), rate = learner.Column("train_solve_rate");
  if (rate >= 0) {
    for (size_t i = 0; i < learner.rows.size(); ++i) {
      if (std::isfinite(learner.At(i, rate))) {
        r.train_solve_rate[static_cast<int64_t>(learner.At(i, step)) - 1] = learner.At(i, rate);
      }
    }
  } else {
    const int version = actor.Column("policy_version"), solve = actor.Column("solve_rate");
    std::map<int64_t, std::pair<double, int>> sums;
    for (size_t i = 0; i < actor.rows.size(); ++i) {
      if (!std::isfinite(actor.At(i, solve))) continue;
      auto& [s, n] = sums[static_cast<int64_t>(actor.At(i, version))];
      s += actor.At(i, solve);
      ++n;
    }
    for (const auto& [v, sn] : sums) r.train_solve_rate[v] = sn.first / sn.second;
  }
  for (const char* name : kMechanism) {
    const int c = learner.Column(name);
    std::vector<double> values;
    for (size_t i = 0; i < learner.rows.size(); ++i) {
      const double v = learner.At(i, c);
      if (std::isfinite(v)) values.push_back(v);
    }
    if (!values.empty()) r.mechanism[name] = MeanAndSe(values).mean;
  }
  absl::StatusOr<ExperimentConfig> config = LoadConfig(run + "/config.yaml");
  if (config.ok() && config->algorithm.tasks_per_step > 0) {
    r.steps_per_pass =
        (config->env.train_levels + config->algorithm.tasks_per_step - 1) / config->algorithm.tasks_per_step;
  }
  r.seconds = ReadTimes(run + "/times.tsv");
  r.seconds["rollout"] = actor.Sum("rollout_s");
  r.seconds["teacher"] = actor.Sum("teacher_s");
  r.seconds["learner"] = learner.Sum("forward_backward_s") + learner.Sum("optimizer_s");
  return r;
}

absl::Status WriteStudyReport(const std::string& dir, const std::vector<std::string>& modes,
                              const std::vector<int>& seeds) {
  if (modes.empty()) return absl::InvalidArgumentError("study: no modes");
  std::map<std::string, std::vector<StudyRun>> runs;  // by mode, in seed order
  std::string grid = "| mode |";
  for (int s : seeds) absl::StrAppend(&grid, " seed ", s, " |");
  absl::StrAppend(&grid, "\n|---|");
  for (size_t i = 0; i < seeds.size(); ++i) absl::StrAppend(&grid, "---|");
  absl::StrAppend(&grid, "\n");
  for (const std::string& mode : modes) {
    absl::StrAppend(&grid, "| ", mode, " |");
    for (int seed : seeds) {
      std::optional<StudyRun> run = ReadStudyRun(dir, mode, seed);
      if (run) {
        absl::StrAppend(&grid, " ", Pct(run->before_solved), " → ", Pct(run->after_solved), ": ",
                        Pp(run->solved.mean, run->solved.stderr_), " |");
        runs[mode].push_back(std::move(*run));
      } else {
        absl::StrAppend(&grid, " – |");
      }
    }
    absl::StrAppend(&grid, "\n");
  }
  int levels = 0;
  for (const auto& [mode, rs] : runs) {
    for (const StudyRun& r : rs) levels = std::max(levels, r.solved.levels);
  }
  const absl::StatusOr<std::string> about = ReadFile(dir + "/study.txt");
  std::string md = absl::StrCat("# Study: ", dir.substr(dir.find_last_of('/') + 1), "\n\n");
  if (about.ok()) {
    for (absl::string_view line : absl::StrSplit(*about, '\n', absl::SkipEmpty())) {
      absl::StrAppend(&md, "- ", line, "\n");
    }
    absl::StrAppend(&md, "\n");
  }
  absl::StrAppend(&md,
                  "Every run trains from the same warm start; a seed's runs share their evaluation before training. "
                  "Changes are in percentage points on the test levels (",
                  levels,
                  " in these evaluations; sampled unless marked), "
                  "paired level by level. **± over seeds** is the standard error of the mean of the runs' changes "
                  "(training and evaluation noise; few degrees of freedom); **pooled paired SE** is √(Σ SEₛ²)/n "
                  "of the runs' own paired SEs (the evaluation's noise alone).\n\n",
                  "## Runs (sampled test solved: before → after: change ± paired SE)\n\n", grid, "\n");

  // The test change per mode.
  absl::StrAppend(&md,
                  "## Test levels: change from the warm start\n\n| mode | seeds | solved: mean ± SE over seeds | "
                  "pooled paired SE | completion: mean ± SE over seeds | pooled | greedy solved | invalid answers "
                  "per turn after |\n|---|---|---|---|---|---|---|---|\n");
  std::string change_data = "# index solved_mean solved_se completion_mean completion_se (percentage points)\n";
  for (size_t m = 0; m < modes.size(); ++m) {
    const std::vector<StudyRun>& rs = runs[modes[m]];
    std::vector<PairedChange> solved, completion, greedy;
    std::vector<double> invalid;
    for (const StudyRun& r : rs) {
      solved.push_back(r.solved);
      completion.push_back(r.completion);
      greedy.push_back(r.greedy);
      invalid.push_back(r.invalid_rate_after);
    }
    const SeedSummary s = SummarizeChanges(solved), c = SummarizeChanges(completion), g = SummarizeChanges(greedy);
    if (rs.empty()) {
      absl::StrAppend(&md, "| ", modes[m], " | 0 | – | – | – | – | – | – |\n");
      continue;
    }
    absl::StrAppend(&md, "| ", modes[m], " | ", rs.size(), " | ", Pp(s.over_seeds.mean, s.over_seeds.se), " | ",
                    absl::StrFormat("%.1f", 100 * s.pooled_se), " | ", Pp(c.over_seeds.mean, c.over_seeds.se), " | ",
                    absl::StrFormat("%.1f", 100 * c.pooled_se), " | ", Pp(g.over_seeds.mean, g.over_seeds.se), " | ",
                    Pct(MeanAndSe(invalid).mean), " |\n");
    absl::StrAppend(&change_data, m, " ", 100 * s.over_seeds.mean, " ", 100 * s.over_seeds.se, " ",
                    100 * c.over_seeds.mean, " ", 100 * c.over_seeds.se, "\n");
  }

  // Each mode against the baseline, seed by seed: both start from the same warm start and the same evaluation
  // before, so after − after, level by level, is their difference.
  const std::string& base = modes.front();
  absl::StrAppend(&md, "\n## Against ", base,
                  " (after − after, the same seed, level by level)\n\n| mode | seeds | solved: mean ± SE over seeds "
                  "(SE units) | pooled paired SE | completion: mean ± SE over seeds |\n|---|---|---|---|---|\n");
  for (size_t m = 1; m < modes.size(); ++m) {
    std::vector<PairedChange> solved, completion;
    for (const StudyRun& r : runs[modes[m]]) {
      for (const StudyRun& b : runs[base]) {
        if (b.seed != r.seed) continue;
        solved.push_back(ComparePaired(b.after_level_solved, r.after_level_solved));
        completion.push_back(ComparePaired(b.after_level_completion, r.after_level_completion));
      }
    }
    if (solved.empty()) {
      absl::StrAppend(&md, "| ", modes[m], " | 0 | – | – | – |\n");
      continue;
    }
    const SeedSummary s = SummarizeChanges(solved), c = SummarizeChanges(completion);
    const double units = s.over_seeds.se > 0 ? s.over_seeds.mean / s.over_seeds.se : 0;
    absl::StrAppend(&md, "| ", modes[m], " | ", solved.size(), " | ", Pp(s.over_seeds.mean, s.over_seeds.se),
                    absl::StrFormat(" (%.1f)", units), " | ", absl::StrFormat("%.1f", 100 * s.pooled_se), " | ",
                    Pp(c.over_seeds.mean, c.over_seeds.se), " |\n");
  }

  // Training levels, per pass over them (a task comes back with its skill from the second pass on).
  int passes = 0, per_pass = 0;
  for (const auto& [mode, rs] : runs) {
    for (const StudyRun& r : rs) {
      if (r.steps_per_pass <= 0 || r.train_solve_rate.empty()) continue;
      per_pass = r.steps_per_pass;
      passes = std::max(passes, static_cast<int>((r.train_solve_rate.rbegin()->first + per_pass) / per_pass));
    }
  }
  absl::StrAppend(&md, "\n## Training levels: solve rate per pass (mean over seeds",
                  per_pass > 0 ? absl::StrCat("; steps per pass: ", per_pass) : "", ")\n\n| mode |");
  for (int p = 0; p < passes; ++p) absl::StrAppend(&md, " pass ", p + 1, " |");
  absl::StrAppend(&md, "\n|---|");
  for (int p = 0; p < passes; ++p) absl::StrAppend(&md, "---|");
  absl::StrAppend(&md, "\n");
  for (const std::string& mode : modes) {
    absl::StrAppend(&md, "| ", mode, " |");
    for (int p = 0; p < passes; ++p) {
      std::vector<double> per_seed;
      for (const StudyRun& r : runs[mode]) {
        std::vector<double> rates;
        for (const auto& [v, rate] : r.train_solve_rate) {
          if (r.steps_per_pass > 0 && v / r.steps_per_pass == p) rates.push_back(rate);
        }
        if (!rates.empty()) per_seed.push_back(MeanAndSe(rates).mean);
      }
      absl::StrAppend(&md, " ", per_seed.empty() ? "–" : Pct(MeanAndSe(per_seed).mean), " |");
    }
    absl::StrAppend(&md, "\n");
  }

  // The mechanism.
  absl::StrAppend(
      &md,
      "\n## The mechanism, on the turns with a skill (mean over the steps that measured, then over seeds)\n\n"
      "On / off: the skill's workflow still applies at the turn (the moves so far follow it, moves are "
      "left) / the episode has left it. Gap: mean teacher − student log-prob of the sampled tokens "
      "(nats per token). Optimal: the share of turns whose top-ranked first move (teacher's, "
      "student's) is one of the solver's optimal moves from that state. Follows: on the workflow, the share whose "
      "top move is the one the workflow says to make next (does the model read the skill at all).\n\n"
      "| mode | skill turns per step | workflow applies | gap on | gap off | teacher optimal on | "
      "student optimal on | teacher optimal off | student optimal off | teacher follows | student follows |\n"
      "|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const std::string& mode : modes) {
    std::map<std::string, double> mean;
    for (const char* key : kMechanism) {
      std::vector<double> v;
      for (const StudyRun& r : runs[mode]) {
        auto it = r.mechanism.find(key);
        if (it != r.mechanism.end()) v.push_back(it->second);
      }
      if (!v.empty()) mean[key] = MeanAndSe(v).mean;
    }
    absl::StrAppend(&md, "| ", mode, " | ",
                    mean.count("skill_turns") ? absl::StrFormat("%.0f", mean["skill_turns"]) : "–", " | ",
                    Rate(mean, "workflow_applies", true), " | ", Rate(mean, "teacher_gap_on", false), " | ",
                    Rate(mean, "teacher_gap_off", false), " | ", Rate(mean, "teacher_optimal_on", true), " | ",
                    Rate(mean, "student_optimal_on", true), " | ", Rate(mean, "teacher_optimal_off", true), " | ",
                    Rate(mean, "student_optimal_off", true), " | ", Rate(mean, "teacher_follows_workflow", true), " | ",
                    Rate(mean, "student_follows_workflow", true), " |\n");
  }

  // Time.
  absl::StrAppend(&md,
                  "\n## Wall time per run (mean over seeds, seconds)\n\n| mode | training | rollout | teacher "
                  "scoring | learner update | evaluation before | evaluation after |\n|---|---|---|---|---|---|---|\n");
  for (const std::string& mode : modes) {
    auto mean = [&](const char* key) {
      std::vector<double> v;
      for (const StudyRun& r : runs[mode]) {
        auto it = r.seconds.find(key);
        if (it != r.seconds.end()) v.push_back(it->second);
      }
      return v.empty() ? std::string("–") : absl::StrFormat("%.0f", MeanAndSe(v).mean);
    };
    absl::StrAppend(&md, "| ", mode, " | ", mean("train"), " | ", mean("rollout"), " | ", mean("teacher"), " | ",
                    mean("learner"), " | ", mean("eval_before"), " | ", mean("eval_after"), " |\n");
  }
  absl::StrAppend(&md,
                  "\n(Evaluation before is 0 where the study evaluated the seed's warm start once and copied it in.)\n",
                  "\n## Figures\n\n![learning curves](learning_curves.png)\n\n![test change](test_change.png)\n");

  // The figures' data: per mode, the training solve rate per version over seeds (mean, SE).
  PlotOptions curves;
  curves.title = "Training solve rate per step, mean over seeds (shaded: ± 1 SE)";
  curves.xlabel = "policy version (learner steps)";
  curves.ylabel = "solved fraction of training episodes";
  curves.y_min = 0;
  for (size_t m = 0; m < modes.size(); ++m) {
    std::map<int64_t, std::vector<double>> by_version;
    for (const StudyRun& r : runs[modes[m]]) {
      for (const auto& [v, rate] : r.train_solve_rate) by_version[v].push_back(rate);
    }
    if (by_version.empty()) continue;
    std::string data = "# version mean se\n";
    for (const auto& [v, values] : by_version) {
      const MeanSe ms = MeanAndSe(values);
      absl::StrAppend(&data, v, " ", ms.mean, " ", ms.se, "\n");
    }
    const std::string file = absl::StrCat("curve_", modes[m], ".dat");
    RETURN_IF_ERROR(WriteFileAtomically(dir + "/" + file, data));
    const int color = static_cast<int>(m) + 1;
    curves.series.push_back({file, "", "1:($2-$3):($2+$3)", PlotStyle::kBand, color});
    curves.series.push_back(
        {file, absl::StrCat(modes[m], " (", runs[modes[m]].size(), " seeds)"), "1:2", PlotStyle::kLinesPoints, color});
  }
  PlotOptions change;
  change.title = "Test change from the warm start, mean over seeds (bars: ± 1 SE over seeds)";
  change.xlabel = "training mode";
  change.ylabel = "change, percentage points";
  change.x_min = -0.5;
  change.x_max = static_cast<double>(modes.size()) - 0.5;
  for (size_t m = 0; m < modes.size(); ++m) change.xtics.push_back({static_cast<double>(m), modes[m]});
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/test_change.dat", change_data));
  change.series.push_back({"test_change.dat", "sampled solved", "($1-0.08):2:3", PlotStyle::kErrorBars, 1});
  change.series.push_back({"test_change.dat", "sampled completion", "($1+0.08):4:5", PlotStyle::kErrorBars, 2});
  change.hlines.push_back({0, "no change"});
  RETURN_IF_ERROR(WriteFileAtomically(dir + "/study.md", md));
  RETURN_IF_ERROR(DrawPng(curves, dir, "learning_curves.png"));
  return DrawPng(change, dir, "test_change.png");
}

int StudyCommand() {
  const std::string dir = absl::GetFlag(FLAGS_dir);
  const std::vector<std::string> modes = absl::StrSplit(absl::GetFlag(FLAGS_modes), ',', absl::SkipEmpty());
  std::vector<int> seeds;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_seeds), ',', absl::SkipEmpty())) {
    int seed;
    if (!absl::SimpleAtoi(s, &seed)) {
      std::cerr << "skillsd study: --seeds takes numbers, got '" << s << "'\n";
      return 2;
    }
    seeds.push_back(seed);
  }
  if (dir.empty() || modes.empty() || seeds.empty()) {
    std::cerr << "skillsd study: --dir, --modes and --seeds are required\n";
    return 2;
  }
  const absl::Status written = WriteStudyReport(dir, modes, seeds);
  if (!written.ok()) {
    std::cerr << "skillsd study: " << written << "\n";
    return 1;
  }
  absl::StatusOr<std::string> md = ReadFile(dir + "/study.md");
  if (md.ok()) std::cout << *md;
  std::cout << "\nreport: " << dir << "/study.md\n";
  return 0;
}

}  // namespace skillsd
