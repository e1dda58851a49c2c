#include "actor/skill_diagnostics.h"

#include <algorithm>

#include "actor/group.h"
#include "core/skill_prompt.h"

namespace skillsd::actor {

std::optional<MoveProbe> MakeMoveProbe(const EnvSpec& spec, const model::Tokenizer& tokenizer) {
  if (spec.actions.size() < 2) return std::nullopt;
  std::vector<std::vector<int32_t>> answers;
  for (const NamedAction& action : spec.actions) answers.push_back(tokenizer.EncodeOrdinary(action.answer));
  size_t split = 0;  // the first index at which the answers are not all equal
  auto all_equal_at = [&](size_t k) {
    for (const auto& answer : answers) {
      if (answer.size() <= k || answer[k] != answers[0][k]) return false;
    }
    return true;
  };
  while (all_equal_at(split)) ++split;
  MoveProbe probe;
  probe.prefix.assign(answers[0].begin(), answers[0].begin() + static_cast<long>(split));
  for (size_t a = 0; a < answers.size(); ++a) {
    if (answers[a].size() <= split) return std::nullopt;
    const int32_t token = answers[a][split];
    if (std::find(probe.tokens.begin(), probe.tokens.end(), token) != probe.tokens.end()) return std::nullopt;
    probe.tokens.push_back(token);
    probe.names.push_back(spec.actions[a].name);
  }
  return probe;
}

int MovePosition(const MoveProbe& probe, absl::Span<const int32_t> generated) {
  const auto at = std::search(generated.begin(), generated.end(), probe.prefix.begin(), probe.prefix.end());
  if (at == generated.end() && !probe.prefix.empty()) return -1;
  const size_t position = static_cast<size_t>(at - generated.begin()) + probe.prefix.size();
  if (position >= generated.size()) return -1;
  if (std::find(probe.tokens.begin(), probe.tokens.end(), generated[position]) == probe.tokens.end()) return -1;
  return static_cast<int>(position);
}

const std::string& TopMove(const MoveProbe& probe, absl::Span<const float> values) {
  return probe.names[static_cast<size_t>(std::max_element(values.begin(), values.end()) - values.begin())];
}

skillsd::v1::SkillDiagnostics DiagnoseGroup(const skillsd::v1::Group& group, absl::Span<const EpisodeResult> episodes,
                                            const skillsd::v1::ScoreResponse& response, const MoveProbe* probe,
                                            absl::Span<const int> sent) {
  skillsd::v1::SkillDiagnostics d;
  if (!HasSkill(group)) return d;
  const skillsd::v1::SkillContent& skill = group.skill().content();
  const size_t p = probe != nullptr ? probe->tokens.size() : 0;
  int s = 0;  // sequence index: one per turn, in episode order
  for (size_t g = 0; g < episodes.size() && static_cast<int>(g) < group.trajectories_size(); ++g) {
    const skillsd::v1::Trajectory& trajectory = group.trajectories(static_cast<int>(g));
    for (size_t t = 0; t < episodes[g].turns.size() && static_cast<int>(t) < trajectory.sequences_size(); ++t, ++s) {
      const TurnRecord& turn = episodes[g].turns[t];
      const std::optional<std::string> next = WorkflowNextMove(skill, turn.moves_before);
      const bool on = next.has_value();
      d.set_skill_turns(d.skill_turns() + 1);
      if (on) d.set_on_workflow_turns(d.on_workflow_turns() + 1);
      for (const auto& segment : trajectory.sequences(static_cast<int>(t)).segments()) {
        if (segment.role() != skillsd::v1::SEGMENT_ROLE_GENERATED ||
            segment.teacher_logprobs_size() != segment.behaviour_logprobs_size()) {
          continue;
        }
        double gap = 0;
        for (int k = 0; k < segment.teacher_logprobs_size(); ++k) {
          gap += segment.teacher_logprobs(k) - segment.behaviour_logprobs(k);
        }
        if (on) {
          d.set_gap_sum_on(d.gap_sum_on() + gap);
          d.set_gap_tokens_on(d.gap_tokens_on() + segment.teacher_logprobs_size());
        } else {
          d.set_gap_sum_off(d.gap_sum_off() + gap);
          d.set_gap_tokens_off(d.gap_tokens_off() + segment.teacher_logprobs_size());
        }
      }
      // The probe: the student's log-probs from the rollout, the teacher's from its reply, at the move token.
      if (p == 0) continue;
      const int j = MovePosition(*probe, turn.generated);
      if (j < 0 || turn.probe_logprobs.size() < (static_cast<size_t>(j) + 1) * p) continue;
      const int r = sent.empty() ? s : (static_cast<size_t>(s) < sent.size() ? sent[s] : -2);
      absl::Span<const float> teacher;
      if (r == -1) {
        teacher = absl::MakeConstSpan(turn.probe_logprobs);  // not sent: the teacher is the behaviour policy
      } else if (r >= 0 && r < response.sequences_size() && response.sequences(r).segments_size() > 0) {
        teacher = absl::MakeConstSpan(response.sequences(r).segments(0).probe_logprobs());
      }
      if (teacher.size() < (static_cast<size_t>(j) + 1) * p) continue;
      const std::string& teacher_top = TopMove(*probe, teacher.subspan(j * p, p));
      const std::string& student_top = TopMove(*probe, absl::MakeConstSpan(&turn.probe_logprobs[j * p], p));
      if (on) {
        d.set_probed_workflow(d.probed_workflow() + 1);
        d.set_teacher_follows(d.teacher_follows() + (teacher_top == *next ? 1 : 0));
        d.set_student_follows(d.student_follows() + (student_top == *next ? 1 : 0));
      }
      if (!turn.optimal_actions || turn.optimal_actions->empty()) continue;
      auto optimal = [&](const std::string& move) {
        return std::find(turn.optimal_actions->begin(), turn.optimal_actions->end(), move) !=
               turn.optimal_actions->end();
      };
      const bool teacher_optimal = optimal(teacher_top);
      const bool student_optimal = optimal(student_top);
      if (on) {
        d.set_probed_on(d.probed_on() + 1);
        d.set_teacher_optimal_on(d.teacher_optimal_on() + (teacher_optimal ? 1 : 0));
        d.set_student_optimal_on(d.student_optimal_on() + (student_optimal ? 1 : 0));
      } else {
        d.set_probed_off(d.probed_off() + 1);
        d.set_teacher_optimal_off(d.teacher_optimal_off() + (teacher_optimal ? 1 : 0));
        d.set_student_optimal_off(d.student_optimal_off() + (student_optimal ? 1 : 0));
      }
    }
  }
  return d;
}

}  // namespace skillsd::actor
