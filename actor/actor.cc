#include "actor/actor.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "actor/remote_env.h"
#include "core/channel.h"
#include "core/grpc_status.h"
#include "core/logging.h"
#include "core/metrics.h"
#include "core/random.h"
#include "core/status.h"
#include "env_workers/env_proto.h"

namespace skillsd::actor {
namespace {

struct ActorMetrics {
  prometheus::Counter& episodes;
  prometheus::Counter& solved;
  prometheus::Counter& tokens;
  prometheus::Family<prometheus::Counter>& groups;
  prometheus::Family<prometheus::Histogram>& phase;
  prometheus::Gauge& version;
  prometheus::Gauge& solve_rate;
  prometheus::Gauge& mean_return;
  prometheus::Gauge& completion;
  prometheus::Counter& failures;

  static ActorMetrics& Get() {
    static ActorMetrics* m = [] {
      auto& r = MetricsRegistry();
      return new ActorMetrics{
          prometheus::BuildCounter().Name("skillsd_actor_episodes_total").Help("Episodes played.").Register(r).Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_actor_episodes_solved_total")
              .Help("Episodes solved.")
              .Register(r)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_actor_generated_tokens_total")
              .Help("Tokens sampled.")
              .Register(r)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_actor_groups_total")
              .Help("Groups submitted, by the learner's disposition.")
              .Register(r),
          prometheus::BuildHistogram()
              .Name("skillsd_actor_phase_seconds")
              .Help("Time per assignment phase (rollout, teacher, submit, skill).")
              .Register(r),
          prometheus::BuildGauge()
              .Name("skillsd_actor_policy_version")
              .Help("Policy version of the last assignment.")
              .Register(r)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_actor_solve_rate")
              .Help("Solved fraction of the last assignment's episodes.")
              .Register(r)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_actor_mean_return")
              .Help("Mean episode return (the training reward) of the last assignment.")
              .Register(r)
              .Add({}),
          prometheus::BuildGauge()
              .Name("skillsd_actor_completion")
              .Help("Mean completion (fraction of boxes on targets at the end) of the last assignment.")
              .Register(r)
              .Add({}),
          prometheus::BuildCounter()
              .Name("skillsd_actor_failed_assignments_total")
              .Help("Assignments that failed and were retried.")
              .Register(r)
              .Add({}),
      };
    }();
    return *m;
  }
  void Phase(const char* name, double s) { phase.Add({{"phase", name}}, LatencyBuckets()).Observe(s); }
};

double Seconds(absl::Time start) { return absl::ToDoubleSeconds(absl::Now() - start); }

}  // namespace

Actor::Actor(const ExperimentConfig& config, std::string actor_id, std::shared_ptr<weights::ModelHolder> holder,
             const model::Tokenizer* tokenizer, model::ChatTemplate chat, ActorStubs stubs)
    : config_(config),
      actor_id_(std::move(actor_id)),
      holder_(std::move(holder)),
      tokenizer_(tokenizer),
      chat_(std::move(chat)),
      stubs_(std::move(stubs)),
      view_(config.skill.workflow_view == "full" ? WorkflowView::kFull : WorkflowView::kRemaining) {}

Actor::TaskSkill Actor::SelectSkill(const skillsd::v1::TaskRef& task, const std::string& group_id) {
  TaskSkill out;
  if (stubs_.skill == nullptr) return out;
  grpc::ClientContext context;
  SetDeadline(&context, absl::Seconds(10));
  skillsd::v1::SelectSkillRequest request;
  request.set_task_id(task.task_id());
  request.set_selection_id(group_id);
  skillsd::v1::SelectSkillResponse response;
  const grpc::Status status = stubs_.skill->SelectSkill(&context, request, &response);
  if (!status.ok()) {
    // Without the skill service the group still trains (the teacher sees the plain prompt).
    SKILLSD_LOG(WARNING) << "actor: no skill for " << task.task_id() << ": " << FromGrpcStatus(status);
    return out;
  }
  if (response.has_skill()) {
    out.present = true;
    out.ref.set_skill_id(response.skill().skill_id());
    *out.ref.mutable_content() = response.skill().content();
  }
  out.ref.set_skill_bank_version(response.skill_bank_version());
  return out;
}

absl::StatusOr<bool> Actor::ScoreGroup(skillsd::v1::Group* group,
                                       const std::vector<std::vector<std::string>>& moves_before,
                                       const skillsd::v1::WorkAssignment& work, const ModeTraits& mode) {
  const bool has_skill = group->has_skill() && !group->skill().skill_id().empty();
  const auto& sampling = work.sampling();
  // No skill, a teacher synced every step (K = 1: it is θ_old), episodes sampled under the student's own context
  // and plain sampling: the teacher's log-probs are the behaviour log-probs exactly (SPEC §4), so the teacher pass
  // is skipped.
  const bool identical = !has_skill && !mode.teacher_frozen && !mode.student_sees_skill &&
                         config_.algorithm.teacher_sync_interval == 1 && sampling.temperature() == 1.0f &&
                         sampling.top_k() == 0 && sampling.top_p() >= 1.0f;
  if (identical || stubs_.teacher == nullptr) {
    if (!identical) return absl::FailedPreconditionError("this mode needs a teacher and none is configured");
    for (auto& traj : *group->mutable_trajectories()) {
      for (auto& seq : *traj.mutable_sequences()) {
        for (auto& seg : *seq.mutable_segments()) {
          if (seg.role() == skillsd::v1::SEGMENT_ROLE_GENERATED)
            *seg.mutable_teacher_logprobs() = seg.behaviour_logprobs();
        }
      }
    }
    group->set_teacher_scored(true);
    group->mutable_versions()->set_teacher_version(group->versions().policy_version());
    return false;
  }
  skillsd::v1::ScoreRequest request;
  request.set_request_id(group->group_id());
  request.set_min_teacher_version(work.min_teacher_version());
  size_t at = 0;
  for (const auto& traj : group->trajectories()) {
    for (const auto& seq : traj.sequences()) {
      *request.add_sequences() = seq;
      auto* skill = request.add_sequence_skills();
      if (has_skill) *skill = SkillForTurn(group->skill().content(), moves_before[at], view_);
      ++at;
    }
  }
  grpc::ClientContext context;
  SetDeadline(&context, absl::Milliseconds(config_.teacher.version_wait_ms) + absl::Seconds(120));
  skillsd::v1::ScoreResponse response;
  RETURN_IF_ERROR(Annotate(FromGrpcStatus(stubs_.teacher->Score(&context, request, &response)), "teacher"));
  if (response.sequences_size() != request.sequences_size()) return absl::InternalError("teacher: wrong reply size");
  int s = 0;
  for (auto& traj : *group->mutable_trajectories()) {
    for (auto& seq : *traj.mutable_sequences()) {
      int g = 0;
      for (auto& seg : *seq.mutable_segments()) {
        if (seg.role() != skillsd::v1::SEGMENT_ROLE_GENERATED) continue;
        if (g >= response.sequences(s).segments_size() ||
            response.sequences(s).segments(g).logprobs_size() != seg.token_ids_size()) {
          return absl::InternalError("teacher: reply does not match the request");
        }
        *seg.mutable_teacher_logprobs() = response.sequences(s).segments(g).logprobs();
        ++g;
      }
      ++s;
    }
  }
  group->set_teacher_scored(true);
  group->mutable_versions()->set_teacher_version(response.teacher_version());
  return true;
}

absl::StatusOr<WorkReport> Actor::RunOnce(const std::atomic<bool>* stop) {
  ActorMetrics& metrics = ActorMetrics::Get();
  WorkReport report;
  skillsd::v1::WorkAssignment work;
  if (retry_.has_value() && absl::FromUnixMillis(retry_->lease_deadline_unix_ms()) > absl::Now()) {
    work = *retry_;
  } else {
    retry_.reset();
    skillsd::v1::GetWorkRequest request;
    request.set_actor_id(actor_id_);
    request.set_request_id(absl::StrCat(actor_id_, "-", request_counter_++));
    request.set_have_policy_version(holder_->version());
    skillsd::v1::GetWorkResponse response;
    grpc::ClientContext context;
    SetDeadline(&context, absl::Seconds(30));
    RETURN_IF_ERROR(Annotate(FromGrpcStatus(stubs_.learner->GetWork(&context, request, &response)), "learner"));
    if (response.finished()) {
      report.finished = true;
      return report;
    }
    if (!response.has_work()) {
      absl::SleepFor(absl::Milliseconds(std::max(10, response.retry_after_ms())));
      report.idle = true;
      return report;
    }
    work = response.work();
  }
  retry_ = work;  // cleared on success
  ASSIGN_OR_RETURN(const TrainingMode mode_name, TrainingModeFromProtoNumber(work.mode()));
  const ModeTraits& mode = Traits(mode_name);
  // The policy of this work: wait for its snapshot.
  const absl::Time wait_until = absl::Now() + absl::Seconds(120);
  while (holder_->version() < work.policy_version()) {
    if (stop != nullptr && stop->load()) return absl::CancelledError("stopping");
    if (absl::Now() > wait_until) {
      return absl::UnavailableError(absl::StrCat("policy version ", work.policy_version(), " never arrived"));
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  auto [model, version] = holder_->CurrentWithVersion();
  report.policy_version = version;
  const int tasks = work.tasks_size(), g_size = std::max(1, work.group_size());
  if (work.group_ids_size() != tasks) return absl::InvalidArgumentError("work: one group id per task required");
  // Skills.
  absl::Time start = absl::Now();
  std::vector<TaskSkill> skills(tasks);
  if (mode.uses_skills) {
    for (int t = 0; t < tasks; ++t) skills[t] = SelectSkill(work.tasks(t), work.group_ids(t));
  }
  report.skill_s += Seconds(start);
  // Rollout: every episode of the assignment in one batch.
  start = absl::Now();
  ASSIGN_OR_RETURN(std::unique_ptr<RemoteEnvBatch> envs,
                   RemoteEnvBatch::Create(stubs_.env, static_cast<size_t>(tasks * g_size), absl::Seconds(30)));
  std::vector<EnvTask> env_tasks;
  for (int t = 0; t < tasks; ++t) {
    ASSIGN_OR_RETURN(EnvTask task, ToEnvTask(work.tasks(t)));
    for (int g = 0; g < g_size; ++g) env_tasks.push_back(task);
  }
  PlayOptions play;
  play.history_turns = config_.actor.history_turns;
  play.max_turns = envs->spec().max_steps;
  play.end_on_deadlock = config_.actor.end_on_deadlock;
  play.deadlock_step_reward = config_.env.step_reward;
  play.sampling.temperature = work.sampling().temperature() > 0 ? work.sampling().temperature() : 1.0;
  play.sampling.top_k = work.sampling().top_k();
  play.sampling.top_p = work.sampling().top_p() > 0 ? work.sampling().top_p() : 1.0;
  play.sampling.max_new_tokens = work.sampling().max_new_tokens() > 0 ? work.sampling().max_new_tokens() : 32;
  play.sampling.seed = SplitMix64(std::hash<std::string>()(work.work_id()) ^ config_.run.seed);
  if (mode.student_sees_skill) {
    play.skill_tokens = [&](size_t episode, const std::vector<std::string>& moves) -> std::vector<int32_t> {
      const TaskSkill& s = skills[episode / static_cast<size_t>(g_size)];
      if (!s.present) return {};
      return chat_.Content(RenderSkill(config_.teacher.skill_template, SkillForTurn(s.ref.content(), moves, view_)));
    };
  }
  std::vector<EpisodeResult> results;
  {
    c10::InferenceMode guard;
    ASSIGN_OR_RETURN(results, PlayEpisodes(**model, *tokenizer_, chat_, *envs, env_tasks, play));
  }
  report.rollout_s = Seconds(start);
  // Groups, scored and submitted one task at a time.
  double returns = 0, solved = 0, completion = 0;
  for (int t = 0; t < tasks; ++t) {
    skillsd::v1::Group group;
    group.set_group_id(work.group_ids(t));
    *group.mutable_task() = work.tasks(t);
    group.mutable_task()->set_task_id(results[static_cast<size_t>(t * g_size)].task_id);
    group.mutable_versions()->set_policy_version(version);
    group.mutable_versions()->set_skill_bank_version(skills[t].ref.skill_bank_version());
    if (skills[t].present) *group.mutable_skill() = skills[t].ref;
    group.set_actor_id(actor_id_);
    group.set_work_id(work.work_id());
    std::vector<std::vector<std::string>> moves_before;
    double group_return = 0, group_solved = 0;
    int best = 0;
    for (int g = 0; g < g_size; ++g) {
      const EpisodeResult& r = results[static_cast<size_t>(t * g_size + g)];
      auto* traj = group.add_trajectories();
      traj->set_trajectory_id(absl::StrCat(group.group_id(), "/e", g));
      *traj->mutable_task() = group.task();
      traj->set_policy_version(version);
      traj->set_source(mode.rollouts_from_teacher ? skillsd::v1::ROLLOUT_SOURCE_TEACHER
                                                  : skillsd::v1::ROLLOUT_SOURCE_STUDENT);
      ToProto(r.totals, traj->mutable_stats());
      for (const TurnRecord& turn : r.turns) {
        for (const ActionEvent& e : turn.events) ToProto(e, traj->add_events());
        auto* seq = traj->add_sequences();
        for (const auto& seg : turn.context) {
          auto* out = seq->add_segments();
          *out = seg;
          if (seg.role() == skillsd::v1::SEGMENT_ROLE_SKILL_SLOT && seg.token_ids_size() > 0) {
            if (mode.trains_on_skill) {
              out->set_role(skillsd::v1::SEGMENT_ROLE_PROMPT);  // the student trains with the skill in its prompt
            } else {
              out->clear_token_ids();  // the student's own context has no skill
            }
          }
        }
        auto* gen = seq->add_segments();
        gen->set_role(skillsd::v1::SEGMENT_ROLE_GENERATED);
        for (size_t k = 0; k < turn.generated.size(); ++k) {
          gen->add_token_ids(turn.generated[k]);
          gen->add_behaviour_logprobs(std::min(0.0f, turn.logprobs[k]));
          gen->add_loss_mask(true);
        }
        moves_before.push_back(turn.moves_before);
        report.generated_tokens += static_cast<int64_t>(turn.generated.size());
      }
      group_return += r.totals.episode_return;
      group_solved += r.totals.solved ? 1 : 0;
      completion += r.totals.completion;
      if (r.totals.episode_return > results[static_cast<size_t>(t * g_size + best)].totals.episode_return) best = g;
    }
    returns += group_return;
    solved += group_solved;
    start = absl::Now();
    if (mode.needs_teacher) {
      ASSIGN_OR_RETURN(bool scored, ScoreGroup(&group, moves_before, work, mode));
      report.teacher_scored += scored ? 1 : 0;
    }
    report.teacher_s += Seconds(start);
    start = absl::Now();
    skillsd::v1::SubmitGroupRequest submit;
    *submit.mutable_group() = std::move(group);
    skillsd::v1::SubmitGroupResponse submitted;
    {
      grpc::ClientContext context;
      SetDeadline(&context, absl::Seconds(60));
      RETURN_IF_ERROR(Annotate(FromGrpcStatus(stubs_.learner->SubmitGroup(&context, submit, &submitted)), "learner"));
    }
    static const char* kDispositions[] = {"unspecified", "accepted", "duplicate", "dropped_stale"};
    metrics.groups.Add({{"disposition", kDispositions[submitted.disposition() & 3]}}).Increment();
    // One line per acknowledged group (the audit trail the fault-injection test checks against the learner's).
    SKILLSD_LOG(INFO) << "actor: group " << submit.group().group_id() << " "
                      << kDispositions[submitted.disposition() & 3];
    report.submit_s += Seconds(start);
    // Skills: the group's best trajectory to summarise, and the outcome for the bandit.
    start = absl::Now();
    const skillsd::v1::Group& sent = submit.group();
    if (stubs_.skill != nullptr && mode.uses_skills) {
      grpc::ClientContext context;
      SetDeadline(&context, absl::Seconds(10));
      skillsd::v1::SubmitTrajectoriesRequest trajectories;
      *trajectories.add_trajectories() = sent.trajectories(best);
      skillsd::v1::SubmitTrajectoriesResponse queued;
      const grpc::Status status = stubs_.skill->SubmitTrajectories(&context, trajectories, &queued);
      if (!status.ok()) {
        SKILLSD_LOG(WARNING) << "actor: skill service: " << FromGrpcStatus(status);
      } else {
        SKILLSD_LOG(INFO) << "actor: skill service acknowledged trajectory " << sent.trajectories(best).trajectory_id();
      }
      grpc::ClientContext outcome_context;
      SetDeadline(&outcome_context, absl::Seconds(10));
      skillsd::v1::ReportOutcomeRequest outcome;
      outcome.set_task_id(sent.task().task_id());
      outcome.set_group_id(sent.group_id());
      outcome.set_skill_id(sent.skill().skill_id());
      outcome.set_mean_reward(group_return / g_size);
      outcome.set_solve_rate(group_solved / g_size);
      skillsd::v1::ReportOutcomeResponse ack;
      const grpc::Status reported = stubs_.skill->ReportOutcome(&outcome_context, outcome, &ack);
      if (!reported.ok()) SKILLSD_LOG(WARNING) << "actor: skill outcome: " << FromGrpcStatus(reported);
    }
    report.skill_s += Seconds(start);
    report.groups_with_skill += skills[t].present ? 1 : 0;
    ++report.groups;
  }
  retry_.reset();
  report.episodes = tasks * g_size;
  report.mean_return = returns / report.episodes;
  report.solve_rate = solved / report.episodes;
  report.completion = completion / report.episodes;
  metrics.episodes.Increment(report.episodes);
  metrics.solved.Increment(solved);
  metrics.tokens.Increment(static_cast<double>(report.generated_tokens));
  metrics.version.Set(static_cast<double>(version));
  metrics.solve_rate.Set(report.solve_rate);
  metrics.mean_return.Set(report.mean_return);
  metrics.completion.Set(report.completion);
  metrics.Phase("rollout", report.rollout_s);
  metrics.Phase("teacher", report.teacher_s);
  metrics.Phase("submit", report.submit_s);
  metrics.Phase("skill", report.skill_s);
  return report;
}

}  // namespace skillsd::actor
