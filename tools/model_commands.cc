#include "tools/model_commands.h"

#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "actor/clients.h"
#include "actor/evaluation.h"
#include "actor/remote_env.h"
#include "actor/rollout.h"
#include "core/channel.h"
#include "core/file_util.h"
#include "core/flags.h"
#include "core/json.h"
#include "core/skill_prompt.h"
#include "core/status.h"
#include "env_workers/env_config.h"
#include "env_workers/sokoban_env.h"
#include "learner/trainer.h"
#include "model/chat.h"
#include "model/inference.h"
#include "model/tokenizer.h"
#include "model/transformer.h"
#include "tools/warm_start.h"

ABSL_FLAG(std::string, out, "", "model init: the model folder to write.");
ABSL_FLAG(int, vocab, 384, "model init: BPE vocabulary size before the special tokens.");
ABSL_FLAG(int, hidden, 128, "model init: hidden size.");
ABSL_FLAG(int, layers, 3, "model init: decoder layers.");
ABSL_FLAG(int, heads, 4, "model init: attention heads.");
ABSL_FLAG(int, kv_heads, 2, "model init: key/value heads.");
ABSL_FLAG(int, head_dim, 32, "model init: head dimension.");
ABSL_FLAG(int, intermediate, 384, "model init: MLP width.");
ABSL_FLAG(uint64_t, seed, 1, "model init: weight seed.");
ABSL_FLAG(std::string, tokenizer, "",
          "tokenize: the tokenizer.json to use. model init: use this tokenizer.json (e.g. Qwen3's) instead of training "
          "a small BPE on Sokoban text.");
ABSL_FLAG(int, pad_vocab, 0,
          "model init: embedding rows (the model's vocab_size) when larger than the tokenizer's, as Qwen3 pads its "
          "151,669 tokens to 151,936; 0 = the tokenizer's size.");
ABSL_FLAG(std::string, weights_dtype, "float32", "model init: dtype of the saved safetensors (float32 | bfloat16).");
ABSL_FLAG(std::string, model, "", "score: the model folder.");
ABSL_FLAG(int, top_k, 0, "score: also print the top-k log-probs at each position.");
ABSL_FLAG(int, epochs, 30, "sft: passes over the demonstrations at most.");
ABSL_FLAG(double, lr, 5e-4,
          "sft: learning rate (at 2e-3 and above the tiny model does not get past chance on the moves).");
ABSL_FLAG(double, skill_fraction, 0.5,
          "sft: share of demonstrations whose prompt carries a skill (the remaining moves).");
ABSL_FLAG(std::string, skill_demos, "solver",
          "sft: the plan a demonstration with a skill follows: solver (the same as without a skill), varied (its "
          "own optimal plan, ties broken at random, so that reading the skill is the only way to the answer at a tie) "
          "or summarised (the rules summariser's skill of a noisy episode that solved the level, followed detours "
          "and all; tools/warm_start.h).");
ABSL_FLAG(double, target_success, 0.1, "sft: stop at the first evaluation with at least this greedy test success.");
ABSL_FLAG(int, detours, 2, "sft: demonstrations per level that start a few random moves away from the start.");
ABSL_FLAG(int, batch, 32, "sft: demonstration turns per optimizer step.");
ABSL_FLAG(std::string, eval_split, "test", "eval: the split to play (test or train).");
ABSL_FLAG(int, transcripts, 0, "eval: print this many greedy episodes turn by turn to stderr.");
ABSL_FLAG(std::string, json_out, "",
          "eval: write the JSON result (every level's figures) to this file; the terminal gets a table.");
ABSL_FLAG(int, eval_every, 2, "sft: epochs between greedy evaluations on the test levels.");
ABSL_FLAG(std::string, env_worker, "",
          "model init, sft, eval: take the environment from this running env worker (HOST:PORT, any EnvService "
          "implementation: its spec, text, oracle and tasks) instead of in-process Sokoban from the config.");
ABSL_FLAG(int, oracle_episodes, 2, "sft --env_worker: episodes per training task that follow the env's oracle.");

