// Dead squares and the exact solver (breadth-first search over states).
#include <algorithm>
#include <array>
#include <cstring>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "env_workers/sokoban.h"
#include "env_workers/sokoban_internal.h"

namespace skillsd::sokoban {
namespace {

// State key for the solver: the player and up to 4 box cells, 8 bits each (boxes sorted).
uint64_t PackState(int player, const std::array<uint8_t, kMaxBoxes>& boxes, int num_boxes) {
  uint64_t key = static_cast<uint64_t>(player);
  for (int i = 0; i < num_boxes; ++i) key |= static_cast<uint64_t>(boxes[i]) << (8 * (i + 1));
  return key;
}

}  // namespace

using internal::FrozenBlock;
using internal::kDc;
using internal::kDr;

void ComputeDeadSquares(Level& level) {
  const int w = level.width;
  const int n = w * level.height;
  std::vector<bool> live(n, false);
  std::deque<int> queue;
  for (int i = 0; i < n; ++i) {
    level.cells[i] &= static_cast<uint8_t>(~kDead);
    if (level.cells[i] & kTarget) {
      live[i] = true;
      queue.push_back(i);
    }
  }
  // A box at `cell` can be pulled one step in direction d when the player can stand at cell+d and step to
  // cell+2d. Every cell a box can be pulled to from a target is one from which it can be pushed to that target.
  while (!queue.empty()) {
    const int cell = queue.front();
    queue.pop_front();
    const int r = cell / w, c = cell % w;
    for (int a = 0; a < kNumActions; ++a) {
      const int r1 = r + kDr[a], c1 = c + kDc[a], r2 = r + 2 * kDr[a], c2 = c + 2 * kDc[a];
      if (r2 < 0 || r2 >= level.height || c2 < 0 || c2 >= w) continue;
      const int p1 = r1 * w + c1, p2 = r2 * w + c2;
      if ((level.cells[p1] & kWall) || (level.cells[p2] & kWall) || live[p1]) continue;
      live[p1] = true;
      queue.push_back(p1);
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!(level.cells[i] & kWall) && !live[i]) level.cells[i] |= kDead;
  }
}

absl::StatusOr<std::vector<Action>> Solve(const Level& level, int max_moves, int64_t max_states) {
  struct Node {
    uint64_t parent;
    int8_t action;
    int16_t depth;
  };
  const int w = level.width;
  const int num_boxes = level.num_boxes();
  const int delta[kNumActions] = {-w, w, -1, 1};
  std::array<uint8_t, kMaxBoxes> start_boxes{};
  for (int i = 0; i < num_boxes; ++i) start_boxes[i] = static_cast<uint8_t>(level.boxes[i]);
  std::sort(start_boxes.begin(), start_boxes.begin() + num_boxes);
  const uint64_t start = PackState(level.player, start_boxes, num_boxes);

  auto is_goal = [&](const std::array<uint8_t, kMaxBoxes>& boxes) {
    for (int i = 0; i < num_boxes; ++i) {
      if (!(level.cells[boxes[i]] & kTarget)) return false;
    }
    return true;
  };
  auto path_to = [&](const absl::flat_hash_map<uint64_t, Node>& seen, uint64_t key) {
    std::vector<Action> path;
    while (key != start) {
      const Node& node = seen.at(key);
      path.push_back(static_cast<Action>(node.action));
      key = node.parent;
    }
    std::reverse(path.begin(), path.end());
    return path;
  };

  absl::flat_hash_map<uint64_t, Node> seen;
  seen[start] = {start, -1, 0};
  if (is_goal(start_boxes)) return std::vector<Action>();
  std::deque<uint64_t> queue = {start};
  std::array<uint8_t, kMaxCells> scratch{};  // the static layout, boxes added per check
  std::copy(level.cells.begin(), level.cells.end(), scratch.begin());
  while (!queue.empty()) {
    const uint64_t key = queue.front();
    queue.pop_front();
    const int depth = seen[key].depth;
    if (depth >= max_moves) continue;
    const int player = static_cast<int>(key & 0xFF);
    std::array<uint8_t, kMaxBoxes> boxes{};
    for (int i = 0; i < num_boxes; ++i) boxes[i] = static_cast<uint8_t>((key >> (8 * (i + 1))) & 0xFF);
    for (int a = 0; a < kNumActions; ++a) {
      const int next = player + delta[a];
      if (level.cells[next] & kWall) continue;
      std::array<uint8_t, kMaxBoxes> moved = boxes;
      int pushed = -1;
      for (int i = 0; i < num_boxes; ++i) {
        if (boxes[i] == next) pushed = i;
      }
      if (pushed >= 0) {
        const int beyond = next + delta[a];
        if (level.cells[beyond] & (kWall | kDead)) continue;
        bool blocked = false;
        for (int i = 0; i < num_boxes; ++i) blocked |= boxes[i] == beyond;
        if (blocked) continue;
        moved[pushed] = static_cast<uint8_t>(beyond);
        std::sort(moved.begin(), moved.begin() + num_boxes);
        // Prune pushes into a frozen 2×2 block (a deadlock unless every box in it is on a target).
        for (int i = 0; i < num_boxes; ++i) scratch[moved[i]] |= kBox;
        const bool frozen = FrozenBlock(scratch.data(), w, beyond);
        for (int i = 0; i < num_boxes; ++i) scratch[moved[i]] &= static_cast<uint8_t>(~kBox);
        if (frozen) continue;
      }
      const uint64_t next_key = PackState(next, moved, num_boxes);
      if (seen.contains(next_key)) continue;
      seen[next_key] = {key, static_cast<int8_t>(a), static_cast<int16_t>(depth + 1)};
      if (pushed >= 0 && is_goal(moved)) return path_to(seen, next_key);
      if (static_cast<int64_t>(seen.size()) > max_states) {
        return absl::ResourceExhaustedError(absl::StrCat("solver stopped after ", max_states, " states"));
      }
      queue.push_back(next_key);
    }
  }
  return absl::NotFoundError(absl::StrCat("no solution within ", max_moves, " moves"));
}

}  // namespace skillsd::sokoban
