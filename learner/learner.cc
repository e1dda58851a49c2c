#include "learner/learner.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "core/file_util.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/status.h"
#include "weights/model_snapshot.h"

namespace skillsd::learner {
namespace {

// Prometheus series of the learner (names in docs/learner.md).
struct LearnerMetrics {
  prometheus::Gauge& version;
  prometheus::Counter& steps;
  prometheus::Counter& tokens;
  prometheus::Family<prometheus::Gauge>& loss;
  prometheus::Family<prometheus::Gauge>& stat;
  prometheus::Family<prometheus::Histogram>& phase;
  prometheus::Family<prometheus::Counter>& groups;
  prometheus::Gauge& queued;
  prometheus::Gauge& teacher_version;
  prometheus::Gauge& policy_lag;
  prometheus::Gauge& total_steps;

  static LearnerMetrics& Get() {
    static LearnerMetrics* m = [] {
      auto& registry = MetricsRegistry();
      return new LearnerMetrics{
          prometheus::BuildGauge()
              .Name("skillsd_learner_policy_version")
              .Help("Policy version (learner steps).")
              .Register(registry)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_learner_steps_total")
              .Help("Learner steps taken.")
              .Register(registry)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_learner_tokens_total")
              .Help("Loss tokens trained on (all epochs).")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_loss")
              .Help("Loss terms of the last step, by term.")
              .Register(registry),
          prometheus::BuildGauge()
              .Name("skillsd_learner_stat")
              .Help("Statistics of the last step (clip fraction, ratio, rho, KL, grad norm, learning rate, tokens/s).")
              .Register(registry),
          prometheus::BuildHistogram()
              .Name("skillsd_learner_phase_seconds")
              .Help("Time per learner step phase.")
              .Register(registry),
          prometheus::BuildCounter()
              .Name("skillsd_learner_groups_total")
              .Help("Submitted groups, by disposition.")
              .Register(registry),
          prometheus::BuildGauge()
              .Name("skillsd_learner_groups_queued")
              .Help("Groups waiting for training.")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_teacher_version")
              .Help("Newest version pushed to the teacher.")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_policy_lag")
              .Help("Mean versions between a trained group's policy and the learner's.")
              .Register(registry)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_learner_total_steps")
              .Help("Steps this run trains for (learner.total_steps).")
              .Register(registry)
              .Add({}),
      };
    }();
    return *m;
  }
  void Phase(const char* name, double seconds) { phase.Add({{"phase", name}}, LatencyBuckets()).Observe(seconds); }
};

}  // namespace

LossOptions LossOptionsFor(const AlgorithmConfig& a) {
  LossOptions o;
  o.clip_low = a.clip_low;
  o.clip_high = a.clip_high;
  o.max_neg_log_gap = a.max_neg_log_gap;
  o.max_log_rho = a.max_log_rho;
  o.kl_ref_coef = a.kl_ref_coef;
  o.entropy_coef = a.entropy_coef;
  const ModeTraits& mode = Traits(a.mode);
  o.grpo_coef = mode.grpo_coef;
  o.sdl_coef = mode.SdlCoef(a.sdl_coef);
  return o;
}

TrainerOptions TrainerOptionsFor(const ExperimentConfig& c) {
  TrainerOptions o;
  o.objective = Objective::kSkillSd;
  o.loss = LossOptionsFor(c.algorithm);
  o.learning_rate = c.learner.learning_rate;
  o.warmup_steps = c.learner.warmup_steps;
  o.weight_decay = c.learner.weight_decay;
  o.grad_clip = c.learner.grad_clip;
  o.ppo_epochs = c.learner.ppo_epochs;
  o.minibatches = c.learner.minibatches;
  o.micro_batch_tokens = c.learner.micro_batch_tokens;
  o.temperature = c.algorithm.temperature;
  o.seed = c.run.seed;
  o.bf16_autocast = c.learner.bf16_autocast;
  o.activation_checkpointing = c.learner.activation_checkpointing;
  return o;
}

namespace {

// The training sequences of a step's groups, in group order (rank 0 and the other ranks build the same batch).
template <typename Groups>
std::vector<TrainingSequence> StepBatch(const Groups& groups, const AdvantageOptions& advantage) {
  std::vector<TrainingSequence> batch;
  for (const skillsd::v1::Group& group : groups) {
    std::vector<TrainingSequence> sequences = ToTrainingSequences(group, advantage);
    batch.insert(batch.end(), sequences.begin(), sequences.end());
  }
  return batch;
}

}  // namespace

AdvantageOptions AdvantageOptionsFor(const ExperimentConfig& c) {
  AdvantageOptions o;
  o.eps = c.algorithm.advantage_eps;
  o.sample_std = c.algorithm.advantage_std == "sample";
  o.balance_trajectories = c.algorithm.loss_aggregation == "trajectory_mean";
  return o;
}

skillsd::v1::TrainingMode ToProto(TrainingMode mode) {
  return static_cast<skillsd::v1::TrainingMode>(Traits(mode).proto_number);
}

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
  LearnerMetrics& metrics = LearnerMetrics::Get();
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
  // Metrics of the step.
  const double train_seconds = stats.seconds_forward_backward + stats.seconds_optimizer;
  const double tokens_per_s = train_seconds > 0 ? stats.tokens / train_seconds : 0;
  metrics.version.Set(static_cast<double>(version()));
  metrics.steps.Increment();
  metrics.tokens.Increment(stats.tokens);
  metrics.queued.Set(static_cast<double>(intake_->queued()));
  metrics.policy_lag.Set(lag);
  metrics.teacher_version.Set(static_cast<double>(Status().teacher_version_pushed()));
  const std::vector<std::pair<const char*, double>> losses = {{"total", stats.loss},
                                                              {"grpo", stats.last.grpo},
                                                              {"sdl", stats.last.sdl},
                                                              {"kl_ref", stats.last.kl_ref},
                                                              {"entropy", stats.last.entropy}};
  for (const auto& [term, value] : losses) metrics.loss.Add({{"term", term}}).Set(value);
  const std::vector<std::pair<const char*, double>> stat_values = {{"clip_fraction", stats.last.clip_fraction},
                                                                   {"ratio_mean", stats.last.ratio_mean},
                                                                   {"ratio_min", stats.last.ratio_min},
                                                                   {"ratio_max", stats.last.ratio_max},
                                                                   {"rho_mean", stats.last.rho_mean},
                                                                   {"rho_max", stats.last.rho_max},
                                                                   {"teacher_gap_mean", stats.last.teacher_gap_mean},
                                                                   {"approx_kl_old", stats.last.approx_kl_old},
                                                                   {"grad_norm", stats.grad_norm},
                                                                   {"learning_rate", stats.learning_rate},
                                                                   {"tokens_per_second", tokens_per_s}};
  for (const auto& [name, value] : stat_values) metrics.stat.Add({{"stat", name}}).Set(value);
  metrics.Phase("wait", waited);
  metrics.Phase("forward_backward", stats.seconds_forward_backward);
  metrics.Phase("optimizer", stats.seconds_optimizer);
  metrics.Phase("publish", publish_seconds);
  metrics.Phase("checkpoint", checkpoint_seconds);
  if (!options_.metrics_csv.empty()) {
    const bool header = !std::ifstream(options_.metrics_csv).good();
    std::ofstream csv(options_.metrics_csv, std::ios::app);
    if (header) {
      csv << "step,loss,grpo,sdl,clip_fraction,ratio_mean,rho_mean,teacher_gap_mean,approx_kl_old,grad_norm,"
             "learning_rate,tokens,tokens_per_second,policy_lag,wait_s,forward_backward_s,optimizer_s,publish_s,"
             "checkpoint_s,groups\n";
    }
    csv << version() << "," << stats.loss << "," << stats.last.grpo << "," << stats.last.sdl << ","
        << stats.last.clip_fraction << "," << stats.last.ratio_mean << "," << stats.last.rho_mean << ","
        << stats.last.teacher_gap_mean << "," << stats.last.approx_kl_old << "," << stats.grad_norm << ","
        << stats.learning_rate << "," << stats.tokens << "," << tokens_per_s << "," << lag << "," << waited << ","
        << stats.seconds_forward_backward << "," << stats.seconds_optimizer << "," << publish_seconds << ","
        << checkpoint_seconds << "," << trained_ids << "\n";
  }
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
