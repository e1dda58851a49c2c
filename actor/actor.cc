#include "actor/actor.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "actor/play_options.h"
#include "actor/remote_env.h"
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
      learner_(std::move(stubs.learner)),
      env_(std::move(stubs.env)),
      teacher_(stubs.teacher == nullptr ? std::nullopt
                                        : std::optional<TeacherClient>(
                                              std::in_place, std::move(stubs.teacher),
                                              absl::Milliseconds(config.teacher.version_wait_ms) + absl::Seconds(120))),
      skill_(stubs.skill == nullptr ? std::nullopt
                                    : std::optional<SkillClient>(std::in_place, std::move(stubs.skill))) {}

absl::StatusOr<std::optional<skillsd::v1::WorkAssignment>> Actor::NextWork(WorkReport* report) {
  if (retry_.has_value() && absl::FromUnixMillis(retry_->lease_deadline_unix_ms()) > absl::Now()) return *retry_;
  retry_.reset();
  skillsd::v1::GetWorkRequest request;
  request.set_actor_id(actor_id_);
  request.set_request_id(absl::StrCat(actor_id_, "-", request_counter_++));
  request.set_have_policy_version(holder_->version());
  ASSIGN_OR_RETURN(skillsd::v1::GetWorkResponse response, learner_.GetWork(request));
  if (response.finished()) {
    report->finished = true;
    return std::nullopt;
  }
  if (!response.has_work()) {
    absl::SleepFor(absl::Milliseconds(std::max(10, response.retry_after_ms())));
    report->idle = true;
    return std::nullopt;
  }
  return std::move(*response.mutable_work());
}

absl::Status Actor::WaitForPolicy(int64_t version, const std::atomic<bool>* stop) const {
  const absl::Time wait_until = absl::Now() + absl::Seconds(120);
  while (holder_->version() < version) {
    if (stop != nullptr && stop->load()) return absl::CancelledError("stopping");
    if (absl::Now() > wait_until)
      return absl::UnavailableError(absl::StrCat("policy version ", version, " never arrived"));
    absl::SleepFor(absl::Milliseconds(5));
  }
  return absl::OkStatus();
}

std::vector<TaskSkill> Actor::SelectSkills(const skillsd::v1::WorkAssignment& work) const {
  std::vector<TaskSkill> skills(static_cast<size_t>(work.tasks_size()));
  if (!skill_.has_value()) return skills;
  for (int t = 0; t < work.tasks_size(); ++t) {
    const std::string& task_id = work.tasks(t).task_id();
    absl::StatusOr<skillsd::v1::SelectSkillResponse> response = skill_->SelectSkill(task_id, work.group_ids(t));
    if (!response.ok()) {
      // Without the skill service the group still trains (the teacher sees the plain prompt).
      SKILLSD_LOG(WARNING) << "actor: no skill for " << task_id << ": " << response.status();
      continue;
    }
    TaskSkill& out = skills[static_cast<size_t>(t)];
    if (response->has_skill()) {
      out.present = true;
      out.ref.set_skill_id(response->skill().skill_id());
      *out.ref.mutable_content() = response->skill().content();
    }
    out.ref.set_skill_bank_version(response->skill_bank_version());
  }
  return skills;
}

