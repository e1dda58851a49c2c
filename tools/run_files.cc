#include "tools/run_files.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "core/file_util.h"
#include "core/json.h"

namespace skillsd {

int CsvTable::Column(const std::string& name) const {
  auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

double CsvTable::At(size_t r, int c) const {
  if (c < 0 || r >= rows.size() || static_cast<size_t>(c) >= rows[r].size()) return std::nan("");
  return rows[r][static_cast<size_t>(c)];
}

double CsvTable::Sum(const std::string& name) const {
  const int c = Column(name);
  double s = 0;
  for (size_t r = 0; r < rows.size(); ++r) {
    if (std::isfinite(At(r, c))) s += At(r, c);
  }
  return s;
}

CsvTable ReadCsv(const std::string& path) {
  CsvTable t;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return t;
  bool first = true;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> cells = absl::StrSplit(line, ',');
    if (first) {
      t.names = cells;
      first = false;
      continue;
    }
    std::vector<double> row;
    for (const std::string& c : cells) {
      double v;
      row.push_back(absl::SimpleAtod(c, &v) ? v : std::nan(""));
    }
    t.rows.push_back(row);
  }
  return t;
}

EvalResult ReadEval(const std::string& path, const char* which) {
  EvalResult e;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return e;
  absl::StatusOr<JsonValue> json = ParseJson(*text);
  if (!json.ok() || !json->is_object()) return e;
  const JsonValue* part = json->Find(which);
  if (part == nullptr || !part->is_object()) return e;
  auto num = [part](const char* key) {
    const JsonValue* v = part->Find(key);
    return v != nullptr && v->is_number() ? v->number() : 0.0;
  };
  e.ok = true;
  e.solved = num("solved");
  e.solved_se = num("solved_stderr");
  e.completion = num("completion");
  e.completion_se = num("completion_stderr");
  e.invalid_rate = num("invalid_rate");
  e.episodes = static_cast<int>(num("episodes"));
  const JsonValue* levels = part->Find("levels");
  if (levels != nullptr && levels->is_array()) {
    for (const JsonValue& level : levels->array()) {
      const JsonValue* task = level.is_object() ? level.Find("task") : nullptr;
      const JsonValue* solved = level.is_object() ? level.Find("solved") : nullptr;
      const JsonValue* completion = level.is_object() ? level.Find("completion") : nullptr;
      if (task == nullptr || !task->is_string() || solved == nullptr || !solved->is_number() || completion == nullptr ||
          !completion->is_number()) {
        continue;
      }
      e.level_solved.emplace_back(task->string(), solved->number());
      e.level_completion.emplace_back(task->string(), completion->number());
    }
  }
  return e;
}

std::map<std::string, double> ReadTimes(const std::string& path) {
  std::map<std::string, double> out;
  absl::StatusOr<std::string> text = ReadFile(path);
  if (!text.ok()) return out;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> cells = absl::StrSplit(line, '\t');
    double v;
    if (cells.size() == 2 && absl::SimpleAtod(cells[1], &v)) out[cells[0]] = v;
  }
  return out;
}

}  // namespace skillsd
