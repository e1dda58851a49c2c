// The mechanism of Skill-SD, measured on every group that carried a skill: how far the skill-conditioned teacher's
// log-probs are from the student's on the sampled tokens, and whether the move each of them ranks first is one of
// the env's optimal moves, on turns where the skill's workflow still applies and on turns the episode has left
// it. Pure functions over the episodes and the teacher's reply (docs/training.md, "The mechanism").
#ifndef SKILLSD_ACTOR_SKILL_DIAGNOSTICS_H_
#define SKILLSD_ACTOR_SKILL_DIAGNOSTICS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "actor/rollout.h"
#include "env_workers/env.h"
#include "model/tokenizer.h"
#include "skillsd/v1/rollout.pb.h"
#include "skillsd/v1/teacher.pb.h"

namespace skillsd::actor {

// Where a model chooses its first move: after `prefix` (the tokens every single-move answer begins with), the
// token that names the move, one per action.
struct MoveProbe {
  std::vector<int32_t> prefix;
  std::vector<int32_t> tokens;     // per action, distinct
  std::vector<std::string> names;  // per action
};

// The probe of an env's actions under `tokenizer`; nullopt when the env lists no actions or their answers do not
// differ in one token after a common prefix.
std::optional<MoveProbe> MakeMoveProbe(const EnvSpec& spec, const model::Tokenizer& tokenizer);

// The index in `generated` of the token that names the answer's first move: right after the first occurrence of
// the prefix, when the token there is one of the probe's; -1 otherwise.
int MovePosition(const MoveProbe& probe, absl::Span<const int32_t> generated);

// The action the log-probs `values` (one per probe token) rank first.
const std::string& TopMove(const MoveProbe& probe, absl::Span<const float> values);

// The diagnostics of a teacher-scored group with a skill (empty without one): `episodes` as played (with the
// student's probe log-probs and the env's optimal actions), `group` after ApplyTeacherScores, `response` the
// teacher's reply to a request with the probe's tokens (its probe_logprobs; without them nothing is probed);
// `sent` the index in the reply of each of the group's sequences (TeacherPlan::sent; empty: every sequence, in
// order). A sequence that was not sent was scored by the behaviour policy: the student's probe stands for the
// teacher's there.
skillsd::v1::SkillDiagnostics DiagnoseGroup(const skillsd::v1::Group& group, absl::Span<const EpisodeResult> episodes,
                                            const skillsd::v1::ScoreResponse& response, const MoveProbe* probe,
                                            absl::Span<const int> sent = {});

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_SKILL_DIAGNOSTICS_H_
