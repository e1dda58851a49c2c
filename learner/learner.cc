#include "learner/learner.h"

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/logging.h"
#include "core/status.h"
#include "learner/learner_metrics.h"
#include "learner/step_report.h"
#include "learner/training_options.h"
#include "weights/model_snapshot.h"

namespace skillsd::learner {

Learner::Learner(const ExperimentConfig& config, model::CausalLM model, LearnerOptions options,
                 weights::WeightsPublisher* publisher)
    : config_(config), options_(std::move(options)), publisher_(publisher) {
  TrainerOptions trainer = TrainerOptionsFor(config);
  trainer.data_parallel = options_.data_parallel;
  trainer_ = std::make_unique<Trainer>(std::move(model), trainer);
}

absl::StatusOr<std::unique_ptr<Learner>> Learner::Create(const ExperimentConfig& config, model::CausalLM model,
                                                         LearnerOptions options, weights::WeightsPublisher* publisher) {
  if (options.tasks.empty()) return absl::InvalidArgumentError("the learner needs at least one task");
  std::unique_ptr<Learner> learner(new Learner(config, std::move(model), std::move(options), publisher));
  std::vector<skillsd::v1::Group> logged;
  const std::string& dir = learner->options_.checkpoint_dir;
  LearnerState restored;
  if (!dir.empty()) {
    RETURN_IF_ERROR(MakeDirectories(dir));
    absl::StatusOr<LearnerState> state = LoadLatestCheckpoint(dir, learner->trainer_.get());
    if (state.ok()) {
      restored = *state;
      SKILLSD_LOG(INFO) << "learner: resumed from step " << restored.step << " in " << dir;
    } else if (state.status().code() != absl::StatusCode::kNotFound) {
      return state.status();
    }
    ASSIGN_OR_RETURN(logged, IntakeLog::ReadAll(dir + "/intake.log"));
    ASSIGN_OR_RETURN(learner->log_, IntakeLog::Open(dir + "/intake.log"));
  }
  // The other ranks start from what rank 0 starts from: its checkpoint, when it resumed.
  RETURN_IF_ERROR(learner->trainer_->SyncFromRankZero());
  IntakeOptions intake;
  intake.capacity = config.learner.queue_capacity;
  intake.max_policy_lag = config.algorithm.max_policy_lag;
  intake.log = learner->log_.get();
  learner->intake_ = std::make_unique<GroupIntake>(intake);
  learner->intake_->RestoreConsumed(restored.consumed_group_ids);
  const int recovered = learner->intake_->Recover(std::move(logged));
  if (recovered > 0) SKILLSD_LOG(INFO) << "learner: " << recovered << " acknowledged groups recovered from the log";
  {
    absl::MutexLock lock(&learner->mu_);
    learner->state_ = restored;
    learner->PlanVersion();
  }
  RETURN_IF_ERROR(learner->Publish());
  if (learner->finished()) RETURN_IF_ERROR(learner->ReleaseRanks());
  LearnerMetrics& metrics = LearnerMetrics::Get();
  metrics.total_steps.Set(config.learner.total_steps);
  metrics.version.Set(static_cast<double>(learner->version()));
  for (const char* disposition : {"accepted", "duplicate", "dropped_stale"}) {
    metrics.groups.Add({{"disposition", disposition}});  // at zero from the start, for dashboards and alerts
  }
  return learner;
}

void Learner::PlanVersion() {
  plan_ = WorkPlan(state_.step, options_.tasks, state_.curriculum_cursor, config_.algorithm.tasks_per_step);
}

absl::Status Learner::Publish() {
  const int64_t version = this->version();
  ASSIGN_OR_RETURN(
      weights::Snapshot snapshot,
      weights::SnapshotFromModel(*trainer_->model(), version,
                                 config_.learner.publish_bf16 ? skillsd::v1::DTYPE_BF16 : skillsd::v1::DTYPE_F32));
  publisher_->Publish(std::make_shared<weights::Snapshot>(std::move(snapshot)));
  const auto teacher = publisher_->Latest(skillsd::v1::SUBSCRIBER_ROLE_TEACHER);
  absl::MutexLock lock(&mu_);
  teacher_version_pushed_ = teacher == nullptr ? -1 : teacher->version;
  return absl::OkStatus();
}

skillsd::v1::GetWorkResponse Learner::GetWork(const skillsd::v1::GetWorkRequest& request) {
  absl::MutexLock lock(&mu_);
  if (auto it = answered_.find(request.request_id()); !request.request_id().empty() && it != answered_.end()) {
    return it->second;
  }
  skillsd::v1::GetWorkResponse response;
  if (state_.step >= config_.learner.total_steps) {
    response.set_finished(true);
    return response;
  }
  const absl::Time now = absl::Now();
  auto* work = response.mutable_work();
  plan_.Lease(now, options_.lease, work);
  if (work->tasks().empty()) {
    response.clear_work();
    response.set_retry_after_ms(200);
  } else {
    work->set_work_id(absl::StrCat("v", plan_.version(), "-w", work_counter_++));
    work->set_policy_version(plan_.version());
    work->set_group_size(config_.algorithm.group_size);
    work->set_mode(ToProto(config_.algorithm.mode));
    auto* sampling = work->mutable_sampling();
    sampling->set_temperature(static_cast<float>(config_.algorithm.temperature));
    sampling->set_top_k(config_.algorithm.top_k);
    sampling->set_top_p(static_cast<float>(config_.algorithm.top_p));
    sampling->set_max_new_tokens(config_.algorithm.max_new_tokens);
    work->set_min_teacher_version(Traits(config_.algorithm.mode).needs_teacher ? teacher_version_pushed_ : -1);
    work->set_lease_deadline_unix_ms(absl::ToUnixMillis(now + options_.lease));
  }
  if (!request.request_id().empty()) {
    if (answered_.size() > 4096) answered_.clear();
    answered_[request.request_id()] = response;
  }
  return response;
}

absl::StatusOr<skillsd::v1::SubmitGroupResponse> Learner::Submit(const skillsd::v1::SubmitGroupRequest& request,
                                                                 absl::Time deadline) {
  GroupRequirements requirements;
  requirements.vocab_size = trainer_->model()->config().vocab_size;
  requirements.needs_teacher = Traits(config_.algorithm.mode).needs_teacher;
  requirements.current_version = version();
  RETURN_IF_ERROR(ValidateGroup(request.group(), requirements));
  ASSIGN_OR_RETURN(skillsd::v1::GroupDisposition disposition,
                   intake_->Submit(request.group(), requirements.current_version, deadline));
  static const char* kDispositions[] = {"unspecified", "accepted", "duplicate", "dropped_stale"};
  LearnerMetrics::Get().groups.Add({{"disposition", kDispositions[disposition]}}).Increment();
  LearnerMetrics::Get().queued.Set(static_cast<double>(intake_->queued()));
  skillsd::v1::SubmitGroupResponse response;
  response.set_disposition(disposition);
  absl::MutexLock lock(&mu_);
  response.set_policy_version(state_.step);
  // A planned task whose group is in is not handed out again.
  plan_.MarkDone(request.group().group_id());
  return response;
}

skillsd::v1::GetLearnerStatusResponse Learner::Status() const {
  skillsd::v1::GetLearnerStatusResponse status;
  absl::MutexLock lock(&mu_);
  status.set_policy_version(state_.step);
  status.set_total_steps(config_.learner.total_steps);
  status.set_groups_consumed(static_cast<int64_t>(state_.consumed_group_ids.size()));
  status.set_groups_queued(intake_->queued());
  status.set_groups_dropped_stale(intake_->dropped_stale());
  status.set_teacher_version_pushed(teacher_version_pushed_);
  status.set_mode(ToProto(config_.algorithm.mode));
  status.set_finished(state_.step >= config_.learner.total_steps);
  return status;
}

bool Learner::finished() const {
  absl::MutexLock lock(&mu_);
  return state_.step >= config_.learner.total_steps;
}

int64_t Learner::version() const {
  absl::MutexLock lock(&mu_);
  return state_.step;
}

absl::Status Learner::ExportModel(const std::string& dir) { return model::SaveModel(trainer_->model(), dir); }

StepStats Learner::last_stats() const {
  absl::MutexLock lock(&mu_);
  return last_stats_;
}

absl::StatusOr<bool> Learner::RunStep(absl::Duration timeout) {
  if (finished()) return false;
  const int64_t current = version();
  const int needed = config_.algorithm.tasks_per_step;
  // Groups taken from the intake but not trained yet stay with the loop between calls.
  std::vector<skillsd::v1::Group> more = intake_->Take(needed - static_cast<int>(pending_.size()), current, timeout);
  for (auto& g : more) pending_.push_back(std::move(g));
  if (static_cast<int>(pending_.size()) < needed) {
    // The other ranks wait in a collective, which times out: keep it alive while actors play.
    if (absl::Now() - last_told_ > absl::Seconds(10)) {
      skillsd::v1::RankCommand heartbeat;
      heartbeat.set_kind(skillsd::v1::RankCommand::KIND_HEARTBEAT);
      RETURN_IF_ERROR(Tell(heartbeat));
    }
    return false;
  }
  const double waited = absl::ToDoubleSeconds(absl::Now() - waiting_since_);
  double lag = 0;
  for (const auto& g : pending_) lag += static_cast<double>(current - g.versions().policy_version());
  lag /= static_cast<double>(pending_.size());
  const std::vector<TrainingSequence> batch = StepBatch(pending_, AdvantageOptionsFor(config_));
  if (HasOtherRanks()) {
    skillsd::v1::RankCommand step;
    step.set_kind(skillsd::v1::RankCommand::KIND_STEP);
    step.set_policy_version(current);
    for (const auto& group : pending_) *step.add_groups() = group;
    RETURN_IF_ERROR(Tell(step));
  }
  ASSIGN_OR_RETURN(StepStats stats, trainer_->Step(batch));
  GroupsSummary played = SummarizeGroups(pending_);
  std::string trained_ids;  // metrics.csv's audit column
  for (const auto& group : pending_) absl::StrAppend(&trained_ids, trained_ids.empty() ? "" : ";", group.group_id());
  pending_.clear();
  {
    absl::MutexLock lock(&mu_);
    state_.step += 1;
    state_.curriculum_cursor += needed;
    state_.consumed_group_ids = intake_->ConsumedIds();
    last_stats_ = stats;
    PlanVersion();
  }
  absl::Time phase_start = absl::Now();
  RETURN_IF_ERROR(Publish());
  const double publish_seconds = absl::ToDoubleSeconds(absl::Now() - phase_start);
  phase_start = absl::Now();
  const int every = config_.learner.checkpoint_every;
  if (!options_.checkpoint_dir.empty() && ((every > 0 && version() % every == 0) || finished())) {
    RETURN_IF_ERROR(Checkpoint());
  }
  const double checkpoint_seconds = absl::ToDoubleSeconds(absl::Now() - phase_start);
  if (finished()) RETURN_IF_ERROR(ReleaseRanks());
  StepReport report;
  report.version = version();
  report.stats = stats;
  report.policy_lag = lag;
  report.wait_s = waited;
  report.publish_s = publish_seconds;
  report.checkpoint_s = checkpoint_seconds;
  report.trained_group_ids = std::move(trained_ids);
  report.queued = intake_->queued();
  report.teacher_version = Status().teacher_version_pushed();
  report.groups = std::move(played);
  RecordStepMetrics(report);
  if (!options_.metrics_csv.empty()) AppendStepCsv(options_.metrics_csv, report);
  waiting_since_ = absl::Now();
  return true;
}

absl::Status Learner::Checkpoint() {
  if (options_.checkpoint_dir.empty()) return absl::OkStatus();
  LearnerState state;
  {
    absl::MutexLock lock(&mu_);
    state_.consumed_group_ids = intake_->ConsumedIds();
    state = state_;
  }
  // Groups taken but not trained yet are not consumed: keep them out of the checkpoint and in the log.
  for (const auto& g : pending_) {
    state.consumed_group_ids.erase(
        std::remove(state.consumed_group_ids.begin(), state.consumed_group_ids.end(), g.group_id()),
        state.consumed_group_ids.end());
  }
  RETURN_IF_ERROR(SaveCheckpoint(options_.checkpoint_dir, *trainer_, state).status());
  if (log_ != nullptr) {
    std::vector<skillsd::v1::Group> keep = intake_->Pending();
    keep.insert(keep.end(), pending_.begin(), pending_.end());
    RETURN_IF_ERROR(log_->Rewrite(keep));
  }
  return absl::OkStatus();
}

bool Learner::HasOtherRanks() const {
  return options_.data_parallel != nullptr && options_.data_parallel->world_size() > 1;
}

absl::Status Learner::Tell(const skillsd::v1::RankCommand& command) {
  if (!HasOtherRanks()) return absl::OkStatus();
  last_told_ = absl::Now();
  std::string bytes = command.SerializeAsString();
  return CatchExceptions("broadcasting to the other ranks", [&]() -> absl::Status {
    options_.data_parallel->BroadcastBytes(&bytes);
    return absl::OkStatus();
  });
}

absl::Status Learner::ReleaseRanks() {
  if (ranks_released_) return absl::OkStatus();
  ranks_released_ = true;
  skillsd::v1::RankCommand finish;
  finish.set_kind(skillsd::v1::RankCommand::KIND_FINISH);
  return Tell(finish);
}

}  // namespace skillsd::learner
