// skillsd study: one report over the runs of a study (deploy/local/study.sh): training modes × seeds from one warm
// start, each an ordinary run directory runs/STUDY/MODE-sSEED. Writes runs/STUDY/study.md with the test change per
// mode (paired level by level, mean ± SE over seeds, and the pooled paired SE), each mode against the baseline
// (the first mode), the training solve rate per pass over the training levels, the invalid-answer rate, the skill
// diagnostics and the wall time per phase; and two figures (learning_curves.png, test_change.png) by gnuplot.
#ifndef SKILLSD_TOOLS_STUDY_H_
#define SKILLSD_TOOLS_STUDY_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "tools/paired_stats.h"

namespace skillsd {

// One finished run of the study.
struct StudyRun {
  std::string mode;
  int seed = 0;
  double before_solved = 0, after_solved = 0;
  PairedChange solved, completion, greedy;  // after − before on the test levels, level by level
  std::vector<std::pair<std::string, double>> after_level_solved, after_level_completion;
  double invalid_rate_after = 0;               // sampled evaluation after training, invalid answers per turn
  std::map<int64_t, double> train_solve_rate;  // by policy version
  int steps_per_pass = 0;                      // training levels / tasks per step, rounded up
  std::map<std::string, double> mechanism;     // metrics.csv's skill columns, mean over the steps that measured
  std::map<std::string, double> seconds;       // wall time per phase
};

// Reads runs/STUDY/MODE-sSEED; nullopt unless it has both evaluations (a run still going, or failed).
std::optional<StudyRun> ReadStudyRun(const std::string& dir, const std::string& mode, int seed);

// Mean and standard error (sample standard deviation / √n; 0 for fewer than two values).
struct MeanSe {
  int n = 0;
  double mean = 0, se = 0;
};
MeanSe MeanAndSe(const std::vector<double>& values);

// Over the seeds of one mode: the mean run change and its SE over seeds; the pooled paired SE, √(Σ SEₛ²) / n,
// the SE of that mean if the evaluation were the only noise.
struct SeedSummary {
  MeanSe over_seeds;
  double pooled_se = 0;
};
SeedSummary SummarizeChanges(const std::vector<PairedChange>& changes);

// Writes study.md, the figures' data and scripts, and the figures into `dir`.
absl::Status WriteStudyReport(const std::string& dir, const std::vector<std::string>& modes,
                              const std::vector<int>& seeds);

int StudyCommand();

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_STUDY_H_