absl::StatusOr<std::vector<EpisodeResult>> Actor::Play(const skillsd::v1::WorkAssignment& work, const ModeTraits& mode,
                                                       const std::vector<TaskSkill>& skills,
                                                       model::CausalLMImpl& model) {
  const int tasks = work.tasks_size(), g_size = std::max(1, work.group_size());
  ASSIGN_OR_RETURN(std::unique_ptr<RemoteEnvBatch> envs,
                   RemoteEnvBatch::Create(env_, static_cast<size_t>(tasks * g_size)));
  std::vector<EnvTask> env_tasks;
  for (int t = 0; t < tasks; ++t) {
    ASSIGN_OR_RETURN(EnvTask task, ToEnvTask(work.tasks(t)));
    for (int g = 0; g < g_size; ++g) env_tasks.push_back(task);
  }
  PlayOptions play = RolloutPlayOptions(config_, envs->spec(), work.sampling(),
                                        SplitMix64(std::hash<std::string>()(work.work_id()) ^ config_.run.seed));
  // The skill diagnostics: the student's ranking of the moves at every token, the env's optimal moves at every
  // turn of an episode whose task has a skill (a solver run per turn there; nothing elsewhere).
  move_probe_ = MakeMoveProbe(envs->spec(), *tokenizer_);
  if (move_probe_) play.sampling.probe_tokens = move_probe_->tokens;
  play.with_optimal_actions.assign(env_tasks.size(), false);
  for (size_t e = 0; e < env_tasks.size(); ++e) {
    play.with_optimal_actions[e] = skills[e / static_cast<size_t>(g_size)].present;
  }
  if (mode.student_sees_skill) {
    play.skill_tokens = [&](size_t episode, const std::vector<std::string>& moves) -> std::vector<int32_t> {
      const TaskSkill& s = skills[episode / static_cast<size_t>(g_size)];
      if (!s.present) return {};
      return chat_.Content(RenderSkill(config_.teacher.skill_template,
                                       SkillForTurn(s.ref.content(), moves, config_.skill.workflow_view)));
    };
  }
  c10::InferenceMode guard;
  return PlayEpisodes(model, *tokenizer_, chat_, *envs, env_tasks, play);
}

absl::StatusOr<bool> Actor::Score(const skillsd::v1::WorkAssignment& work, const ModeTraits& mode,
                                  absl::Span<const EpisodeResult> episodes, GroupDraft* draft) const {
  const bool has_skill = HasSkill(draft->group);
  TeacherPlanOptions options;
  options.view = config_.skill.workflow_view;
  options.turns = config_.skill.teacher_turns;
  options.plain_is_behaviour =
      PlainTeacherIsBehaviourPolicy(mode, config_.algorithm.teacher_sync_interval, work.sampling());
  options.min_teacher_version = work.min_teacher_version();
  if (!has_skill && options.plain_is_behaviour) {
    ScoreWithBehaviourLogprobs(&draft->group);
    return false;
  }
  TeacherPlan plan = PlanTeacher(draft->group, draft->moves_before, options);
  skillsd::v1::ScoreResponse response;
  const bool asked = plan.request.sequences_size() > 0;  // kOnWorkflow: a group may have no turn on the workflow
  if (asked) {
    if (!teacher_.has_value()) return absl::FailedPreconditionError("this mode needs a teacher and none is configured");
    if (move_probe_ && has_skill) {
      for (int32_t token : move_probe_->tokens) plan.request.add_probe_token_ids(token);
    }
    ASSIGN_OR_RETURN(response, teacher_->Score(plan.request));
  }
  RETURN_IF_ERROR(ApplyTeacherScores(response, plan.sent, &draft->group));
  if (has_skill) {
    *draft->group.mutable_skill_diagnostics() =
        DiagnoseGroup(draft->group, episodes, response, move_probe_ ? &*move_probe_ : nullptr, plan.sent);
  }
  return asked;
}

absl::Status Actor::Submit(skillsd::v1::Group* group) const {
  skillsd::v1::SubmitGroupRequest request;
  request.mutable_group()->Swap(group);
  absl::StatusOr<skillsd::v1::SubmitGroupResponse> submitted = learner_.SubmitGroup(request);
  request.mutable_group()->Swap(group);
  RETURN_IF_ERROR(submitted.status());
  static const char* kDispositions[] = {"unspecified", "accepted", "duplicate", "dropped_stale"};
  const char* disposition = kDispositions[submitted->disposition() & 3];
  ActorMetrics::Get().groups.Add({{"disposition", disposition}}).Increment();
  // One line per acknowledged group (the audit trail the fault-injection test checks against the learner's).
  SKILLSD_LOG(INFO) << "actor: group " << group->group_id() << " " << disposition;
  return absl::OkStatus();
}

