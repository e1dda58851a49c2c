#include "env_workers/sokoban.h"

#include <algorithm>
#include <cstring>
#include <deque>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace skillsd::sokoban {
namespace {

constexpr absl::string_view kBoxOnTarget = "\xE2\x88\x9A";  // √

// Directions as (row, column) steps, in Action order.
constexpr int kDr[kNumActions] = {-1, 1, 0, 0};
constexpr int kDc[kNumActions] = {0, 0, -1, 1};

// State key for the solver: the player and up to 4 box cells, 8 bits each (boxes sorted).
uint64_t PackState(int player, const std::array<uint8_t, kMaxBoxes>& boxes, int num_boxes) {
  uint64_t key = static_cast<uint64_t>(player);
  for (int i = 0; i < num_boxes; ++i) key |= static_cast<uint64_t>(boxes[i]) << (8 * (i + 1));
  return key;
}

// True when the box at `cell` sits in a 2×2 block of walls and boxes with at least one box off target: no box
// of such a block can ever move again, so the level cannot be solved.
bool FrozenBlock(const uint8_t* cells, int width, int cell) {
  const int corners[4] = {cell, cell - 1, cell - width, cell - width - 1};
  for (int top_left : corners) {
    const int block[4] = {top_left, top_left + 1, top_left + width, top_left + width + 1};
    bool full = true;
    bool loose_box = false;
    for (int i : block) {
      const uint8_t f = cells[i];
      if (!(f & (kWall | kBox))) {
        full = false;
        break;
      }
      if ((f & kBox) && !(f & kTarget)) loose_box = true;
    }
    if (full && loose_box) return true;
  }
  return false;
}

}  // namespace

absl::string_view ActionName(Action action) {
  static constexpr absl::string_view kNames[] = {"Up", "Down", "Left", "Right"};
  return kNames[static_cast<int>(action)];
}

char ActionLetter(Action action) { return "UDLR"[static_cast<int>(action)]; }

std::string Level::Grid() const {
  Board board(*this);
  std::string out;
  board.Render(&out);
  return out;
}

std::string Level::OptimalActionString() const {
  std::string s;
  for (Action a : optimal_actions) s.push_back(ActionLetter(a));
  return s;
}

absl::StatusOr<Level> ParseLevel(absl::string_view grid) {
  std::vector<absl::string_view> rows = absl::StrSplit(grid, '\n');
  while (!rows.empty() && rows.back().empty()) rows.pop_back();
  if (rows.empty()) return absl::InvalidArgumentError("empty grid");
  Level level;
  level.height = static_cast<int>(rows.size());
  int targets = 0;
  for (int r = 0; r < level.height; ++r) {
    absl::string_view row = rows[r];
    int c = 0;
    for (size_t i = 0; i < row.size(); ++c) {
      uint8_t flags = 0;
      bool box = false;
      bool player = false;
      if (row.substr(i, kBoxOnTarget.size()) == kBoxOnTarget) {
        flags = kTarget;
        box = true;
        i += kBoxOnTarget.size();
      } else {
        switch (row[i]) {
          case '#':
            flags = kWall;
            break;
          case '_':
            break;
          case 'O':
            flags = kTarget;
            break;
          case 'X':
            box = true;
            break;
          case 'P':
            player = true;
            break;
          case 'S':
            flags = kTarget;
            player = true;
            break;
          default:
            return absl::InvalidArgumentError(absl::StrCat("row ", r, ": unknown symbol '", row.substr(i, 1), "'"));
        }
        ++i;
      }
      const int index = static_cast<int>(level.cells.size());
      if (box) level.boxes.push_back(index);
      if (player) {
        if (level.player >= 0) return absl::InvalidArgumentError("more than one player");
        level.player = index;
      }
      if (flags & kTarget) ++targets;
      level.cells.push_back(flags);
    }
    if (r == 0) level.width = c;
    if (c != level.width)
      return absl::InvalidArgumentError(absl::StrCat("row ", r, " has ", c, " cells, not ", level.width));
  }
  if (level.width > kMaxSide || level.height > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat("rooms are at most ", kMaxSide, "x", kMaxSide));
  }
  if (level.player < 0) return absl::InvalidArgumentError("no player");
  if (level.boxes.empty() || level.num_boxes() > kMaxBoxes) {
    return absl::InvalidArgumentError(absl::StrCat("need 1 to ", kMaxBoxes, " boxes"));
  }
  if (targets != level.num_boxes()) return absl::InvalidArgumentError("the numbers of boxes and targets differ");
  // The border must be walls, so moves never leave the grid.
  for (int r = 0; r < level.height; ++r) {
    for (int c = 0; c < level.width; ++c) {
      const bool border = r == 0 || c == 0 || r == level.height - 1 || c == level.width - 1;
      if (border && !(level.cells[r * level.width + c] & kWall)) {
        return absl::InvalidArgumentError("the border must be walls");
      }
    }
  }
  ComputeDeadSquares(level);
  return level;
}

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

