// The loop of a data-parallel learner rank other than 0 (learner/learner.h is rank 0's).
#ifndef SKILLSD_LEARNER_RANK_FOLLOWER_H_
#define SKILLSD_LEARNER_RANK_FOLLOWER_H_

#include "absl/status/status.h"
#include "core/config.h"
#include "learner/distributed.h"
#include "model/transformer.h"

namespace skillsd::learner {

// Takes rank 0's weights and optimizer state, then trains each step on the groups rank 0 broadcasts (converted
// exactly as rank 0 converts them), until rank 0 says finish. `model` must be the one rank 0 starts from (the
// same model folder). Returns OK on finish; an error when a collective fails (rank 0 died): the process should
// exit so that every rank restarts from rank 0's checkpoint.
absl::Status RunRankFollower(const ExperimentConfig& config, model::CausalLM model, DataParallel* data_parallel);

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_RANK_FOLLOWER_H_
