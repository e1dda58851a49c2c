// The level generator: reverse play from a solved state, as gym-sokoban does.
#include <algorithm>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "env_workers/sokoban.h"
#include "env_workers/sokoban_internal.h"

namespace skillsd::sokoban {

using internal::kDc;
using internal::kDr;

namespace {

// One generation attempt; returns false when the attempt should be discarded.
bool TryGenerate(Rng& rng, const GeneratorOptions& o, Level* out) {
  const int side = o.side;
  Level level;
  level.width = level.height = side;
  level.cells.assign(side * side, kWall);
  // Carve the room by a random walk over the interior (border stays wall), changing direction now and then
  // and carving a small random shape at each step (after gym-sokoban's room topology).
  const int steps = o.topology_steps > 0 ? o.topology_steps : 3 * side;
  int r = 1 + static_cast<int>(rng.Uniform(side - 2));
  int c = 1 + static_cast<int>(rng.Uniform(side - 2));
  int dir = static_cast<int>(rng.Uniform(kNumActions));
  static constexpr int kShapes[3][3][2] = {
      {{0, 0}, {0, 0}, {0, 0}}, {{0, 0}, {0, 1}, {1, 0}}, {{0, 0}, {1, 0}, {0, -1}}};
  for (int s = 0; s < steps; ++s) {
    const auto& shape = kShapes[rng.Uniform(3)];
    for (const auto& off : shape) {
      const int rr = r + off[0], cc = c + off[1];
      if (rr >= 1 && rr <= side - 2 && cc >= 1 && cc <= side - 2) level.cells[rr * side + cc] = 0;
    }
    if (rng.Bernoulli(0.35)) dir = static_cast<int>(rng.Uniform(kNumActions));
    const int nr = r + kDr[dir], nc = c + kDc[dir];
    if (nr >= 1 && nr <= side - 2 && nc >= 1 && nc <= side - 2) {
      r = nr;
      c = nc;
    }
  }
  std::vector<int> floor;
  for (int i = 0; i < side * side; ++i) {
    if (level.cells[i] == 0) floor.push_back(i);
  }
  if (static_cast<int>(floor.size()) < o.num_boxes + 3) return false;
  // Targets, with the boxes on them (the solved state), and the player.
  for (int b = 0; b < o.num_boxes; ++b) {
    const int pick = static_cast<int>(rng.Uniform(static_cast<uint32_t>(floor.size())));
    level.cells[floor[pick]] = kTarget;
    level.boxes.push_back(floor[pick]);
    floor.erase(floor.begin() + pick);
  }
  level.player = floor[rng.Uniform(static_cast<uint32_t>(floor.size()))];

  // Reverse play: the player walks; when it steps away from an adjacent box, it may pull it along.
  std::vector<uint8_t> has_box(side * side, 0);
  for (int b : level.boxes) has_box[b] = 1;
  const int delta[kNumActions] = {-side, side, -1, 1};
  for (int s = 0; s < o.reverse_steps; ++s) {
    const int a = static_cast<int>(rng.Uniform(kNumActions));
    const int next = level.player + delta[a];
    if ((level.cells[next] & kWall) || has_box[next]) continue;
    const int behind = level.player - delta[a];
    if (has_box[behind] && rng.Bernoulli(o.pull_probability)) {
      has_box[behind] = 0;
      has_box[level.player] = 1;
    }
    level.player = next;
  }
  level.boxes.clear();
  for (int i = 0; i < side * side; ++i) {
    if (has_box[i]) level.boxes.push_back(i);
  }
  ComputeDeadSquares(level);
  Board board(level);
  if (board.solved()) return false;
  auto solution = Solve(level, o.max_optimal_length);
  if (!solution.ok()) return false;
  if (static_cast<int>(solution->size()) < o.min_optimal_length) return false;
  level.optimal_length = static_cast<int>(solution->size());
  level.optimal_actions = std::move(solution).value();
  *out = std::move(level);
  return true;
}

}  // namespace

absl::StatusOr<Level> GenerateLevel(uint64_t seed, const GeneratorOptions& options) {
  if (options.side < 4 || options.side > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat("room side must be in [4, ", kMaxSide, "]"));
  }
  if (options.num_boxes < 1 || options.num_boxes > kMaxBoxes) {
    return absl::InvalidArgumentError(absl::StrCat("boxes must be in [1, ", kMaxBoxes, "]"));
  }
  for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
    Rng rng(SplitMix64(seed ^ (static_cast<uint64_t>(attempt) * 0xD1B54A32D192ED03ull)));
    Level level;
    if (TryGenerate(rng, options, &level)) {
      level.seed = seed;
      return level;
    }
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no level for seed ", seed, " after ", options.max_attempts, " attempts"));
}

}  // namespace skillsd::sokoban
