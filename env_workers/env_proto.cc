#include "env_workers/env_proto.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace skillsd {

skillsd::v1::Split ToProto(Split split) {
  switch (split) {
    case Split::kTrain:
      return skillsd::v1::SPLIT_TRAIN;
    case Split::kTest:
      return skillsd::v1::SPLIT_TEST;
    case Split::kProcedural:
      return skillsd::v1::SPLIT_PROCEDURAL;
  }
  return skillsd::v1::SPLIT_UNSPECIFIED;
}

absl::StatusOr<Split> FromProto(skillsd::v1::Split split) {
  switch (split) {
    case skillsd::v1::SPLIT_TRAIN:
      return Split::kTrain;
    case skillsd::v1::SPLIT_TEST:
      return Split::kTest;
    case skillsd::v1::SPLIT_PROCEDURAL:
      return Split::kProcedural;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown split ", static_cast<int>(split)));
  }
}

skillsd::v1::TaskRef ToTaskRef(absl::string_view env, const EnvTask& task) {
  skillsd::v1::TaskRef ref;
  ref.set_task_id(TaskId(env, task));
  ref.set_env(std::string(env));
  ref.set_split(ToProto(task.split));
  ref.set_level_index(task.index);
  ref.set_seed(task.seed);
  return ref;
}

absl::StatusOr<EnvTask> ToEnvTask(const skillsd::v1::TaskRef& task) {
  if (task.split() == skillsd::v1::SPLIT_UNSPECIFIED) return ParseTaskId(task.task_id());
  EnvTask out;
  ASSIGN_OR_RETURN(out.split, FromProto(task.split()));
  out.index = task.level_index();
  out.seed = task.seed();
  return out;
}

void ToProto(const EnvSpec& spec, skillsd::v1::GetSpecResponse* out) {
  out->set_env(spec.name);
  out->set_system_prompt(spec.system_prompt);
  out->set_max_steps(spec.max_steps);
  out->set_max_actions_per_turn(spec.max_actions_per_turn);
  out->set_train_levels(spec.train_levels);
  out->set_test_levels(spec.test_levels);
  for (const EnvTask& task : spec.train_tasks) *out->add_train_tasks() = ToTaskRef(spec.name, task);
  for (const NamedAction& action : spec.actions) {
    auto* a = out->add_actions();
    a->set_name(action.name);
    a->set_answer(action.answer);
  }
}

absl::StatusOr<EnvSpec> FromProto(const skillsd::v1::GetSpecResponse& in) {
  EnvSpec spec;
  spec.name = in.env();
  spec.system_prompt = in.system_prompt();
  spec.max_steps = in.max_steps();
  spec.max_actions_per_turn = in.max_actions_per_turn();
  spec.train_levels = in.train_levels();
  spec.test_levels = in.test_levels();
  for (const skillsd::v1::TaskRef& ref : in.train_tasks()) {
    absl::StatusOr<EnvTask> task = ToEnvTask(ref);
    if (!task.ok()) return Annotate(task.status(), "GetSpec train_tasks");
    spec.train_tasks.push_back(*task);
  }
  for (const auto& action : in.actions()) spec.actions.push_back({action.name(), action.answer()});
  return spec;
}

void ToProto(const ActionEvent& e, skillsd::v1::StepEvent* event) {
  event->set_turn(e.turn);
  event->set_action(e.action);
  event->set_invalid(e.invalid);
  event->set_bumped(e.bumped);
  event->set_moved(e.moved);
  event->set_pushed_box(e.pushed_box);
  event->set_box_onto_target(e.box_onto_target);
  event->set_box_off_target(e.box_off_target);
  event->set_deadlock(e.deadlock);
  event->set_reward(static_cast<float>(e.reward));
}

void ToProto(const EpisodeTotals& t, skillsd::v1::EpisodeStats* stats) {
  stats->set_episode_return(t.episode_return);
  stats->set_steps(t.steps);
  stats->set_turns(t.turns);
  stats->set_invalid_actions(t.invalid_actions);
  stats->set_bumps(t.bumps);
  stats->set_deadlocks(t.deadlocks);
  stats->set_solved(t.solved);
  stats->set_completion(t.completion);
  stats->set_truncated(t.truncated);
}

void ToProto(const EnvTurn& turn, skillsd::v1::Observation* out) {
  out->set_text(turn.observation);
  out->set_reward(static_cast<float>(turn.reward));
  out->set_done(turn.done);
  ToProto(turn.totals, out->mutable_stats());
  for (const ActionEvent& e : turn.events) ToProto(e, out->add_events());
  if (turn.optimal_actions) {
    auto* set = out->mutable_optimal_actions();
    for (const std::string& a : *turn.optimal_actions) set->add_actions(a);
  }
}

ActionEvent FromProto(const skillsd::v1::StepEvent& e) {
  ActionEvent out;
  out.turn = e.turn();
  out.action = e.action();
  out.invalid = e.invalid();
  out.bumped = e.bumped();
  out.moved = e.moved();
  out.pushed_box = e.pushed_box();
  out.box_onto_target = e.box_onto_target();
  out.box_off_target = e.box_off_target();
  out.deadlock = e.deadlock();
  out.reward = e.reward();
  return out;
}

EpisodeTotals FromProto(const skillsd::v1::EpisodeStats& s) {
  EpisodeTotals t;
  t.episode_return = s.episode_return();
  t.steps = s.steps();
  t.turns = s.turns();
  t.invalid_actions = s.invalid_actions();
  t.bumps = s.bumps();
  t.deadlocks = s.deadlocks();
  t.solved = s.solved();
  t.completion = s.completion();
  t.truncated = s.truncated();
  return t;
}

EnvTurn FromProto(const skillsd::v1::Observation& o) {
  EnvTurn turn;
  turn.observation = o.text();
  turn.reward = o.reward();
  turn.done = o.done();
  turn.totals = FromProto(o.stats());
  for (const auto& e : o.events()) turn.events.push_back(FromProto(e));
  if (o.has_optimal_actions()) {
    turn.optimal_actions.emplace(o.optimal_actions().actions().begin(), o.optimal_actions().actions().end());
  }
  return turn;
}

}  // namespace skillsd
