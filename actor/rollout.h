// Plays episodes: every live episode decoding together in one KV-cache batch per turn, contexts from
// BuildContext, the environments behind EnvBatch (in-process envs for evaluation and the SFT warm start, env
// workers over gRPC in the actor). Records every turn token-exactly for the learner and the teacher.
#ifndef SKILLSD_ACTOR_ROLLOUT_H_
#define SKILLSD_ACTOR_ROLLOUT_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "actor/context.h"
#include "env_workers/env.h"
#include "model/chat.h"
#include "model/inference.h"
#include "model/tokenizer.h"

namespace skillsd::actor {

// A set of environment slots, one episode per slot, stepped together. Implementations are not thread-safe: one
// caller (PlayEpisodes) drives a batch.
class EnvBatch {
 public:
  virtual ~EnvBatch() = default;
  virtual const EnvSpec& spec() const = 0;
  virtual size_t size() const = 0;
  // Starts an episode of `task` in slot i; with_optimal_actions: every turn of it also carries the env's optimal
  // actions, when the env has an oracle (EnvTurn::optimal_actions).
  virtual absl::StatusOr<EnvTurn> Reset(size_t slot, const EnvTask& task, bool with_optimal_actions) = 0;
  // Applies answers[k] in slot slots[k]; one result per slot, in order.
  virtual absl::StatusOr<std::vector<EnvTurn>> Step(const std::vector<size_t>& slots,
                                                    const std::vector<std::string>& answers) = 0;
};

// In-process environments.
class LocalEnvBatch : public EnvBatch {
 public:
  explicit LocalEnvBatch(std::vector<std::unique_ptr<Env>> envs);
  const EnvSpec& spec() const override { return envs_.front()->spec(); }
  size_t size() const override { return envs_.size(); }
  absl::StatusOr<EnvTurn> Reset(size_t slot, const EnvTask& task, bool with_optimal_actions) override;
  absl::StatusOr<std::vector<EnvTurn>> Step(const std::vector<size_t>& slots,
                                            const std::vector<std::string>& answers) override;

 private:
  std::vector<std::unique_ptr<Env>> envs_;
  std::vector<bool> with_optimal_actions_;
};

// One turn as played: the input segments (PROMPT / OBSERVATION / SKILL_SLOT; the skill slot empty unless the
// student saw a skill), the sampled answer tokens with their behaviour log-probs, and what the env made of it.
struct TurnRecord {
  std::vector<skillsd::v1::TokenSegment> context;
  std::vector<int32_t> generated;  // <|im_end|> included when emitted
  std::vector<float> logprobs;
  // With sampling.probe_tokens (P of them): the policy's log-probs of each at every generated position,
  // [generated × P] row-major.
  std::vector<float> probe_logprobs;
  // The env's optimal actions in the state this turn answered, for episodes played with_optimal_actions.
  std::optional<std::vector<std::string>> optimal_actions;
  std::string observation;  // the observation this turn answered
  std::string answer;       // decoded answer text
  std::vector<ActionEvent> events;
  double reward = 0;
  std::vector<std::string> moves_before;  // moves that changed the board before this turn
};

struct EpisodeResult {
  std::string task_id;
  EpisodeTotals totals;
  std::vector<TurnRecord> turns;
};

struct PlayOptions {
  int history_turns = 1;            // 0 = full history
  model::SamplingOptions sampling;  // stop_tokens gets <|im_end|> added; seed varied per turn
  int max_turns = 40;
  // Ends an episode at the first deadlock (a push after which it can never be solved) and adds
  // deadlock_step_reward for each of the env's max_steps it had left to its return, so that giving up early
  // never pays. Off in evaluation.
  bool end_on_deadlock = false;
  double deadlock_step_reward = 0;
  // Skill tokens the *student* sees in its SKILL_SLOT at a turn (skill-augmented GRPO, the off-policy ablation),
  // given the episode's index and its moves so far; unset or empty = the plain prompt.
  std::function<std::vector<int32_t>(size_t episode, const std::vector<std::string>& moves_so_far)> skill_tokens;
  // Episodes (by index) whose turns record the env's optimal actions; empty = none.
  std::vector<bool> with_optimal_actions;
};

// Plays one episode of tasks[i] in slot i (tasks.size() <= envs.size()).
absl::StatusOr<std::vector<EpisodeResult>> PlayEpisodes(model::CausalLMImpl& model, const model::Tokenizer& tokenizer,
                                                        const model::ChatTemplate& chat, EnvBatch& envs,
                                                        const std::vector<EnvTask>& tasks, const PlayOptions& options);

// One task's share of an evaluation: its episodes' mean solved and completion.
struct LevelSummary {
  std::string task_id;
  int episodes = 0;
  double solved = 0, completion = 0;
};

// Solved rate and completion of a set of episodes, with standard errors of the means, and the same per task (in
// order of first appearance), so that two evaluations of the same levels can be compared level by level.
struct EvalSummary {
  int episodes = 0;
  double solved = 0, solved_stderr = 0;
  double completion = 0, completion_stderr = 0;
  double mean_return = 0;
  double mean_steps = 0;
  double invalid_rate = 0;  // invalid actions per turn
  std::vector<LevelSummary> levels;
};
EvalSummary Summarize(const std::vector<EpisodeResult>& results);
// {"episodes": .., "solved": .., "solved_stderr": .., "completion": .., ..., "levels": [{"task": .., "episodes": ..,
// "solved": .., "completion": ..}, ...]} (skillsd eval, skillsd-actor --eval).
std::string ToJson(const EvalSummary& summary);

}  // namespace skillsd::actor

#endif  // SKILLSD_ACTOR_ROLLOUT_H_
