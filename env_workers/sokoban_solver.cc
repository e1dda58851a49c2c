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

namespace {

// The solver's state graph: (player, sorted boxes) packed by PackState, and the moves out of a state, pruning
// pushes onto dead squares and into frozen 2×2 blocks (deadlocks unless every box in the block is on a target).
class StateGraph {
 public:
  explicit StateGraph(const Level& level)
      : level_(level), w_(level.width), num_boxes_(level.num_boxes()), delta_{-w_, w_, -1, 1} {
    std::copy(level.cells.begin(), level.cells.end(), scratch_.begin());
  }

  uint64_t Start() const {
    std::array<uint8_t, kMaxBoxes> boxes{};
    for (int i = 0; i < num_boxes_; ++i) boxes[i] = static_cast<uint8_t>(level_.boxes[i]);
    std::sort(boxes.begin(), boxes.begin() + num_boxes_);
    return PackState(level_.player, boxes, num_boxes_);
  }

  bool IsGoal(uint64_t key) const {
    for (int i = 0; i < num_boxes_; ++i) {
      if (!(level_.cells[(key >> (8 * (i + 1))) & 0xFF] & kTarget)) return false;
    }
    return true;
  }

  // Calls visit(action, next_key, pushed) for every move out of `key` that is not pruned.
  template <typename Visit>
  void Expand(uint64_t key, Visit&& visit) {
    const int player = static_cast<int>(key & 0xFF);
    std::array<uint8_t, kMaxBoxes> boxes{};
    for (int i = 0; i < num_boxes_; ++i) boxes[i] = static_cast<uint8_t>((key >> (8 * (i + 1))) & 0xFF);
    for (int a = 0; a < kNumActions; ++a) {
      const int next = player + delta_[a];
      if (level_.cells[next] & kWall) continue;
      std::array<uint8_t, kMaxBoxes> moved = boxes;
      int pushed = -1;
      for (int i = 0; i < num_boxes_; ++i) {
        if (boxes[i] == next) pushed = i;
      }
      if (pushed >= 0) {
        const int beyond = next + delta_[a];
        if (level_.cells[beyond] & (kWall | kDead)) continue;
        bool blocked = false;
        for (int i = 0; i < num_boxes_; ++i) blocked |= boxes[i] == beyond;
        if (blocked) continue;
        moved[pushed] = static_cast<uint8_t>(beyond);
        std::sort(moved.begin(), moved.begin() + num_boxes_);
        for (int i = 0; i < num_boxes_; ++i) scratch_[moved[i]] |= kBox;
        const bool frozen = FrozenBlock(scratch_.data(), w_, beyond);
        for (int i = 0; i < num_boxes_; ++i) scratch_[moved[i]] &= static_cast<uint8_t>(~kBox);
        if (frozen) continue;
      }
      visit(a, PackState(next, moved, num_boxes_), pushed >= 0);
    }
  }

 private:
  const Level& level_;
  const int w_;
  const int num_boxes_;
  const int delta_[kNumActions];
  std::array<uint8_t, kMaxCells> scratch_{};  // the static layout, boxes added per check
};

}  // namespace

absl::StatusOr<std::vector<Action>> Solve(const Level& level, int max_moves, int64_t max_states) {
  struct Node {
    uint64_t parent;
    int8_t action;
    int16_t depth;
  };
  StateGraph graph(level);
  const uint64_t start = graph.Start();
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
  if (graph.IsGoal(start)) return std::vector<Action>();
  std::deque<uint64_t> queue = {start};
  while (!queue.empty()) {
    const uint64_t key = queue.front();
    queue.pop_front();
    const int depth = seen[key].depth;
    if (depth >= max_moves) continue;
    bool found = false, full = false;
    uint64_t goal = 0;
    graph.Expand(key, [&](int a, uint64_t next_key, bool pushed) {
      if (found || full || seen.contains(next_key)) return;
      seen[next_key] = {key, static_cast<int8_t>(a), static_cast<int16_t>(depth + 1)};
      if (pushed && graph.IsGoal(next_key)) {
        found = true;
        goal = next_key;
        return;
      }
      if (static_cast<int64_t>(seen.size()) > max_states) full = true;
      queue.push_back(next_key);
    });
    if (found) return path_to(seen, goal);
    if (full) return absl::ResourceExhaustedError(absl::StrCat("solver stopped after ", max_states, " states"));
  }
  return absl::NotFoundError(absl::StrCat("no solution within ", max_moves, " moves"));
}

absl::StatusOr<std::vector<Action>> OptimalFirstActions(const Level& level, int max_moves, int64_t max_states) {
  // Breadth-first by layers, each state carrying the set of first moves (a bit per action) over every shortest
  // path to it: a layer's sets are complete before the layer is expanded, so the goals of the first layer that
  // has any hold every first move of every shortest solution.
  StateGraph graph(level);
  const uint64_t start = graph.Start();
  if (graph.IsGoal(start)) return std::vector<Action>();
  absl::flat_hash_map<uint64_t, uint8_t> first_moves;  // of the states seen so far
  first_moves[start] = 0;
  std::vector<uint64_t> layer = {start};
  for (int depth = 0; depth < max_moves && !layer.empty(); ++depth) {
    std::vector<uint64_t> next_layer;
    absl::flat_hash_map<uint64_t, uint8_t> discovered;  // this layer's new states
    uint8_t goal_moves = 0;
    for (uint64_t key : layer) {
      const uint8_t mask = first_moves[key];
      graph.Expand(key, [&](int a, uint64_t next_key, bool pushed) {
        if (first_moves.contains(next_key)) return;
        const uint8_t via = depth == 0 ? static_cast<uint8_t>(1 << a) : mask;
        auto [it, inserted] = discovered.try_emplace(next_key, 0);
        it->second |= via;
        if (inserted) next_layer.push_back(next_key);
        if (pushed && graph.IsGoal(next_key)) goal_moves |= via;
      });
    }
    if (goal_moves != 0) {
      std::vector<Action> out;
      for (int a = 0; a < kNumActions; ++a) {
        if (goal_moves & (1 << a)) out.push_back(static_cast<Action>(a));
      }
      return out;
    }
    for (const auto& [key, mask] : discovered) first_moves[key] = mask;
    if (static_cast<int64_t>(first_moves.size()) > max_states) {
      return absl::ResourceExhaustedError(absl::StrCat("solver stopped after ", max_states, " states"));
    }
    layer = std::move(next_layer);
  }
  return absl::NotFoundError(absl::StrCat("no solution within ", max_moves, " moves"));
}

}  // namespace skillsd::sokoban
