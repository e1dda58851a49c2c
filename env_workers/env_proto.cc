#include "env_workers/env_proto.h"

namespace skillsd {

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
  return turn;
}

}  // namespace skillsd
