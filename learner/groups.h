// Scored groups, from the wire to the trainer: validation (bad groups get INVALID_ARGUMENT naming the field
// and change nothing), and conversion into TrainingSequences with group-normalised advantages.
#ifndef SKILLSD_LEARNER_GROUPS_H_
#define SKILLSD_LEARNER_GROUPS_H_

#include <vector>

#include "absl/status/status.h"
#include "learner/trainer.h"
#include "skillsd/v1/rollout.pb.h"

namespace skillsd::learner {

struct GroupRequirements {
  int64_t vocab_size = 0;
  int64_t current_version = 0;  // groups from a later policy version are invalid
  bool needs_teacher = false;   // every GENERATED segment must carry teacher log-probs
  int max_trajectories = 1024;
  int64_t max_tokens = 1 << 22;  // over all sequences of the group
};

// OK, or INVALID_ARGUMENT with the path of the first problem ("trajectories[1].sequences[0].segments[2]: ...").
absl::Status ValidateGroup(const skillsd::v1::Group& group, const GroupRequirements& requirements);

struct AdvantageOptions {
  double eps = 1e-6;
  bool sample_std = false;
  // Weight each trajectory's loss tokens by (the group's mean generated tokens per trajectory) / (its own), so
  // every trajectory counts equally in the token mean (algorithm.loss_aggregation: trajectory_mean). Without it
  // (token_mean, the SPEC's) a long failed multi-turn episode outweighs a short solved one, and the tokens every
  // answer shares (the answer format) get a net negative push.
  bool balance_trajectories = false;
};

// One TrainingSequence per sequence of every trajectory; each carries its trajectory's group-normalised
// advantage (from EpisodeStats.episode_return). The group must have passed ValidateGroup.
std::vector<TrainingSequence> ToTrainingSequences(const skillsd::v1::Group& group, const AdvantageOptions& options);

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_GROUPS_H_
