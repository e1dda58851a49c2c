#include "env_workers/sokoban.h"

#include <set>

#include "core/status_matchers.h"
#include "env_workers/levels.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd::sokoban {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

Level MustParse(absl::string_view grid) {
  absl::StatusOr<Level> level = ParseLevel(grid);
  EXPECT_TRUE(level.ok()) << level.status();
  return level.ok() ? *level : Level();
}

std::string Render(const Board& board) {
  std::string out;
  board.Render(&out);
  return out;
}

TEST(ParseLevelTest, RoundTripsThroughTheRenderer) {
  const std::string grid =
      "######\n"
      "#P_O_#\n"
      "#_X__#\n"
      "#_\xE2\x88\x9A__#\n"
      "######";
  Level level = MustParse(grid);
  EXPECT_EQ(level.width, 6);
  EXPECT_EQ(level.height, 5);
  EXPECT_EQ(level.num_boxes(), 2);
  EXPECT_EQ(level.Grid(), grid);
}

TEST(ParseLevelTest, RejectsBadGrids) {
  EXPECT_THAT(ParseLevel(""), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("empty")));
  EXPECT_THAT(ParseLevel("#####\n#PXO#\n#?###\n#####"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown symbol")));
  EXPECT_THAT(ParseLevel("#####\n#PXOP#\n#####"), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseLevel("######\n#PXOP#\n######"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("more than one player")));
  EXPECT_THAT(ParseLevel("######\n#_XO_#\n######"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no player")));
  EXPECT_THAT(ParseLevel("######\n#PXX_#\n#_O__#\n######"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("differ")));
  EXPECT_THAT(ParseLevel("######\n#PXO__\n######"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("border")));
}

TEST(BoardTest, WalkingAndPushing) {
  Board board(
      MustParse("#######\n"
                "#P_X_O#\n"
                "#_____#\n"
                "#######"));
  MoveOutcome m = board.Move(Action::kUp);  // wall
  EXPECT_TRUE(m.bumped);
  EXPECT_FALSE(m.moved);
  m = board.Move(Action::kRight);
  EXPECT_TRUE(m.moved);
  EXPECT_FALSE(m.pushed);
  m = board.Move(Action::kRight);  // push the box one square
  EXPECT_TRUE(m.pushed);
  EXPECT_FALSE(m.onto_target);
  EXPECT_EQ(Render(board), "#######\n#__PXO#\n#_____#\n#######");
  m = board.Move(Action::kRight);  // onto the target: solved
  EXPECT_TRUE(m.onto_target);
  EXPECT_TRUE(m.solved);
  EXPECT_TRUE(board.solved());
  EXPECT_EQ(Render(board), "#######\n#___P\xE2\x88\x9A#\n#_____#\n#######");
  m = board.Move(Action::kRight);  // box against the wall does not move
  EXPECT_TRUE(m.bumped);
  EXPECT_FALSE(m.pushed);
}

TEST(BoardTest, BoxAgainstBoxDoesNotMoveAndPlayerStandsOnTargets) {
  Board board(
      MustParse("#######\n"
                "#PXX_O#\n"
                "#O____#\n"
                "#######"));
  MoveOutcome m = board.Move(Action::kRight);
  EXPECT_TRUE(m.bumped);
  EXPECT_EQ(board.player(), 8);
  board.Move(Action::kDown);  // onto the target at (2,1)
  EXPECT_EQ(Render(board), "#######\n#_XX_O#\n#S____#\n#######");
}

TEST(BoardTest, PushOffTarget) {
  Board board(
      MustParse("######\n"
                "#P\xE2\x88\x9A__#\n"
                "#____#\n"
                "######"));
  EXPECT_TRUE(board.solved());
  MoveOutcome m = board.Move(Action::kRight);
  EXPECT_TRUE(m.off_target);
  EXPECT_FALSE(m.solved);
  EXPECT_EQ(board.boxes_on_target(), 0);
}

TEST(DeadlockTest, CornerWithoutTargetIsDead) {
  Level level = MustParse(
      "######\n"
      "#__O_#\n"
      "#_XP_#\n"
      "#____#\n"
      "######");
  EXPECT_TRUE(level.cells[1 * 6 + 1] & kDead);   // top-left corner
  EXPECT_FALSE(level.cells[1 * 6 + 3] & kDead);  // the target
  EXPECT_TRUE(level.cells[3 * 6 + 1] & kDead);   // bottom-left corner
  Board board(level);
  MoveOutcome m = board.Move(Action::kLeft);  // box to (2,1): against the left wall, away from the target row
  EXPECT_TRUE(m.pushed);
  EXPECT_TRUE(m.deadlock);
}

TEST(DeadlockTest, FrozenTwoByTwoBlock) {
  // Row 4 holds targets, so a box there is not on a dead square; two boxes side by side against the bottom wall
  // are frozen all the same (neither can ever move), which is a deadlock while one of them is off target.
  Board board(
      MustParse("#######\n"
                "#_____#\n"
                "#_P___#\n"
                "#_XX__#\n"
                "#O_O__#\n"
                "#######"));
  MoveOutcome m = board.Move(Action::kDown);  // box (3,2) -> (4,2)
  EXPECT_TRUE(m.pushed);
  EXPECT_FALSE(m.deadlock);
  board.Move(Action::kUp);
  board.Move(Action::kRight);
  m = board.Move(Action::kDown);  // box (3,3) -> (4,3), onto a target, beside the other box
  EXPECT_TRUE(m.onto_target);
  EXPECT_TRUE(m.deadlock);
}

TEST(SolverTest, FindsShortestSolution) {
  ASSERT_OK_AND_ASSIGN(std::vector<Action> path, Solve(MustParse("#######\n#P_X_O#\n#_____#\n#######"), 40));
  EXPECT_EQ(path.size(), 3u);  // Right, Right, Right
  // Two pushes in different directions need the player to walk around the box: 5 moves (by hand: Right, Down,
  // Left, Down, Right).
  Level level = MustParse(
      "######\n"
      "#P___#\n"
      "#_X__#\n"
      "#__O_#\n"
      "######");
  ASSERT_OK_AND_ASSIGN(std::vector<Action> p2, Solve(level, 40));
  EXPECT_EQ(p2.size(), 5u);
  Board board(level);
  for (Action a : p2) board.Move(a);
  EXPECT_TRUE(board.solved());
}

TEST(SolverTest, UnsolvableLevelsAreNotFound) {
  EXPECT_THAT(Solve(MustParse("######\n#X___#\n#__P_#\n#__O_#\n######"), 40), StatusIs(absl::StatusCode::kNotFound));
  // Solvable, but not within the move budget.
  EXPECT_THAT(Solve(MustParse("#######\n#P_X_O#\n#_____#\n#######"), 2), StatusIs(absl::StatusCode::kNotFound));
}

TEST(SolverTest, PlansFromTheMiddleOfAnEpisode) {
  // After Right (walk), the box is two pushes from the target: the optimum drops from 3 to 2.
  const Level level = MustParse("#######\n#P_X_O#\n#_____#\n#######");
  Board board(level);
  board.Move(Action::kRight);
  const Level now = board.CurrentState(level);
  EXPECT_EQ(now.player, board.player());
  EXPECT_EQ(now.boxes, level.boxes);
  ASSERT_OK_AND_ASSIGN(std::vector<Action> path, Solve(now, 40));
  EXPECT_EQ(path.size(), 2u);
  board.Move(Action::kRight);  // push the box one square
  ASSERT_OK_AND_ASSIGN(path, Solve(board.CurrentState(level), 40));
  EXPECT_EQ(path.size(), 1u);
  EXPECT_NE(board.CurrentState(level).boxes, level.boxes);
}

TEST(SolverTest, AlreadySolvedIsEmpty) {
  ASSERT_OK_AND_ASSIGN(std::vector<Action> path, Solve(MustParse("#####\n#P\xE2\x88\x9A_#\n#####"), 40));
  EXPECT_TRUE(path.empty());
}

TEST(GeneratorTest, SameSeedSameLevel) {
  GeneratorOptions o;
  ASSERT_OK_AND_ASSIGN(Level a, GenerateLevel(123, o));
  ASSERT_OK_AND_ASSIGN(Level b, GenerateLevel(123, o));
  ASSERT_OK_AND_ASSIGN(Level c, GenerateLevel(124, o));
  EXPECT_EQ(a.Grid(), b.Grid());
  EXPECT_EQ(a.OptimalActionString(), b.OptimalActionString());
  EXPECT_NE(a.Grid(), c.Grid());
  EXPECT_THAT(GenerateLevel(1, GeneratorOptions{.side = 20}), StatusIs(absl::StatusCode::kInvalidArgument));
}

// A generator that cannot succeed says why: at once for bounds no level can meet, and with the count of each
// reason for rejection when the attempts run out.
TEST(GeneratorTest, FailuresSayWhy) {
  EXPECT_THAT(GenerateLevel(1, GeneratorOptions{.min_optimal_length = 8, .max_optimal_length = 4}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("min_optimal_length (8) exceeds")));
  // One box in a 5x5 room (at most 3x3 floor): no level needs 30 moves.
  GeneratorOptions hard{.side = 5, .num_boxes = 1, .min_optimal_length = 30, .max_optimal_length = 40};
  hard.max_attempts = 50;
  EXPECT_THAT(GenerateLevel(1, hard),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       ::testing::AllOf(HasSubstr("after 50 attempts"), HasSubstr("under min_optimal_length moves"))));
}

class LevelSetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto set = LevelSet::Build(LevelSetOptions());
    ASSERT_TRUE(set.ok()) << set.status();
    levels_ = new std::shared_ptr<const LevelSet>(*set);
  }
  static std::shared_ptr<const LevelSet>* levels_;
};
std::shared_ptr<const LevelSet>* LevelSetTest::levels_ = nullptr;

