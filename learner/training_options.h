// The learner's training settings from the experiment configuration (trainer, losses, advantages), and the
// batch of a step: one definition that rank 0 (learner/learner.h) and the other ranks (learner/rank_follower.h)
// both train by.
#ifndef SKILLSD_LEARNER_TRAINING_OPTIONS_H_
#define SKILLSD_LEARNER_TRAINING_OPTIONS_H_

#include <vector>

#include "core/config.h"
#include "learner/groups.h"
#include "learner/losses.h"
#include "learner/trainer.h"
#include "skillsd/v1/common.pb.h"

namespace skillsd::learner {

// The loss weights of a training mode (SPEC §5). opd trains on the SDL term alone, with weight 1.
LossOptions LossOptionsFor(const AlgorithmConfig& algorithm);
TrainerOptions TrainerOptionsFor(const ExperimentConfig& config);
AdvantageOptions AdvantageOptionsFor(const ExperimentConfig& config);
skillsd::v1::TrainingMode ToProto(TrainingMode mode);

// The training sequences of a step's groups, in group order (rank 0 and the other ranks build the same batch).
template <typename Groups>
inline std::vector<TrainingSequence> StepBatch(const Groups& groups, const AdvantageOptions& advantage) {
  std::vector<TrainingSequence> batch;
  for (const skillsd::v1::Group& group : groups) {
    std::vector<TrainingSequence> sequences = ToTrainingSequences(group, advantage);
    batch.insert(batch.end(), sequences.begin(), sequences.end());
  }
  return batch;
}

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_TRAINING_OPTIONS_H_