void Board::Load(const Level& level) {
  width_ = level.width;
  height_ = level.height;
  std::memcpy(cells_.data(), level.cells.data(), level.cells.size());
  num_boxes_ = level.num_boxes();
  boxes_on_target_ = 0;
  for (int b : level.boxes) {
    cells_[b] |= kBox;
    if (cells_[b] & kTarget) ++boxes_on_target_;
  }
  player_ = level.player;
  delta_ = {-width_, width_, -1, 1};
}

MoveOutcome Board::Move(Action action) {
  MoveOutcome out;
  const int d = delta_[static_cast<int>(action)];
  const int next = player_ + d;
  const uint8_t c = cells_[next];
  if (c & kWall) {
    out.bumped = true;
    return out;
  }
  if (c & kBox) {
    const int beyond = next + d;
    const uint8_t b = cells_[beyond];
    if (b & (kWall | kBox)) {
      out.bumped = true;
      return out;
    }
    cells_[next] = c & static_cast<uint8_t>(~kBox);
    cells_[beyond] = b | kBox;
    out.pushed = true;
    out.onto_target = (b & kTarget) != 0;
    out.off_target = (c & kTarget) != 0;
    boxes_on_target_ += static_cast<int>(out.onto_target) - static_cast<int>(out.off_target);
    out.deadlock = (!out.onto_target && (b & kDead)) || FrozenAt(beyond);
  }
  player_ = next;
  out.moved = true;
  out.solved = boxes_on_target_ == num_boxes_;
  return out;
}

bool Board::FrozenAt(int cell) const { return FrozenBlock(cells_.data(), width_, cell); }

Level Board::CurrentState(const Level& base) const {
  Level level = base;
  level.boxes.clear();
  for (int i = 0; i < width_ * height_; ++i) {
    if (cells_[i] & kBox) level.boxes.push_back(i);
  }
  level.player = player_;
  level.optimal_length = -1;
  level.optimal_actions.clear();
  return level;
}

void Board::DescribePositions(std::string* out) const {
  auto at = [this](int i) { return absl::StrCat("row ", i / width_, " col ", i % width_); };
  std::vector<std::string> boxes, targets;
  for (int i = 0; i < width_ * height_; ++i) {
    if (cells_[i] & kBox) boxes.push_back(at(i));
    if (cells_[i] & kTarget) targets.push_back(at(i));
  }
  absl::StrAppend(out, "Player: ", at(player_), ". Boxes: ", absl::StrJoin(boxes, ", "),
                  ". Targets: ", absl::StrJoin(targets, ", "), ".");
}

void Board::Render(std::string* out) const {
  for (int r = 0; r < height_; ++r) {
    if (r > 0) out->push_back('\n');
    for (int c = 0; c < width_; ++c) {
      const int i = r * width_ + c;
      const uint8_t f = cells_[i];
      if (f & kWall) {
        out->push_back('#');
      } else if (i == player_) {
        out->push_back((f & kTarget) ? 'S' : 'P');
      } else if (f & kBox) {
        if (f & kTarget) {
          out->append(kBoxOnTarget.data(), kBoxOnTarget.size());
        } else {
          out->push_back('X');
        }
      } else {
        out->push_back((f & kTarget) ? 'O' : '_');
      }
    }
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