TEST_F(LevelSetTest, SizesAndEveryLevelSolvableWithinTheStepLimit) {
  const LevelSet& set = **levels_;
  EXPECT_EQ(set.levels(Split::kTrain).size(), 96u);
  EXPECT_EQ(set.levels(Split::kTest).size(), 64u);
  for (Split split : {Split::kTrain, Split::kTest}) {
    for (const Level& level : set.levels(split)) {
      Board board(level);
      EXPECT_FALSE(board.solved());
      EXPECT_GE(level.optimal_length, 8);
      EXPECT_LE(level.optimal_length, 40);
      EXPECT_EQ(static_cast<int>(level.optimal_actions.size()), level.optimal_length);
      for (Action a : level.optimal_actions) board.Move(a);
      EXPECT_TRUE(board.solved()) << level.Grid();
      EXPECT_EQ(level.num_boxes(), 2);
      EXPECT_EQ(level.width, 6);
    }
  }
}

TEST_F(LevelSetTest, OptimalLengthsAreOptimal) {
  // An independent check on a sample: no solution one move shorter exists.
  const LevelSet& set = **levels_;
  for (int i = 0; i < 8; ++i) {
    const Level& level = set.levels(Split::kTest)[i];
    EXPECT_THAT(Solve(level, level.optimal_length - 1), StatusIs(absl::StatusCode::kNotFound));
  }
}

