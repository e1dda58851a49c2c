// Reading a run directory's files (deploy/local/run.sh writes them): metrics.csv and actor.csv as tables, the
// evaluations before and after training, times.tsv. Missing or unreadable files read as empty, so a report can be
// written from whatever a run has produced so far.
#ifndef SKILLSD_TOOLS_RUN_FILES_H_
#define SKILLSD_TOOLS_RUN_FILES_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace skillsd {

// Rows of a CSV with a header line; cells that are not numbers (or empty) read as NaN.
struct CsvTable {
  std::vector<std::string> names;
  std::vector<std::vector<double>> rows;
  // The column's index, or -1.
  int Column(const std::string& name) const;
  // Row r's value in column c; NaN when the row is short or c < 0.
  double At(size_t r, int c) const;
  // The sum of a column's finite values.
  double Sum(const std::string& name) const;
};
CsvTable ReadCsv(const std::string& path);

// One part ("greedy" or "sampled") of an evaluation file written by `skillsd eval --json_out`.
struct EvalResult {
  bool ok = false;
  double solved = 0, solved_se = 0, completion = 0, completion_se = 0, invalid_rate = 0;
  int episodes = 0;
  std::vector<std::pair<std::string, double>> level_solved, level_completion;  // by task id
};
EvalResult ReadEval(const std::string& path, const char* which);

// times.tsv: phase -> seconds.
std::map<std::string, double> ReadTimes(const std::string& path);

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_RUN_FILES_H_
