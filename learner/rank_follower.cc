#include "learner/rank_follower.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "core/logging.h"
#include "core/status.h"
#include "learner/training_options.h"
#include "skillsd/v1/learner.pb.h"

namespace skillsd::learner {

absl::Status RunRankFollower(const ExperimentConfig& config, model::CausalLM model, DataParallel* dp) {
  if (dp == nullptr || dp->rank() == 0) return absl::InvalidArgumentError("RunRankFollower is for ranks other than 0");
  TrainerOptions options = TrainerOptionsFor(config);
  options.data_parallel = dp;
  // Collective order as on rank 0: the trainer's construction (weights broadcast), then the state sync.
  Trainer trainer(std::move(model), options);
  RETURN_IF_ERROR(trainer.SyncFromRankZero());
  const AdvantageOptions advantage = AdvantageOptionsFor(config);
  SKILLSD_LOG(INFO) << "learner rank " << dp->rank() << " of " << dp->world_size() << ": following rank 0 ("
                    << dp->backend() << ")";
  while (true) {
    std::string bytes;
    RETURN_IF_ERROR(CatchExceptions("waiting for rank 0", [&]() -> absl::Status {
      dp->BroadcastBytes(&bytes);
      return absl::OkStatus();
    }));
    skillsd::v1::RankCommand command;
    if (!command.ParseFromString(bytes)) return absl::InternalError("rank 0 sent a malformed command");
    switch (command.kind()) {
      case skillsd::v1::RankCommand::KIND_FINISH:
        SKILLSD_LOG(INFO) << "learner rank " << dp->rank() << ": rank 0 finished";
        return absl::OkStatus();
      case skillsd::v1::RankCommand::KIND_HEARTBEAT:
        continue;
      case skillsd::v1::RankCommand::KIND_STEP: {
        ASSIGN_OR_RETURN(StepStats stats, trainer.Step(StepBatch(command.groups(), advantage)));
        SKILLSD_LOG(INFO) << "learner rank " << dp->rank() << ": step " << command.policy_version() + 1 << " loss "
                          << stats.loss << " tokens " << stats.tokens;
        break;
      }
      default:
        return absl::InternalError(absl::StrCat("rank 0 sent an unknown command kind ", command.kind()));
    }
  }
}

}  // namespace skillsd::learner