namespace skillsd {
namespace {

// The sessions of a running env worker (--env_worker) as environments for model init, sft and eval.
absl::StatusOr<actor::EnvBatchFactory> RemoteEnvs(const std::string& target) {
  ASSIGN_OR_RETURN(auto channel,
                   CreateChannel(target, ChannelOptionsFromFlags(), {DescriptorOf<skillsd::v1::EnvService>()}));
  actor::EnvClient client(skillsd::v1::EnvService::NewStub(channel), absl::Seconds(60));
  return actor::EnvBatchFactory([client](size_t slots) -> absl::StatusOr<std::unique_ptr<actor::EnvBatch>> {
    ASSIGN_OR_RETURN(std::unique_ptr<actor::RemoteEnvBatch> batch, actor::RemoteEnvBatch::Create(client, slots));
    return std::unique_ptr<actor::EnvBatch>(std::move(batch));
  });
}

// The env of sft and eval: the worker's (--env_worker), or in-process Sokoban over `levels`; and its spec.
struct EnvSource {
  actor::EnvBatchFactory envs;
  EnvSpec spec;
  std::shared_ptr<const sokoban::LevelSet> levels;  // in-process Sokoban only
};
absl::StatusOr<EnvSource> EnvFromFlags(const ExperimentConfig& config) {
  EnvSource source;
  if (const std::string target = absl::GetFlag(FLAGS_env_worker); !target.empty()) {
    ASSIGN_OR_RETURN(source.envs, RemoteEnvs(target));
  } else {
    ASSIGN_OR_RETURN(source.levels, BuildLevelSet(config.env));
    source.envs = LocalSokobanEnvs(config, source.levels);
  }
  ASSIGN_OR_RETURN(std::unique_ptr<actor::EnvBatch> one, source.envs(1));
  source.spec = one->spec();
  return source;
}

}  // namespace

int ModelInitCommand() {
  const std::string out = absl::GetFlag(FLAGS_out);
  auto config = ConfigFromFlags();
  if (out.empty() || !config.ok()) {
    std::cerr << "skillsd model init: " << (out.empty() ? "--out is required" : config.status().ToString()) << "\n";
    return 2;
  }
  model::SetIntraOpThreads(config->model.threads);
  const std::string dtype = absl::GetFlag(FLAGS_weights_dtype);
  ModelDtype weights_dtype = ModelDtype::kFloat32;
  if (!ParseEnum(dtype, &weights_dtype)) {
    std::cerr << "skillsd model init: --weights_dtype must be " << EnumChoices<ModelDtype>() << ", not '" << dtype
              << "'\n";
    return 2;
  }
  std::string tokenizer_json, made_from;
  if (const std::string file = absl::GetFlag(FLAGS_tokenizer); !file.empty()) {
    auto text = ReadFile(file);
    if (!text.ok()) {
      std::cerr << "skillsd model init: " << text.status() << "\n";
      return 2;
    }
    tokenizer_json = *std::move(text);
    made_from = "tokenizer " + file;
  } else if (const std::string target = absl::GetFlag(FLAGS_env_worker); !target.empty()) {
    // Any env, known only through its worker: its own text (tools/warm_start.h, EnvCorpus).
    absl::StatusOr<std::vector<std::string>> corpus;
    absl::StatusOr<actor::EnvBatchFactory> envs = RemoteEnvs(target);
    absl::StatusOr<std::unique_ptr<actor::EnvBatch>> batch = envs.ok() ? (*envs)(1) : envs.status();
    corpus = batch.ok() ? EnvCorpus(*config, **batch) : batch.status();
    if (!corpus.ok()) {
      std::cerr << "skillsd model init: env worker " << target << ": " << corpus.status() << "\n";
      return 1;
    }
    tokenizer_json = model::Tokenizer::TrainBpeJson(
        *corpus, absl::GetFlag(FLAGS_vocab), {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, EnvSymbols(*corpus));
    made_from = absl::StrCat("a BPE trained on ", corpus->size(), " texts of the ", (*batch)->spec().name,
                             " env worker at ", target);
  } else {
    const std::vector<std::string> corpus = SokobanCorpus(*config);
    // One token per grid cell, and no token across the answer's angle brackets: a merge such as ">Up" would tie
    // the format to the first move, and RL that lowers a bad first move would then also lower the format
    // (measured: "<answer || Up" answers after training).
    tokenizer_json = model::Tokenizer::TrainBpeJson(corpus, absl::GetFlag(FLAGS_vocab),
                                                    {"<|endoftext|>", "<|im_start|>", "<|im_end|>"},
                                                    absl::StrCat(sokoban::kGridSymbols, "<>"));
    made_from = absl::StrCat("a BPE trained on ", corpus.size(), " Sokoban texts");
  }
  auto tokenizer = model::Tokenizer::FromJson(tokenizer_json);
  if (!tokenizer.ok()) {
    std::cerr << "skillsd model init: " << tokenizer.status() << "\n";
    return 1;
  }
  model::ModelConfig c;
  c.family = model::Family::kQwen3;
  c.vocab_size = (*tokenizer)->vocab_size();
  if (const int pad = absl::GetFlag(FLAGS_pad_vocab); pad != 0) {
    if (pad < c.vocab_size) {
      std::cerr << "skillsd model init: --pad_vocab=" << pad << " is below the tokenizer's " << c.vocab_size
                << " tokens\n";
      return 2;
    }
    c.vocab_size = pad;
  }
  c.hidden_size = absl::GetFlag(FLAGS_hidden);
  c.intermediate_size = absl::GetFlag(FLAGS_intermediate);
  c.num_hidden_layers = absl::GetFlag(FLAGS_layers);
  c.num_attention_heads = absl::GetFlag(FLAGS_heads);
  c.num_key_value_heads = absl::GetFlag(FLAGS_kv_heads);
  c.head_dim = absl::GetFlag(FLAGS_head_dim);
  c.rope_theta = 10000.0;
  c.max_position_embeddings = 4096;
  c.tie_word_embeddings = true;
  c.attention_bias = false;
  c.qk_norm = true;
  c.bos_token_id = (*tokenizer)->TokenId("<|endoftext|>");
  c.eos_token_id = (*tokenizer)->TokenId("<|im_end|>");
  // Validate through the same parser every loader uses.
  auto checked = model::ParseModelConfig(model::ToJson(c));
  if (!checked.ok()) {
    std::cerr << "skillsd model init: " << checked.status() << "\n";
    return 2;
  }
  model::CausalLM lm = model::RandomModel(*checked, absl::GetFlag(FLAGS_seed));
  lm->to(model::ToTorch(weights_dtype));  // bfloat16 as Hugging Face ships Qwen3
  absl::Status saved = model::SaveModel(lm, out);
  if (saved.ok()) saved = WriteFileAtomically(out + "/tokenizer.json", tokenizer_json);
  if (!saved.ok()) {
    std::cerr << "skillsd model init: " << saved << "\n";
    return 1;
  }
  std::cout << "wrote " << out << ": " << checked->NumParameters() << " parameters (" << dtype << "), vocabulary "
            << checked->vocab_size << " (" << made_from << ", " << (*tokenizer)->vocab_size() << " tokens)\n";
  return 0;
}

int TokenizeCommand() {
  auto tokenizer = model::Tokenizer::FromFile(absl::GetFlag(FLAGS_tokenizer));
  if (!tokenizer.ok()) {
    std::cerr << "skillsd tokenize: " << tokenizer.status() << "\n";
    return 2;
  }
  int line_number = 0;
  for (std::string line; std::getline(std::cin, line);) {
    ++line_number;
    auto text = ParseJson(line);
    if (!text.ok() || !text->is_string()) {
      std::cerr << "skillsd tokenize: line " << line_number << ": expected a JSON string\n";
      return 1;
    }
    std::string ids;
    for (int32_t id : (*tokenizer)->Encode(text->string())) absl::StrAppend(&ids, ids.empty() ? "" : ", ", id);
    std::cout << "[" << ids << "]\n";
  }
  return 0;
}

int ScoreCommand() {
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "skillsd score: " << config.status() << "\n";
    return 2;
  }
  model::SetIntraOpThreads(config->model.threads);
  auto lm = model::LoadModel(absl::GetFlag(FLAGS_model));
  if (!lm.ok()) {
    std::cerr << "skillsd score: " << lm.status() << "\n";
    return 2;
  }
  c10::InferenceMode guard;
  int line_number = 0;
  for (std::string line; std::getline(std::cin, line);) {
    ++line_number;
    auto request = ParseJson(line);
    model::ScoreItem item;
    bool ok = request.ok() && request->is_object();
    for (const char* field : {"context", "continuation"}) {
      const JsonValue* ids = ok ? request->Find(field) : nullptr;
      ok = ok && ids != nullptr && ids->is_array();
      for (size_t i = 0; ok && i < ids->array().size(); ++i) {
        ok = ids->array()[i].is_integer() && ids->array()[i].integer() >= INT32_MIN &&
             ids->array()[i].integer() <= INT32_MAX;
        if (ok) {
          (std::string(field) == "context" ? item.context : item.continuation)
              .push_back(static_cast<int32_t>(ids->array()[i].integer()));
        }
      }
    }
    if (!ok) {
      std::cerr << "skillsd score: line " << line_number
                << ": expected {\"context\": [ids], \"continuation\": [ids]}\n";
      return 1;
    }
    const int top_k = absl::GetFlag(FLAGS_top_k);
    auto scored = model::ScoreBatch(**lm, {item}, 1.0, top_k);
    if (!scored.ok()) {
      std::cerr << "skillsd score: line " << line_number << ": " << scored.status() << "\n";
      return 1;
    }
    std::string logprobs, top;
    for (size_t j = 0; j < item.continuation.size(); ++j) {
      absl::StrAppend(&logprobs, j ? ", " : "", FormatDouble(scored->logprobs[0][j].item<float>()));
      if (top_k > 0) {
        std::string row;
        for (int k = 0; k < scored->top_k_ids.size(2); ++k) {
          absl::StrAppend(&row, k ? ", " : "", "[", scored->top_k_ids[0][j][k].item<int64_t>(), ", ",
                          FormatDouble(scored->top_k_logprobs[0][j][k].item<float>()), "]");
        }
        absl::StrAppend(&top, j ? ", " : "", "[", row, "]");
      }
    }
    std::cout << "{\"logprobs\": [" << logprobs << "]" << (top_k > 0 ? absl::StrCat(", \"top_k\": [", top, "]") : "")
              << "}\n";
  }
  return 0;
}

int SftCommand() {
  auto config = ConfigFromFlags();
  const std::string in = absl::GetFlag(FLAGS_model), out = absl::GetFlag(FLAGS_out);
  if (!config.ok() || in.empty() || out.empty()) {
    std::cerr << "skillsd sft: " << (config.ok() ? "--model and --out are required" : config.status().ToString())
              << "\n";
    return 2;
  }
  model::SetIntraOpThreads(config->model.threads);
  std::cout << std::unitbuf;  // progress lines as they happen
  // The demonstrations come from env.warm_start_levels training levels (the RL training split and its
  // continuation); the test split is the same as the experiment's.
  config->env.train_levels = std::max(config->env.train_levels, config->env.warm_start_levels);
  auto lm = model::LoadModel(in);
  auto tok = model::Tokenizer::FromFile(in + "/tokenizer.json");
  auto source = EnvFromFlags(*config);
  if (!lm.ok() || !tok.ok() || !source.ok()) {
    std::cerr << "skillsd sft: " << (!lm.ok() ? lm.status() : !tok.ok() ? tok.status() : source.status()) << "\n";
    return 2;
  }
  const bool remote = !absl::GetFlag(FLAGS_env_worker).empty();
  auto chat = model::ChatTemplate::Create(tok->get());
  if (!chat.ok()) {
    std::cerr << "skillsd sft: " << chat.status() << "\n";
    return 2;
  }
  const std::string skill_demos = absl::GetFlag(FLAGS_skill_demos);
  if (skill_demos != "solver" && skill_demos != "varied" && skill_demos != "summarised") {
    std::cerr << "skillsd sft: --skill_demos is solver, varied or summarised, got '" << skill_demos << "'\n";
    return 2;
  }
  std::vector<learner::TrainingSequence> demos;
  if (remote) {  // any env with an oracle: its optimal play, one action per turn, no skills (warm_start.h)
    absl::StatusOr<std::unique_ptr<actor::EnvBatch>> batch = source->envs(1);
    absl::StatusOr<std::vector<learner::TrainingSequence>> oracle =
        batch.ok() ? OracleDemonstrations(*config, **tok, *chat, **batch, absl::GetFlag(FLAGS_oracle_episodes))
                   : batch.status();
    if (!oracle.ok()) {
      std::cerr << "skillsd sft: " << oracle.status() << "\n";
      return 1;
    }
    demos = *std::move(oracle);
  } else {
    demos = Demonstrations(*config, **tok, *chat, source->levels, absl::GetFlag(FLAGS_detours),
                           absl::GetFlag(FLAGS_skill_fraction),
                           skill_demos == "varied"       ? SkillDemos::kVaried
                           : skill_demos == "summarised" ? SkillDemos::kSummarised
                                                         : SkillDemos::kSolver);
  }
  if (demos.empty()) {
    std::cerr << "skillsd sft: no demonstrations\n";
    return 1;
  }
  const int train = source->spec.train_levels;
  learner::TrainerOptions options;
  options.objective = learner::Objective::kSft;
  options.learning_rate = absl::GetFlag(FLAGS_lr);
  options.warmup_steps = 5;
  options.minibatches = std::max<int>(1, static_cast<int>(demos.size()) / absl::GetFlag(FLAGS_batch));
  options.seed = config->run.seed;
  learner::Trainer trainer(std::move(lm).value(), options);
  std::cout << "sft: " << demos.size() << " demonstration turns from " << train << " training levels, "
            << options.minibatches << " optimizer steps per epoch\n";
  const auto start = std::chrono::steady_clock::now();
  double success = 0;
  const int epochs = absl::GetFlag(FLAGS_epochs);
  for (int epoch = 1; epoch <= epochs; ++epoch) {
    absl::StatusOr<learner::StepStats> stats = trainer.Step(demos);
    if (!stats.ok()) {
      std::cerr << "skillsd sft: " << stats.status() << "\n";
      return 1;
    }
    const bool eval = epoch % absl::GetFlag(FLAGS_eval_every) == 0 || epoch == epochs;
    std::cout << "epoch " << epoch << ": loss " << stats->loss;
    if (eval) {
      auto rate = actor::Evaluate(*trainer.model(), **tok, *chat, *config, source->envs, Split::kTest,
                                  source->spec.test_levels, actor::EvalPolicy::kGreedy, 0);
      if (!rate.ok()) {
        std::cerr << "\nskillsd sft: " << rate.status() << "\n";
        return 1;
      }
      success = actor::Summarize(*rate).solved;
      std::cout << ", greedy test success " << 100.0 * success << "%";
    }
    // Flushed: run.sh pipes this through tee, where the progress would otherwise wait for the end.
    std::cout << " (" << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s)"
              << std::endl;
    if (eval && success >= absl::GetFlag(FLAGS_target_success)) break;
  }
  absl::Status saved = model::SaveModel(trainer.model(), out);
  if (saved.ok()) saved = WriteFileAtomically(out + "/tokenizer.json", *ReadFile(in + "/tokenizer.json"));
  if (!saved.ok()) {
    std::cerr << "skillsd sft: " << saved << "\n";
    return 1;
  }
  std::cout << "wrote " << out << " (greedy test success " << 100.0 * success << "%)\n";
  return 0;
}

