// The fixed level splits of an experiment: `train` (96 levels for the paper's setting) and a disjoint `test`
// (64), identical on every machine and every run, plus `procedural` levels from any seed. Every published level
// has been solved by the exact solver within the step limit and carries its optimal solution.
#ifndef SKILLSD_ENV_WORKERS_LEVELS_H_
#define SKILLSD_ENV_WORKERS_LEVELS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "env_workers/env.h"
#include "env_workers/sokoban.h"

namespace skillsd::sokoban {

struct LevelSetOptions {
  GeneratorOptions generator;
  int train_levels = 96;
  // Training-stream levels for warm-start demonstrations (0 = train_levels): the first train_levels of them are the
  // training split, and the test split is disjoint from all of them. (The warm start builds its set with
  // train_levels = warm_start_levels; the test split is the same either way.)
  int warm_start_levels = 0;
  int test_levels = 64;
  bool curriculum_by_length = true;  // training order: shortest optimal solution first
};

// Immutable after construction; thread-safe.
class LevelSet {
 public:
  // Generates both splits. Seeds come from fixed per-split streams, so the result depends only on the options.
  // A level identical to an earlier one (same layout and start) is skipped, which keeps the splits disjoint; the
  // training stream is generated first (warm-start levels included), so the test split depends on
  // max(train_levels, warm_start_levels) and never holds a level the warm start saw.
  static absl::StatusOr<std::shared_ptr<const LevelSet>> Build(const LevelSetOptions& options);

  const std::vector<Level>& levels(Split split) const { return split == Split::kTest ? test_ : train_; }
  // Training level indices in curriculum order (by optimal length, ties by index; or index order).
  const std::vector<int>& curriculum() const { return curriculum_; }
  const LevelSetOptions& options() const { return options_; }

  // The level of `split` at `index` (INVALID_ARGUMENT when out of range), or, for kProcedural, the level
  // generated from `seed`.
  absl::StatusOr<Level> Get(Split split, int index, uint64_t seed) const;

  // FNV-1a over every level's grid, seed and solution, train then test: a fingerprint of the splits.
  uint64_t Fingerprint() const;

 private:
  LevelSetOptions options_;
  std::vector<Level> train_;
  std::vector<Level> test_;
  std::vector<int> curriculum_;
};

// Difficulty figures of a list of levels.
struct LevelStats {
  std::vector<int> length_histogram;  // [n] = levels whose optimal solution has n moves
  double mean_optimal_length = 0;
  int episodes = 0;  // random-policy episodes played
  int solved = 0;    // of which solved
  double random_solve_rate() const { return episodes == 0 ? 0.0 : static_cast<double>(solved) / episodes; }
};

// Plays `episodes_per_level` episodes of a uniformly random policy (one of the four moves per step, at most
// `max_steps` steps) on each level.
LevelStats ComputeLevelStats(const std::vector<Level>& levels, int episodes_per_level, int max_steps, uint64_t seed);

}  // namespace skillsd::sokoban

#endif  // SKILLSD_ENV_WORKERS_LEVELS_H_
