#include "actor/rollout.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/json.h"
#include "core/status.h"
#include "core/utf8.h"

namespace skillsd::actor {

LocalEnvBatch::LocalEnvBatch(std::vector<std::unique_ptr<Env>> envs)
    : envs_(std::move(envs)), with_optimal_actions_(envs_.size(), false) {}

absl::StatusOr<EnvTurn> LocalEnvBatch::Reset(size_t slot, const EnvTask& task, bool with_optimal_actions) {
  if (slot >= envs_.size()) return absl::OutOfRangeError(absl::StrCat("no env slot ", slot));
  ASSIGN_OR_RETURN(EnvTurn turn, envs_[slot]->Reset(task));
  with_optimal_actions_[slot] = with_optimal_actions;
  if (with_optimal_actions) AddOptimalActions(*envs_[slot], &turn);
  return turn;
}

absl::StatusOr<std::vector<EnvTurn>> LocalEnvBatch::Step(const std::vector<size_t>& slots,
                                                         const std::vector<std::string>& answers) {
  if (slots.size() != answers.size()) return absl::InvalidArgumentError("one answer per slot");
  std::vector<EnvTurn> out;
  out.reserve(slots.size());
  for (size_t k = 0; k < slots.size(); ++k) {
    if (slots[k] >= envs_.size()) return absl::OutOfRangeError(absl::StrCat("no env slot ", slots[k]));
    ASSIGN_OR_RETURN(EnvTurn turn, envs_[slots[k]]->Step(answers[k]));
    if (with_optimal_actions_[slots[k]]) AddOptimalActions(*envs_[slots[k]], &turn);
    out.push_back(std::move(turn));
  }
  return out;
}

absl::StatusOr<std::vector<EpisodeResult>> PlayEpisodes(model::CausalLMImpl& model, const model::Tokenizer& tokenizer,
                                                        const model::ChatTemplate& chat, EnvBatch& envs,
                                                        const std::vector<EnvTask>& tasks, const PlayOptions& options) {
  const size_t n = tasks.size();
  if (n > envs.size()) return absl::InvalidArgumentError(absl::StrCat(n, " tasks for ", envs.size(), " env slots"));
  std::vector<EpisodeResult> results(n);
  std::vector<std::vector<Turn>> history(n);
  std::vector<std::string> observation(n);
  std::vector<bool> live(n, true);
  std::vector<std::vector<std::string>> moves(n);
  std::vector<std::optional<std::vector<std::string>>> optimal(n);  // of the state each episode is in
  for (size_t i = 0; i < n; ++i) {
    const bool oracle = i < options.with_optimal_actions.size() && options.with_optimal_actions[i];
    ASSIGN_OR_RETURN(EnvTurn first, envs.Reset(i, tasks[i], oracle));
    results[i].task_id = first.task_id;
    observation[i] = first.observation;
    optimal[i] = std::move(first.optimal_actions);
  }
  model::SamplingOptions sampling = options.sampling;
  sampling.stop_tokens.push_back(chat.end_of_turn());
  // One batch for the whole episode set: an episode's sequence stays in it, paused between turns, and a turn whose
  // input extends what the sequence already holds (full history, or a window that has not slid yet) prefills only
  // the new tokens; other inputs start a new sequence, sharing the system prompt's prefill.
  sampling.keep_finished = true;
  model::DecodeBatch batch(&model, sampling);
  std::vector<int64_t> sequence_of(n, -1);
  absl::flat_hash_map<int64_t, size_t> episode_of;
  const std::string& system_prompt = envs.spec().system_prompt;
  for (int turn = 0; turn < options.max_turns; ++turn) {
    std::vector<size_t> playing;
    std::vector<int64_t> extend_ids;
    std::vector<std::vector<int32_t>> extensions, prompts;
    std::vector<size_t> added;
    for (size_t i = 0; i < n; ++i) {
      if (!live[i]) continue;
      playing.push_back(i);
      TurnRecord record;
      record.context = BuildContext(chat, system_prompt, history[i], observation[i], options.history_turns,
                                    options.skill_tokens ? options.skill_tokens(i, moves[i]) : std::vector<int32_t>());
      record.moves_before = moves[i];
      record.observation = observation[i];
      record.optimal_actions = optimal[i];
      std::vector<int32_t> prompt = Flatten(record.context);
      results[i].turns.push_back(std::move(record));
      const std::vector<int32_t>* held = sequence_of[i] >= 0 ? batch.Tokens(sequence_of[i]) : nullptr;
      if (held != nullptr && held->size() < prompt.size() && std::equal(held->begin(), held->end(), prompt.begin())) {
        extend_ids.push_back(sequence_of[i]);
        extensions.emplace_back(prompt.begin() + static_cast<long>(held->size()), prompt.end());
        continue;
      }
      if (sequence_of[i] >= 0) batch.Remove(sequence_of[i]);
      prompts.push_back(std::move(prompt));
      added.push_back(i);
    }
    if (playing.empty()) break;
    batch.Reseed(options.sampling.seed * 1000003 + static_cast<uint64_t>(turn));
    RETURN_IF_ERROR(batch.Extend(extend_ids, extensions));
    ASSIGN_OR_RETURN(std::vector<int64_t> ids, batch.Add(prompts));
    for (size_t k = 0; k < ids.size(); ++k) {
      sequence_of[added[k]] = ids[k];
      episode_of[ids[k]] = added[k];
    }
    while (batch.live() > 0) {
      for (const model::SampledToken& t : batch.Step()) {
        TurnRecord& record = results[episode_of.at(t.sequence)].turns.back();
        record.generated.push_back(t.token);
        record.logprobs.push_back(t.logprob);
        record.probe_logprobs.insert(record.probe_logprobs.end(), t.probe_logprobs.begin(), t.probe_logprobs.end());
      }
    }
    std::vector<std::string> answers;
    for (size_t i : playing) {
      TurnRecord& record = results[i].turns.back();
      std::vector<int32_t> text_tokens = record.generated;
      if (!text_tokens.empty() && text_tokens.back() == chat.end_of_turn()) text_tokens.pop_back();
      record.answer = ValidUtf8(tokenizer.Decode(text_tokens));  // proto strings must be valid UTF-8
      answers.push_back(record.answer);
    }
    ASSIGN_OR_RETURN(std::vector<EnvTurn> steps, envs.Step(playing, answers));
    if (steps.size() != playing.size()) return absl::InternalError("env batch returned the wrong number of results");
    for (size_t k = 0; k < playing.size(); ++k) {
      const size_t i = playing[k];
      TurnRecord& record = results[i].turns.back();
      record.events = std::move(steps[k].events);
      for (const ActionEvent& e : record.events) {
        if (e.moved) moves[i].push_back(e.action);
      }
      record.reward = steps[k].reward;
      history[i].push_back({observation[i], record.generated});
      observation[i] = steps[k].observation;
      optimal[i] = std::move(steps[k].optimal_actions);
      results[i].totals = steps[k].totals;
      live[i] = !steps[k].done;
      if (live[i] && options.end_on_deadlock &&
          std::any_of(record.events.begin(), record.events.end(), [](const ActionEvent& e) { return e.deadlock; })) {
        EpisodeTotals& totals = results[i].totals;
        const int left = std::max(0, envs.spec().max_steps - totals.steps);
        totals.episode_return += options.deadlock_step_reward * left;
        record.reward += options.deadlock_step_reward * left;
        totals.truncated = true;
        live[i] = false;
      }
      if (!live[i]) batch.Remove(sequence_of[i]);
    }
  }
  return results;
}

std::string ToJson(const EvalSummary& s) {
  std::string json = absl::StrCat(
      "{\"episodes\": ", s.episodes, ", \"solved\": ", FormatDouble(s.solved),
      ", \"solved_stderr\": ", FormatDouble(s.solved_stderr), ", \"completion\": ", FormatDouble(s.completion),
      ", \"completion_stderr\": ", FormatDouble(s.completion_stderr),
      ", \"mean_return\": ", FormatDouble(s.mean_return), ", \"mean_steps\": ", FormatDouble(s.mean_steps),
      ", \"invalid_rate\": ", FormatDouble(s.invalid_rate), ", \"levels\": [");
  for (size_t i = 0; i < s.levels.size(); ++i) {
    const LevelSummary& l = s.levels[i];
    absl::StrAppend(&json, i == 0 ? "" : ", ", "{\"task\": ", JsonQuote(l.task_id), ", \"episodes\": ", l.episodes,
                    ", \"solved\": ", FormatDouble(l.solved), ", \"completion\": ", FormatDouble(l.completion), "}");
  }
  json += "]}";
  return json;
}

EvalSummary Summarize(const std::vector<EpisodeResult>& results) {
  EvalSummary s;
  s.episodes = static_cast<int>(results.size());
  if (results.empty()) return s;
  double solved2 = 0, completion2 = 0, turns = 0, invalid = 0;
  absl::flat_hash_map<std::string, size_t> level_of;
  for (const auto& r : results) {
    const double solved = r.totals.solved ? 1 : 0;
    auto [it, added] = level_of.try_emplace(r.task_id, s.levels.size());
    if (added) s.levels.push_back({r.task_id});
    LevelSummary& level = s.levels[it->second];
    ++level.episodes;
    level.solved += solved;
    level.completion += r.totals.completion;
    s.solved += solved;
    solved2 += solved * solved;
    s.completion += r.totals.completion;
    completion2 += r.totals.completion * r.totals.completion;
    s.mean_return += r.totals.episode_return;
    s.mean_steps += r.totals.steps;
    turns += r.totals.turns;
    invalid += r.totals.invalid_actions;
  }
  const double n = static_cast<double>(results.size());
  s.solved /= n;
  s.completion /= n;
  s.mean_return /= n;
  s.mean_steps /= n;
  s.invalid_rate = turns > 0 ? invalid / turns : 0;
  for (LevelSummary& level : s.levels) {
    level.solved /= level.episodes;
    level.completion /= level.episodes;
  }
  // Standard error of a mean: sample standard deviation / sqrt(n).
  auto stderr_of = [n](double mean, double sum2) {
    if (n < 2) return 0.0;
    const double var = std::max(0.0, (sum2 - n * mean * mean) / (n - 1));
    return std::sqrt(var / n);
  };
  s.solved_stderr = stderr_of(s.solved, solved2);
  s.completion_stderr = stderr_of(s.completion, completion2);
  return s;
}

}  // namespace skillsd::actor