int EvalCommand() {
  auto config = ConfigFromFlags();
  const std::string dir = absl::GetFlag(FLAGS_model);
  if (!config.ok() || dir.empty()) {
    std::cerr << "skillsd eval: " << (config.ok() ? "--model is required" : config.status().ToString()) << "\n";
    return 2;
  }
  model::SetIntraOpThreads(config->model.threads);
  auto lm = model::LoadModel(dir);
  auto tok = model::Tokenizer::FromFile(dir + "/tokenizer.json");
  auto source = EnvFromFlags(*config);
  auto split = ParseSplit(absl::GetFlag(FLAGS_eval_split));
  if (split.ok() && *split == Split::kProcedural) split = absl::InvalidArgumentError("--eval_split is test or train");
  if (!lm.ok() || !tok.ok() || !source.ok() || !split.ok()) {
    std::cerr << "skillsd eval: "
              << (!lm.ok()       ? lm.status()
                  : !tok.ok()    ? tok.status()
                  : !source.ok() ? source.status()
                                 : split.status())
              << "\n";
    return 2;
  }
  auto chat = model::ChatTemplate::Create(tok->get());
  if (!chat.ok()) {
    std::cerr << "skillsd eval: " << chat.status() << "\n";
    return 2;
  }
  // Greedy (one episode a level), then sampled at the rollout temperature (eval_episodes_per_level a level).
  const actor::EnvBatchFactory& envs = source->envs;
  const int count = *split == Split::kTest ? source->spec.test_levels : source->spec.train_levels;
  auto greedy =
      actor::Evaluate(**lm, **tok, *chat, *config, envs, *split, count, actor::EvalPolicy::kGreedy, config->run.seed);
  auto sampled =
      actor::Evaluate(**lm, **tok, *chat, *config, envs, *split, count, actor::EvalPolicy::kSampled, config->run.seed);
  if (!greedy.ok() || !sampled.ok()) {
    std::cerr << "skillsd eval: " << (greedy.ok() ? sampled.status() : greedy.status()) << "\n";
    return 1;
  }
  for (int i = 0; i < absl::GetFlag(FLAGS_transcripts) && i < static_cast<int>(greedy->size()); ++i) {
    const actor::EpisodeResult& r = (*greedy)[i];
    std::cerr << "== " << r.task_id << " (greedy): " << (r.totals.solved ? "solved" : "not solved") << " in "
              << r.totals.steps << " moves\n";
    for (const auto& turn : r.turns) std::cerr << turn.observation << "\n  -> " << turn.answer << "\n";
  }
  const actor::EvalSummary greedy_summary = actor::Summarize(*greedy), sampled_summary = actor::Summarize(*sampled);
  const std::string json = absl::StrCat(
      "{\"model\": ", JsonQuote(dir), ", \"split\": ", JsonQuote(absl::GetFlag(FLAGS_eval_split)),
      ", \"greedy\": ", actor::ToJson(greedy_summary), ", \"sampled\": ", actor::ToJson(sampled_summary), "}\n");
  // The terminal gets a short table; the JSON (every level's figures too) goes to --json_out.
  std::cout << absl::StrFormat("%s, %s levels (%d):\n", dir, absl::GetFlag(FLAGS_eval_split), count)
            << absl::StrFormat("  %-8s %8s  %-15s %-15s %12s %10s\n", "policy", "episodes", "solved", "completion",
                               "invalid/turn", "steps");
  for (const auto& [name, summary] :
       {std::pair<const char*, const actor::EvalSummary*>{"greedy", &greedy_summary}, {"sampled", &sampled_summary}}) {
    std::cout << absl::StrFormat("  %-8s %8d  %5.1f%% ± %-6.1f %5.1f%% ± %-6.1f %12.3f %10.1f\n", name,
                                 summary->episodes, 100 * summary->solved, 100 * summary->solved_stderr,
                                 100 * summary->completion, 100 * summary->completion_stderr, summary->invalid_rate,
                                 summary->mean_steps);
  }
  const std::string json_out = absl::GetFlag(FLAGS_json_out);
  if (json_out.empty()) {
    std::cout << "  (per-level figures as JSON: --json_out=FILE)\n";
    return 0;
  }
  absl::Status written = WriteFileAtomically(json_out, json);
  if (!written.ok()) {
    std::cerr << "skillsd eval: " << written << "\n";
    return 1;
  }
  std::cout << "  wrote " << json_out << "\n";
  return 0;
}

}  // namespace skillsd
