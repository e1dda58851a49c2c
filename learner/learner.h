// The learner process's domain core (no gRPC): hands out work (tasks in curriculum order, G episodes each,
// leased to actors), takes scored groups exactly once, trains one step per policy version once all of its
// groups are in (synchronous mode) — or as groups arrive within the allowed lag (asynchronous) —, publishes the
// new weights (actors every step, the teacher on its schedule), checkpoints every N steps and on Stop, and
// resumes from the newest checkpoint. Thread-safe.
#ifndef SKILLSD_LEARNER_LEARNER_H_
#define SKILLSD_LEARNER_LEARNER_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/config.h"
#include "learner/checkpoint.h"
#include "learner/distributed.h"
#include "learner/groups.h"
#include "learner/intake.h"
#include "learner/trainer.h"
#include "learner/training_options.h"
#include "learner/work_plan.h"
#include "skillsd/v1/learner.pb.h"
#include "weights/publisher.h"

namespace skillsd::learner {

struct LearnerOptions {
  std::string checkpoint_dir;               // also holds the intake log; empty = no checkpoints
  std::vector<skillsd::v1::TaskRef> tasks;  // the task order (curriculum); cycled
  absl::Duration lease = absl::Minutes(5);  // unfinished tasks are handed out again after this
  std::string metrics_csv;                  // one row per step appended here; empty = none
  // Data-parallel ranks (not owned; null or one rank = none). This learner is rank 0: it serves, and tells the
  // other ranks (RunRankFollower) what to train each step.
  DataParallel* data_parallel = nullptr;
};

class Learner {
 public:
  // Restores the newest checkpoint under checkpoint_dir when there is one, replays the intake log, and
  // publishes the current weights as the first snapshot.
  static absl::StatusOr<std::unique_ptr<Learner>> Create(const ExperimentConfig& config, model::CausalLM model,
                                                         LearnerOptions options, weights::WeightsPublisher* publisher);

  // Leases tasks of the current version to an actor. The same request_id gets the same answer.
  skillsd::v1::GetWorkResponse GetWork(const skillsd::v1::GetWorkRequest& request);
  // Validates (INVALID_ARGUMENT names the field) and takes a group exactly once.
  absl::StatusOr<skillsd::v1::SubmitGroupResponse> Submit(const skillsd::v1::SubmitGroupRequest& request,
                                                          absl::Time deadline);
  skillsd::v1::GetLearnerStatusResponse Status() const;

  // Trains one step when its groups are in, waiting up to `timeout` for them. Returns true when a step was taken.
  absl::StatusOr<bool> RunStep(absl::Duration timeout);
  // Writes a checkpoint now (and compacts the intake log). Call from the thread that runs RunStep.
  absl::Status Checkpoint();
  // Tells the other data-parallel ranks to stop (once; RunStep does it when training finishes). Call from the
  // thread that runs RunStep.
  absl::Status ReleaseRanks();
  bool finished() const;
  int64_t version() const;

  // Writes the current weights as a Hugging Face folder (config.json + model.safetensors) into `dir`. Call from
  // the thread that runs RunStep.
  absl::Status ExportModel(const std::string& dir);

  // The statistics of the last step (for metrics and metrics.csv).
  StepStats last_stats() const;

 private:
  Learner(const ExperimentConfig& config, model::CausalLM model, LearnerOptions options,
          weights::WeightsPublisher* publisher);
  void PlanVersion() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Publish();
  bool HasOtherRanks() const;
  // Broadcasts `command` to the other ranks (no-op without data parallelism).
  absl::Status Tell(const skillsd::v1::RankCommand& command);

  const ExperimentConfig config_;
  const LearnerOptions options_;
  weights::WeightsPublisher* publisher_;
  std::unique_ptr<IntakeLog> log_;
  std::unique_ptr<GroupIntake> intake_;
  std::unique_ptr<Trainer> trainer_;         // used by RunStep and Checkpoint only (the loop thread)
  std::vector<skillsd::v1::Group> pending_;  // taken for the next step, not trained yet (loop thread)

  mutable absl::Mutex mu_;
  LearnerState state_ ABSL_GUARDED_BY(mu_);
  WorkPlan plan_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, skillsd::v1::GetWorkResponse> answered_ ABSL_GUARDED_BY(mu_);  // by request_id
  int64_t work_counter_ ABSL_GUARDED_BY(mu_) = 0;
  StepStats last_stats_ ABSL_GUARDED_BY(mu_);
  int64_t teacher_version_pushed_ ABSL_GUARDED_BY(mu_) = -1;
  absl::Time waiting_since_ = absl::Now();  // loop thread: when the current step started waiting for groups
  absl::Time last_told_ = absl::Now();      // loop thread: the last command to the other ranks
  bool ranks_released_ = false;             // loop thread
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_LEARNER_H_
