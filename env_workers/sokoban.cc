#include "env_workers/sokoban.h"

#include <algorithm>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "env_workers/sokoban_internal.h"

// Actions, levels and the board (the solver is sokoban_solver.cc, the generator sokoban_generator.cc).
namespace skillsd::sokoban {
namespace {

constexpr absl::string_view kBoxOnTarget = "\xE2\x88\x9A";  // √

}  // namespace

using internal::FrozenBlock;
using internal::kDc;
using internal::kDr;

absl::string_view ActionName(Action action) {
  static constexpr absl::string_view kNames[] = {"Up", "Down", "Left", "Right"};
  return kNames[static_cast<int>(action)];
}

std::optional<Action> ActionNamed(absl::string_view name) {
  for (int a = 0; a < kNumActions; ++a) {
    if (absl::EqualsIgnoreCase(name, ActionName(static_cast<Action>(a)))) return static_cast<Action>(a);
  }
  return std::nullopt;
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

}  // namespace skillsd::sokoban
