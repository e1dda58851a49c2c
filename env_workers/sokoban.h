// Sokoban: the paper's benchmark (SPEC §7). Levels, the board and its moves (the hot path), the exact solver,
// the level generator (reverse play from a solved state, as gym-sokoban does) and the text rendering.
//
// Symbols: '#' wall, '_' floor, 'O' target, 'X' box, '√' box on target, 'P' player, 'S' player on target.
// Rooms are at most 16×16 cells with at most 4 boxes. Everything here is deterministic: the same seed gives the
// same level on every machine (own RNG; no std:: distributions, whose results are implementation-defined).
#ifndef SKILLSD_ENV_WORKERS_SOKOBAN_H_
#define SKILLSD_ENV_WORKERS_SOKOBAN_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/random.h"

namespace skillsd::sokoban {

using ::skillsd::Rng;
using ::skillsd::SplitMix64;

enum class Action : uint8_t { kUp = 0, kDown = 1, kLeft = 2, kRight = 3 };
inline constexpr int kNumActions = 4;
inline constexpr int kMaxSide = 16;
inline constexpr int kMaxCells = kMaxSide * kMaxSide;
inline constexpr int kMaxBoxes = 4;

// Every character a grid is drawn with (UTF-8).
inline constexpr char kGridSymbols[] = "#_OX\xE2\x88\x9APS";

// "Up", "Down", "Left", "Right".
absl::string_view ActionName(Action action);
// The action a name says, in any letter case ("up", "Up", ...); nullopt for anything else.
std::optional<Action> ActionNamed(absl::string_view name);
// 'U', 'D', 'L', 'R' (compact action sequences).
char ActionLetter(Action action);

// Per-cell flags. kWall, kTarget and kDead are the static layout; kBox is state.
enum CellFlag : uint8_t {
  kWall = 1,
  kTarget = 2,
  kBox = 4,
  // No box on this floor cell can ever reach a target (computed by pulling boxes back from every target).
  kDead = 8,
};

// A level: the static layout plus the start state.
struct Level {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> cells;  // kWall | kTarget | kDead per cell, row-major
  std::vector<int> boxes;      // start cells of the boxes, ascending
  int player = -1;             // start cell of the player
  uint64_t seed = 0;           // generator seed (0 for hand-made levels)
  int optimal_length = -1;     // fewest moves to solve; -1 = not solved yet
  std::vector<Action> optimal_actions;

  int num_boxes() const { return static_cast<int>(boxes.size()); }
  // The start state as text (rows joined by '\n').
  std::string Grid() const;
  // "UDLR..." of optimal_actions.
  std::string OptimalActionString() const;
};

// Parses a grid in the symbols above (rows separated by '\n', all rows the same width, exactly one player,
// as many targets as boxes). Computes dead squares. INVALID_ARGUMENT with the reason otherwise.
absl::StatusOr<Level> ParseLevel(absl::string_view grid);

// Marks kDead on every floor cell from which no box can reach a target. Idempotent.
void ComputeDeadSquares(Level& level);

// What one move did.
struct MoveOutcome {
  bool moved = false;        // the player moved (possibly pushing a box)
  bool bumped = false;       // into a wall, or into a box that could not move
  bool pushed = false;       // a box moved
  bool onto_target = false;  // the pushed box landed on a target
  bool off_target = false;   // the pushed box left a target
  bool deadlock = false;     // the pushed box can never reach a target any more
  bool solved = false;       // every box is on a target after the move
};

// The board of one episode. The hot path: Move() is a few dozen instructions and never allocates.
// Not thread-safe; the caller serialises.
class Board {
 public:
  Board() = default;
  explicit Board(const Level& level) { Load(level); }

  // Puts the level's start state on the board.
  void Load(const Level& level);
  MoveOutcome Move(Action action);

  bool solved() const { return boxes_on_target_ == num_boxes_; }
  int boxes_on_target() const { return boxes_on_target_; }
  int num_boxes() const { return num_boxes_; }
  int player() const { return player_; }
  int width() const { return width_; }
  int height() const { return height_; }
  uint8_t cell(int index) const { return cells_[index]; }

  // Appends the grid text (rows joined by '\n', no trailing newline).
  void Render(std::string* out) const;
  // Appends the positions as text: "Player: row 4 col 1. Boxes: row 2 col 2, row 3 col 4. Targets: ...".
  void DescribePositions(std::string* out) const;
  // `base` (the level this board was loaded from) with the current player and boxes as its start state, and no
  // solution yet: what Solve needs to plan from the middle of an episode.
  Level CurrentState(const Level& base) const;

 private:
  // True when the box at `cell` sits in a frozen 2×2 block of walls and boxes.
  bool FrozenAt(int cell) const;

  std::array<uint8_t, kMaxCells> cells_{};
  std::array<int, kNumActions> delta_{};
  int width_ = 0;
  int height_ = 0;
  int player_ = 0;
  int num_boxes_ = 0;
  int boxes_on_target_ = 0;
};

// Breadth-first search over (player, boxes) states for a shortest solution in moves, pruning pushes onto dead
// squares and into frozen blocks. Returns the actions, or NOT_FOUND when no solution has at most `max_moves`
// moves (which, for max_moves >= the true optimum, means unsolvable).
absl::StatusOr<std::vector<Action>> Solve(const Level& level, int max_moves, int64_t max_states = 2'000'000);

// Every move that begins some shortest solution from the level's start state (ascending; empty when it is solved
// already): the moves a perfect player might make next. Same search, limits and errors as Solve.
absl::StatusOr<std::vector<Action>> OptimalFirstActions(const Level& level, int max_moves,
                                                        int64_t max_states = 2'000'000);

struct GeneratorOptions {
  int side = 6;  // room side, border walls included
  int num_boxes = 2;
  int min_optimal_length = 8;   // reject easier levels (random policy: ~1% solved at 8, 9% at 6)
  int max_optimal_length = 40;  // reject harder ones (the episode step limit)
  int topology_steps = 0;       // random-walk steps carving the room; 0 = 1.5 × (side + side)
  int reverse_steps = 150;      // reverse-play moves from the solved state
  double pull_probability = 0.8;
  int max_attempts = 2000;
};

// Generates a level from `seed`: carves a room by random walk, puts boxes on targets, plays backwards (moving
// and pulling boxes) and keeps the result if the solver's optimum lies in [min, max] and it is not solved
// already. Attempt k uses SplitMix64(seed ^ k), so the result depends on nothing but seed and options.
// RESOURCE_EXHAUSTED when no attempt succeeds.
absl::StatusOr<Level> GenerateLevel(uint64_t seed, const GeneratorOptions& options);

}  // namespace skillsd::sokoban

#endif  // SKILLSD_ENV_WORKERS_SOKOBAN_H_
