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

// Why an attempt was discarded, counted over the attempts for the error when none succeeds.
enum Rejection { kRoomTooSmall, kSolvedAlready, kNoSolutionWithinMax, kSolutionTooShort, kNumRejections };
constexpr const char* kRejectionText[kNumRejections] = {"a room with too little floor", "a start already solved",
                                                        "no solution within max_optimal_length moves",
                                                        "a shortest solution under min_optimal_length moves"};

// One generation attempt; false (and why in `rejected`) when the attempt is discarded.
bool TryGenerate(Rng& rng, const GeneratorOptions& o, Level* out, Rejection* rejected) {
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
  if (static_cast<int>(floor.size()) < o.num_boxes + 3) {
    *rejected = kRoomTooSmall;
    return false;
  }
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
  if (board.solved()) {
    *rejected = kSolvedAlready;
    return false;
  }
  auto solution = Solve(level, o.max_optimal_length);
  if (!solution.ok()) {
    *rejected = kNoSolutionWithinMax;
    return false;
  }
  if (static_cast<int>(solution->size()) < o.min_optimal_length) {
    *rejected = kSolutionTooShort;
    return false;
  }
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
  if (options.min_optimal_length > options.max_optimal_length) {
    return absl::InvalidArgumentError(absl::StrCat("min_optimal_length (", options.min_optimal_length,
                                                   ") exceeds max_optimal_length (", options.max_optimal_length,
                                                   "): no level can qualify"));
  }
  int rejections[kNumRejections] = {};
  for (int attempt = 0; attempt < options.max_attempts; ++attempt) {
    Rng rng(SplitMix64(seed ^ (static_cast<uint64_t>(attempt) * 0xD1B54A32D192ED03ull)));
    Level level;
    Rejection rejected = kRoomTooSmall;
    if (TryGenerate(rng, options, &level, &rejected)) {
      level.seed = seed;
      return level;
    }
    ++rejections[rejected];
  }
  std::string why;
  for (int r = 0; r < kNumRejections; ++r) {
    if (rejections[r] > 0) absl::StrAppend(&why, why.empty() ? "" : ", ", rejections[r], " ", kRejectionText[r]);
  }
  return absl::ResourceExhaustedError(
      absl::StrCat("no level for seed ", seed, " after ", options.max_attempts, " attempts (", why,
                   "; min_optimal_length ", options.min_optimal_length, ", max_optimal_length ",
                   options.max_optimal_length, ", room side ", options.side, ", ", options.num_boxes, " boxes)"));
}

}  // namespace skillsd::sokoban
