#include "env_workers/levels.h"

#include <algorithm>
#include <numeric>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace skillsd::sokoban {
namespace {

// Seed streams of the fixed splits. Changing them changes every published level.
constexpr uint64_t kTrainStream = 0x736B696C6C736474ull;  // "skillsdt"
constexpr uint64_t kTestStream = 0x736B696C6C736465ull;   // "skillsde"

uint64_t Fnv1a(uint64_t hash, absl::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 0x100000001B3ull;
  }
  return hash;
}

std::string LayoutKey(const Level& level) { return absl::StrCat(level.Grid(), "|", level.width, "x", level.height); }

}  // namespace

absl::StatusOr<std::shared_ptr<const LevelSet>> LevelSet::Build(const LevelSetOptions& options) {
  auto set = std::shared_ptr<LevelSet>(new LevelSet());
  set->options_ = options;
  absl::flat_hash_set<std::string> seen;
  auto fill = [&](uint64_t stream, int count, std::vector<Level>* out) -> absl::Status {
    for (uint64_t i = 0; static_cast<int>(out->size()) < count; ++i) {
      if (i > static_cast<uint64_t>(count) * 100) {
        return absl::ResourceExhaustedError("too many duplicate levels; relax the generator settings");
      }
      // 53-bit seeds: exact as JSON numbers in any language.
      absl::StatusOr<Level> level = GenerateLevel(SplitMix64(stream + i) >> 11, options.generator);
      if (!level.ok()) return level.status();
      if (!seen.insert(LayoutKey(*level)).second) continue;
      out->push_back(std::move(level).value());
    }
    return absl::OkStatus();
  };
  // The warm start's further levels are generated (and so kept out of the test split), then dropped.
  if (absl::Status s = fill(kTrainStream, std::max(options.train_levels, options.warm_start_levels), &set->train_);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = fill(kTestStream, options.test_levels, &set->test_); !s.ok()) return s;
  set->train_.erase(set->train_.begin() + options.train_levels, set->train_.end());
  set->curriculum_.resize(set->train_.size());
  std::iota(set->curriculum_.begin(), set->curriculum_.end(), 0);
  if (options.curriculum_by_length) {
    std::stable_sort(set->curriculum_.begin(), set->curriculum_.end(),
                     [&](int a, int b) { return set->train_[a].optimal_length < set->train_[b].optimal_length; });
  }
  return std::shared_ptr<const LevelSet>(std::move(set));
}

absl::StatusOr<Level> LevelSet::Get(Split split, int index, uint64_t seed) const {
  if (split == Split::kProcedural) return GenerateLevel(seed, options_.generator);
  const std::vector<Level>& list = levels(split);
  if (index < 0 || index >= static_cast<int>(list.size())) {
    return absl::InvalidArgumentError(absl::StrCat("level index ", index, " out of range for split ", SplitName(split),
                                                   " (", list.size(), " levels)"));
  }
  return list[index];
}

LevelStats ComputeLevelStats(const std::vector<Level>& levels, int episodes_per_level, int max_steps, uint64_t seed) {
  LevelStats stats;
  Rng rng(seed);
  Board board;
  double length_sum = 0;
  for (const Level& level : levels) {
    if (level.optimal_length >= static_cast<int>(stats.length_histogram.size())) {
      stats.length_histogram.resize(level.optimal_length + 1, 0);
    }
    if (level.optimal_length >= 0) ++stats.length_histogram[level.optimal_length];
    length_sum += level.optimal_length;
    for (int e = 0; e < episodes_per_level; ++e) {
      board.Load(level);
      for (int step = 0; step < max_steps && !board.solved(); ++step) {
        board.Move(static_cast<Action>(rng.Uniform(kNumActions)));
      }
      ++stats.episodes;
      stats.solved += board.solved() ? 1 : 0;
    }
  }
  stats.mean_optimal_length = levels.empty() ? 0 : length_sum / static_cast<double>(levels.size());
  return stats;
}

uint64_t LevelSet::Fingerprint() const {
  uint64_t hash = 0xCBF29CE484222325ull;
  for (const auto* list : {&train_, &test_}) {
    for (const Level& level : *list) {
      hash = Fnv1a(hash, level.Grid());
      hash = Fnv1a(hash, absl::StrCat("|", level.seed, "|", level.OptimalActionString(), "\n"));
    }
  }
  return hash;
}

}  // namespace skillsd::sokoban
