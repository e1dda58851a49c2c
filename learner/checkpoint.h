// Learner checkpoints: weights (safetensors), optimizer state (LibTorch archive), and the learner's own state
// (step, curriculum cursor, trainer counters, the ids of every consumed group) — enough to resume exactly:
// N steps straight and N/2 + restart + N/2 give bitwise-identical weights.
//
// Layout: <dir>/ckpt-<step>/{model.safetensors, optimizer.pt, state.json} and <dir>/LATEST naming the newest
// complete checkpoint. Every file is written atomically and LATEST last, so a crash mid-save leaves the previous
// checkpoint in force. Not thread-safe.
#ifndef SKILLSD_LEARNER_CHECKPOINT_H_
#define SKILLSD_LEARNER_CHECKPOINT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "learner/trainer.h"

namespace skillsd::learner {

struct LearnerState {
  int64_t step = 0;               // learner steps taken (= policy version)
  int64_t curriculum_cursor = 0;  // next position in the task order
  std::vector<std::string> consumed_group_ids;
};

// Saves a checkpoint of `trainer` and `state` under `dir` (created if needed); returns its directory.
absl::StatusOr<std::string> SaveCheckpoint(const std::string& dir, Trainer& trainer, const LearnerState& state);

// Restores the newest checkpoint under `dir` into `trainer` (whose model must have the same architecture).
// NOT_FOUND when there is none; INVALID_ARGUMENT / DATA_LOSS for a damaged one (the trainer is unchanged then
// only if the failure happens before the weights are copied; callers treat any error as fatal).
absl::StatusOr<LearnerState> LoadLatestCheckpoint(const std::string& dir, Trainer* trainer);

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_CHECKPOINT_H_