void Actor::ShareWithSkillService(const GroupDraft& draft) const {
  if (!skill_.has_value()) return;
  const skillsd::v1::Group& group = draft.group;
  const skillsd::v1::Trajectory& best = group.trajectories(draft.best);
  const absl::Status queued = skill_->SubmitTrajectory(best);
  if (!queued.ok()) {
    SKILLSD_LOG(WARNING) << "actor: " << queued;
  } else {
    SKILLSD_LOG(INFO) << "actor: skill service acknowledged trajectory " << best.trajectory_id();
  }
  const double episodes = std::max(1, group.trajectories_size());
  skillsd::v1::ReportOutcomeRequest outcome;
  outcome.set_task_id(group.task().task_id());
  outcome.set_group_id(group.group_id());
  outcome.set_skill_id(group.skill().skill_id());
  outcome.set_mean_reward(draft.total_return / episodes);
  outcome.set_solve_rate(draft.solved / episodes);
  const absl::Status reported = skill_->ReportOutcome(outcome);
  if (!reported.ok()) SKILLSD_LOG(WARNING) << "actor: skill outcome: " << reported;
}

absl::StatusOr<WorkReport> Actor::RunOnce(const std::atomic<bool>* stop) {
  WorkReport report;
  ASSIGN_OR_RETURN(std::optional<skillsd::v1::WorkAssignment> next, NextWork(&report));
  if (!next.has_value()) return report;  // finished, or idle
  const skillsd::v1::WorkAssignment& work = *next;
  retry_ = work;  // cleared on success
  ASSIGN_OR_RETURN(const TrainingMode mode_name, TrainingModeFromProtoNumber(work.mode()));
  const ModeTraits& mode = Traits(mode_name);
  RETURN_IF_ERROR(WaitForPolicy(work.policy_version(), stop));
  auto [model, version] = holder_->CurrentWithVersion();
  report.policy_version = version;
  const int tasks = work.tasks_size(), g_size = std::max(1, work.group_size());
  if (work.group_ids_size() != tasks) return absl::InvalidArgumentError("work: one group id per task required");

  absl::Time start = absl::Now();
  const std::vector<TaskSkill> skills = mode.uses_skills ? SelectSkills(work) : std::vector<TaskSkill>(tasks);
  report.skill_s += Seconds(start);

  start = absl::Now();
  ASSIGN_OR_RETURN(const std::vector<EpisodeResult> results, Play(work, mode, skills, **model));
  report.rollout_s = Seconds(start);

  // Groups, scored and submitted one task at a time.
  double returns = 0, solved = 0, completion = 0;
  for (int t = 0; t < tasks; ++t) {
    const absl::Span<const EpisodeResult> episodes =
        absl::MakeConstSpan(results).subspan(static_cast<size_t>(t * g_size), static_cast<size_t>(g_size));
    GroupDraft draft = BuildGroup(work, t, episodes, version, skills[static_cast<size_t>(t)], mode, actor_id_);
    report.generated_tokens += draft.generated_tokens;
    returns += draft.total_return;
    solved += draft.solved;
    completion += draft.completion;

    start = absl::Now();
    if (mode.needs_teacher) {
      ASSIGN_OR_RETURN(const bool scored, Score(work, mode, episodes, &draft));
      report.teacher_scored += scored ? 1 : 0;
    }
    report.teacher_s += Seconds(start);

    start = absl::Now();
    RETURN_IF_ERROR(Submit(&draft.group));
    report.submit_s += Seconds(start);

    start = absl::Now();
    if (mode.uses_skills) ShareWithSkillService(draft);
    report.skill_s += Seconds(start);
    report.groups_with_skill += skills[static_cast<size_t>(t)].present ? 1 : 0;
    ++report.groups;
  }
  retry_.reset();
  report.episodes = tasks * g_size;
  Finish(returns, solved, completion, &report);
  return report;
}

void Actor::Finish(double returns, double solved, double completion, WorkReport* report) const {
  report->mean_return = returns / report->episodes;
  report->solve_rate = solved / report->episodes;
  report->completion = completion / report->episodes;
  ActorMetrics& metrics = ActorMetrics::Get();
  metrics.episodes.Increment(report->episodes);
  metrics.solved.Increment(solved);
  metrics.tokens.Increment(static_cast<double>(report->generated_tokens));
  metrics.version.Set(static_cast<double>(report->policy_version));
  metrics.solve_rate.Set(report->solve_rate);
  metrics.mean_return.Set(report->mean_return);
  metrics.completion.Set(report->completion);
  metrics.Phase("rollout", report->rollout_s);
  metrics.Phase("teacher", report->teacher_s);
  metrics.Phase("submit", report->submit_s);
  metrics.Phase("skill", report->skill_s);
}

}  // namespace skillsd::actor