// The set of optimal first moves against its definition, with Solve as the reference: a move is optimal exactly
// when it changes the state and the rest is solvable in one move less. Checked at every state along the optimal
// path and along random walks of the first test levels (some of which walk into deadlocks: empty or NOT_FOUND).
TEST_F(LevelSetTest, OptimalFirstActionsAreTheMovesThatKeepTheOptimum) {
  const LevelSet& set = **levels_;
  Rng rng(5);
  int checked = 0, with_several = 0;
  for (int i = 0; i < 6; ++i) {
    const Level& level = set.levels(Split::kTest)[i];
    for (int walk = 0; walk < 3; ++walk) {
      Board board(level);
      for (int t = 0; t < 12 && !board.solved(); ++t) {
        const Level now = board.CurrentState(level);
        absl::StatusOr<std::vector<Action>> best = Solve(now, 60);
        absl::StatusOr<std::vector<Action>> first = OptimalFirstActions(now, 60);
        ASSERT_EQ(best.ok(), first.ok()) << now.Grid();
        if (best.ok()) {
          std::vector<Action> want;
          for (int a = 0; a < kNumActions; ++a) {
            Board next = board;
            if (!next.Move(static_cast<Action>(a)).moved) continue;
            absl::StatusOr<std::vector<Action>> rest = Solve(next.CurrentState(level), 60);
            if (rest.ok() && rest->size() + 1 == best->size()) want.push_back(static_cast<Action>(a));
          }
          EXPECT_EQ(*first, want) << now.Grid();
          with_several += first->size() > 1 ? 1 : 0;
          ++checked;
        }
        const Action move = walk == 0 && t < static_cast<int>(level.optimal_actions.size())
                                ? level.optimal_actions[static_cast<size_t>(t)]
                                : static_cast<Action>(rng.Uniform(kNumActions));
        board.Move(move);
      }
    }
  }
  EXPECT_GT(checked, 50);
  EXPECT_GT(with_several, 0);  // the check covers states with more than one optimal move
  ASSERT_OK_AND_ASSIGN(std::vector<Action> solved,
                       OptimalFirstActions(MustParse("#####\n#P\xE2\x88\x9A_#\n#####"), 40));
  EXPECT_TRUE(solved.empty());
  EXPECT_THAT(OptimalFirstActions(MustParse("######\n#X___#\n#__P_#\n#__O_#\n######"), 40),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST_F(LevelSetTest, SplitsAreDisjointAndStable) {
  const LevelSet& set = **levels_;
  std::set<std::string> train;
  for (const Level& level : set.levels(Split::kTrain)) train.insert(level.Grid());
  EXPECT_EQ(train.size(), 96u);
  for (const Level& level : set.levels(Split::kTest)) EXPECT_EQ(train.count(level.Grid()), 0u);
  // Golden fingerprint of both splits: identical on every machine and every run. If the generator changes on
  // purpose, update this value and say so in the commit (it changes every published level).
  EXPECT_EQ(set.Fingerprint(), 0x0ace7cbb55ccd2d3u) << std::hex << "fingerprint 0x" << set.Fingerprint();
  ASSERT_OK_AND_ASSIGN(auto again, LevelSet::Build(LevelSetOptions()));
  EXPECT_EQ(again->Fingerprint(), set.Fingerprint());
}

// The warm start learns from more levels of the training stream than RL trains on; none of them may be a test
// level, and the warm start (which builds its set with train_levels = warm_start_levels) must see the same test
// split as the experiment. With 400 levels this is not vacuous: one of the 96-level set's test levels is among
// training-stream levels 96..399.
TEST_F(LevelSetTest, WarmStartLevelsStayOutOfTheTestSplit) {
  LevelSetOptions experiment;
  experiment.warm_start_levels = 400;
  LevelSetOptions warm_start = experiment;
  warm_start.train_levels = 400;
  ASSERT_OK_AND_ASSIGN(auto set, LevelSet::Build(experiment));
  ASSERT_OK_AND_ASSIGN(auto demo, LevelSet::Build(warm_start));
  ASSERT_EQ(set->levels(Split::kTrain).size(), 96u);
  ASSERT_EQ(demo->levels(Split::kTrain).size(), 400u);
  std::set<std::string> seen;
  for (const Level& level : demo->levels(Split::kTrain)) seen.insert(level.Grid());
  for (size_t i = 0; i < 96; ++i) {  // the training split is the warm-start levels' prefix
    EXPECT_EQ(set->levels(Split::kTrain)[i].seed, demo->levels(Split::kTrain)[i].seed);
  }
  int differs_from_default = 0;
  for (size_t i = 0; i < 64; ++i) {
    const Level& test = set->levels(Split::kTest)[i];
    EXPECT_EQ(seen.count(test.Grid()), 0u) << "test level " << i << " is a warm-start level";
    EXPECT_EQ(test.seed, demo->levels(Split::kTest)[i].seed);
    differs_from_default += test.seed != (**levels_).levels(Split::kTest)[i].seed;
  }
  EXPECT_GT(differs_from_default, 0);
  // warm_start_levels <= train_levels changes nothing.
  LevelSetOptions fewer;
  fewer.warm_start_levels = 50;
  ASSERT_OK_AND_ASSIGN(auto same, LevelSet::Build(fewer));
  EXPECT_EQ(same->Fingerprint(), (**levels_).Fingerprint());
}

TEST_F(LevelSetTest, CurriculumIsByOptimalLength) {
  const LevelSet& set = **levels_;
  const std::vector<int>& order = set.curriculum();
  ASSERT_EQ(order.size(), 96u);
  for (size_t i = 1; i < order.size(); ++i) {
    EXPECT_LE(set.levels(Split::kTrain)[order[i - 1]].optimal_length,
              set.levels(Split::kTrain)[order[i]].optimal_length);
  }
  EXPECT_EQ(std::set<int>(order.begin(), order.end()).size(), 96u);
}

TEST_F(LevelSetTest, RandomPolicyRarelySolvesTestLevels) {
  const LevelStats stats = ComputeLevelStats((**levels_).levels(Split::kTest), 100, 40, 7);
  EXPECT_EQ(stats.episodes, 6400);
  EXPECT_LT(stats.random_solve_rate(), 0.05);
}

TEST_F(LevelSetTest, GetChecksIndices) {
  const LevelSet& set = **levels_;
  EXPECT_THAT(set.Get(Split::kTest, 64, 0), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  EXPECT_THAT(set.Get(Split::kTrain, -1, 0), StatusIs(absl::StatusCode::kInvalidArgument));
  ASSERT_OK_AND_ASSIGN(Level p, set.Get(Split::kProcedural, 0, 99));
  ASSERT_OK_AND_ASSIGN(Level q, set.Get(Split::kProcedural, 5, 99));
  EXPECT_EQ(p.Grid(), q.Grid());
}

TEST(TaskIdTest, CanonicalIdsRoundTrip) {
  EXPECT_EQ(TaskId("sokoban", {Split::kProcedural, 0, 99}), "sokoban/procedural/99");
  EXPECT_EQ(TaskId("sokoban", {Split::kTrain, 17, 0}), "sokoban/train/17");
  for (const EnvTask& task : {EnvTask{Split::kTrain, 17, 0}, EnvTask{Split::kTest, 0, 0},
                              EnvTask{Split::kProcedural, 0, 12345678901234ull}}) {
    ASSERT_OK_AND_ASSIGN(EnvTask back, ParseTaskId(TaskId("frozen_lake", task)));
    EXPECT_EQ(back.split, task.split);
    EXPECT_EQ(back.index, task.index);
    EXPECT_EQ(back.seed, task.seed);
  }
  for (const char* bad : {"", "sokoban", "sokoban/train", "sokoban/validation/0", "sokoban/train/x", "/train/1",
                          "sokoban/train/1/2", "sokoban/train/-1", "sokoban/train/99999999999"}) {
    EXPECT_THAT(ParseTaskId(bad), StatusIs(absl::StatusCode::kInvalidArgument)) << bad;
  }
  EXPECT_THAT(ParseSplit("validation"), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("train, test")));
}

}  // namespace
}  // namespace skillsd::sokoban
