// skillsd: the tools binary. Subcommands:
//
//   skillsd health --target=HOST:PORT [--service=NAME] [--timeout_ms=N] [TLS/token flags]
//       gRPC health check; prints the status; exit 0 when SERVING, 1 otherwise, 2 on error.
//   skillsd config [--config=FILE] [--set=k=v,...] [--env_flags]
//       validates an experiment config and prints it in full (every key, defaults filled in); exit 2 on error.
//       --env_flags: the env section as flags for an env worker in another language (skillsd-env-frozenlake).
//   skillsd levels --split=train|test [--format=json|text] [--config=FILE]
//       prints the levels of a split: one JSON object a line (id, index, seed, grid, optimal length, optimal
//       actions), or the grids as text.
//   skillsd levels --stats [--episodes=N] [--config=FILE]
//       prints each split's optimal-length histogram and the solve rate of a uniformly random policy.
//   skillsd play --env=HOST:PORT [--task=sokoban/test/0] [--config=FILE] [TLS/token flags]
//       plays the task's optimal solution (from the level set) against a running skillsd-env through gRPC,
//       printing each observation; exit 0 when the env reports the level solved.
//   skillsd env-check --target=HOST:PORT [--concurrency=16] [--timeout_ms=N] [--max_message_bytes=N] [TLS/token flags]
//       the EnvService conformance suite against a running env worker (any language): prints each check and what
//       failed; exit 0 when every check passes, 1 otherwise, 2 on bad flags.
//   skillsd model init --out=DIR [--vocab=384 --hidden=128 --layers=3 --heads=4 --kv_heads=2 --head_dim=32
//                      --intermediate=384 --seed=1] [--config=FILE]
//       writes a random-init tiny Qwen3 checkpoint in Hugging Face layout (config.json, model.safetensors) with a
//       byte-level BPE tokenizer.json trained on the Sokoban interface text, or with --env_worker=HOST:PORT on the
//       text of any running env worker (its prompt, answers and observations).
//   skillsd tokenize --tokenizer=FILE
//       reads one JSON string a line on stdin and prints one JSON array of token ids a line.
//   skillsd score --model=DIR [--top_k=N]
//       reads {"context": [ids], "continuation": [ids]} a line and prints the continuation's per-token
//       log-probs as {"logprobs": [...]} (plus "top_k": [[[id, logprob], ...], ...] when asked).
//   skillsd sft --model=DIR --out=DIR [--epochs=30 --lr=5e-4 --skill_fraction=0.5 --target_success=0.1
//               --eval_every=2] [--config=FILE]
//       supervised warm start on the solver's optimal play of the training levels (a share of the prompts carry
//       the remaining moves as a skill), with greedy evaluation on the test levels; stops at the target. With
//       --env_worker=HOST:PORT: on the oracle's play of any running env worker (--oracle_episodes per task).
//   skillsd version
//       prints the version.
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/config.h"
#include "core/flags.h"
#include "core/grpc_status.h"
#include "core/json.h"
#include "env_workers/env_config.h"
#include "env_workers/env_proto.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "skillsd/v1/env.grpc.pb.h"
#include "tools/env_check.h"
#include "tools/model_commands.h"
#include "tools/report.h"
#include "tools/study.h"

ABSL_FLAG(std::string, target, "", "health, env-check: the server to check, host:port.");
ABSL_FLAG(int, concurrency, 16, "env-check: sessions driven at once by the concurrency check.");
ABSL_FLAG(bool, env_flags, false,
          "config: print the env section as an env worker's flags (--train_levels ... --seed) instead of the YAML.");
ABSL_FLAG(std::string, service, "", "health: service name to check; empty = the whole server.");
ABSL_FLAG(int, timeout_ms, 5000, "health: deadline of the check; env-check: of each call.");
ABSL_FLAG(std::string, split, "train", "levels: train or test.");
ABSL_FLAG(std::string, format, "json", "levels: json (one object a line) or text.");
ABSL_FLAG(bool, stats, false, "levels: print length histograms and the random-policy solve rate instead.");
ABSL_FLAG(int, episodes, 200, "levels --stats: random-policy episodes per level.");
ABSL_FLAG(std::string, env, "127.0.0.1:50051", "play: the skillsd-env to play against.");
ABSL_FLAG(std::string, task, "sokoban/test/0", "play: the task id (sokoban/train|test/INDEX).");

namespace skillsd {
namespace {

constexpr char kUsage[] =
    "skillsd <command> [flags]\n"
    "commands:\n"
    "  health   gRPC health check of a server (--target=HOST:PORT)\n"
    "  config   validate and print an experiment config (--config=FILE, --set=k=v)\n"
    "  model init  write a random-init tiny model with a trained tokenizer (--out=DIR)\n"
    "  tokenize    token ids of JSON strings on stdin (--tokenizer=FILE)\n"
    "  score       per-token log-probs of continuations on stdin (--model=DIR)\n"
    "  sft         warm-start a model on solver demonstrations (--model=DIR --out=DIR)\n"
    "  eval        greedy and sampled success of a model on a split (--model=DIR --eval_split=test)\n"
    "              (model init, sft and eval take any env from a running worker with --env_worker=HOST:PORT)\n"
    "  report      report.md and learning_curve.png of a run directory (--run_dir=runs/NAME)\n"
    "  study       study.md and its figures over a study's runs (--dir=runs/STUDY --modes=a,b --seeds=1,2,3;\n"
    "              deploy/local/study.sh runs the study and calls this)\n"
    "  env-check   the EnvService conformance suite against a running env worker (--target=HOST:PORT)\n"
    "  play     play a level's optimal solution against a running skillsd-env (--env, --task)\n"
    "  levels   print the Sokoban levels of a split (--split, --format) or their statistics (--stats)\n"
    "  version  print the version\n";

int Health() {
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty()) {
    std::cerr << "skillsd health: --target is required\n";
    return 2;
  }
  auto channel = CreateChannel(target, ChannelOptionsFromFlags(), {DescriptorOf<grpc::health::v1::Health>()});
  if (!channel.ok()) {
    std::cerr << "skillsd health: " << channel.status() << "\n";
    return 2;
  }
  auto stub = grpc::health::v1::Health::NewStub(*channel);
  grpc::ClientContext context;
  SetDeadline(&context, absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms)));
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(absl::GetFlag(FLAGS_service));
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = stub->Check(&context, request, &response);
  if (!status.ok()) {
    std::cerr << "skillsd health: " << target << ": " << FromGrpcStatus(status) << "\n";
    return 2;
  }
  std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(response.status()) << "\n";
  return response.status() == grpc::health::v1::HealthCheckResponse::SERVING ? 0 : 1;
}

int EnvCheck() {
  const std::string target = absl::GetFlag(FLAGS_target);
  if (target.empty() || absl::GetFlag(FLAGS_concurrency) < 1 || absl::GetFlag(FLAGS_timeout_ms) < 1) {
    std::cerr << "skillsd env-check: --target=HOST:PORT is required; --concurrency and --timeout_ms are positive\n";
    return 2;
  }
  // --max_message_bytes is the server's limit the suite probes; the channel sends up to 1 MiB more.
  ChannelOptions channel_options = ChannelOptionsFromFlags();
  EnvCheckOptions options;
  options.max_message_bytes = channel_options.max_message_bytes;
  options.concurrent_sessions = absl::GetFlag(FLAGS_concurrency);
  options.call_deadline = absl::Milliseconds(absl::GetFlag(FLAGS_timeout_ms));
  channel_options.max_message_bytes += 1 << 20;
  channel_options.max_attempts = 1;  // what the server answers is the subject: no retries
  auto channel = CreateChannel(target, channel_options,
                               {DescriptorOf<skillsd::v1::EnvService>(), DescriptorOf<grpc::health::v1::Health>()});
  if (!channel.ok()) {
    std::cerr << "skillsd env-check: " << channel.status() << "\n";
    return 2;
  }
  EnvCheckReport report = RunEnvChecks(*channel, options);
  report.target = target;
  std::cout << FormatEnvCheckReport(report);
  return report.passed() ? 0 : 1;
}

int Config() {
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "skillsd config: " << config.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_env_flags)) {  // what an env worker in another language takes from the experiment
    const EnvConfig& e = config->env;
    std::cout << "--train_levels=" << e.train_levels << " --test_levels=" << e.test_levels
              << " --max_steps=" << e.max_steps << " --max_actions_per_turn=" << e.max_actions_per_turn
              << " --seed=" << config->run.seed;
    if (e.name == "frozenlake") {
      std::cout << " --size=" << e.map_size << " --slippery=" << (e.slippery ? "true" : "false")
                << " --frozen_probability=" << e.frozen_probability;
    }
    std::cout << "\n";
    return 0;
  }
  std::cout << ToYaml(*config);
  return 0;
}

int Levels() {
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "skillsd levels: " << config.status().message() << "\n";
    return 2;
  }
  auto levels = BuildLevelSet(config->env);
  if (!levels.ok()) {
    std::cerr << "skillsd levels: " << levels.status() << "\n";
    return 1;
  }
  if (absl::GetFlag(FLAGS_stats)) {
    std::cout << "fingerprint 0x" << std::hex << (*levels)->Fingerprint() << std::dec << "\n";
    for (Split split : {Split::kTrain, Split::kTest}) {
      const auto& list = (*levels)->levels(split);
      const sokoban::LevelStats stats =
          sokoban::ComputeLevelStats(list, absl::GetFlag(FLAGS_episodes), config->env.max_steps, 1);
      std::cout << SplitName(split) << ": " << list.size() << " levels, mean optimal length "
                << stats.mean_optimal_length << " moves\n  optimal length histogram:";
      for (size_t n = 0; n < stats.length_histogram.size(); ++n) {
        if (stats.length_histogram[n] > 0) std::cout << " " << n << ":" << stats.length_histogram[n];
      }
      std::cout << "\n  random policy: " << stats.solved << " of " << stats.episodes << " episodes solved ("
                << 100.0 * stats.random_solve_rate() << "%) within " << config->env.max_steps << " steps\n";
    }
    return 0;
  }
  auto split = ParseSplit(absl::GetFlag(FLAGS_split));
  if (!split.ok() || *split == Split::kProcedural) {
    std::cerr << "skillsd levels: --split must be train or test\n";
    return 2;
  }
  const std::string format = absl::GetFlag(FLAGS_format);
  if (format != "json" && format != "text") {
    std::cerr << "skillsd levels: --format must be json or text\n";
    return 2;
  }
  const auto& list = (*levels)->levels(*split);
  for (size_t i = 0; i < list.size(); ++i) {
    const sokoban::Level& level = list[i];
    const std::string id = TaskId("sokoban", {*split, static_cast<int>(i), level.seed});
    if (format == "text") {
      std::cout << id << " (optimal " << level.optimal_length << ": " << level.OptimalActionString() << ")\n"
                << level.Grid() << "\n\n";
      continue;
    }
    std::string actions;
    for (size_t k = 0; k < level.optimal_actions.size(); ++k) {
      actions += absl::StrCat(k ? ", " : "", "\"", sokoban::ActionName(level.optimal_actions[k]), "\"");
    }
    std::cout << "{\"id\": " << JsonQuote(id) << ", \"index\": " << i << ", \"seed\": " << level.seed
              << ", \"grid\": " << JsonQuote(level.Grid()) << ", \"optimal_length\": " << level.optimal_length
              << ", \"optimal_actions\": [" << actions << "]}\n";
  }
  return 0;
}

int Play() {
  auto config = ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "skillsd play: " << config.status().message() << "\n";
    return 2;
  }
  skillsd::v1::TaskRef task_ref;
  task_ref.set_task_id(absl::GetFlag(FLAGS_task));
  auto task = ToEnvTask(task_ref);
  auto levels = BuildLevelSet(config->env);
  if (!task.ok() || !levels.ok()) {
    std::cerr << "skillsd play: " << (task.ok() ? levels.status() : task.status()) << "\n";
    return 2;
  }
  auto level = (*levels)->Get(task->split, task->index, task->seed);
  if (!level.ok()) {
    std::cerr << "skillsd play: " << level.status() << "\n";
    return 2;
  }
  auto channel =
      CreateChannel(absl::GetFlag(FLAGS_env), ChannelOptionsFromFlags(), {DescriptorOf<skillsd::v1::EnvService>()});
  if (!channel.ok()) {
    std::cerr << "skillsd play: " << channel.status() << "\n";
    return 2;
  }
  auto stub = skillsd::v1::EnvService::NewStub(*channel);
  grpc::ClientContext create_context;
  skillsd::v1::CreateSessionRequest create;
  *create.mutable_task() = task_ref;
  skillsd::v1::CreateSessionResponse created;
  grpc::Status status = stub->CreateSession(&create_context, create, &created);
  if (!status.ok()) {
    std::cerr << "skillsd play: CreateSession: " << FromGrpcStatus(status) << "\n";
    return 1;
  }
  std::cout << created.task().task_id() << "\n" << created.observation().text() << "\n";
  const std::vector<sokoban::Action>& plan = level->optimal_actions;
  const size_t per_turn = static_cast<size_t>(config->env.max_actions_per_turn);
  skillsd::v1::Observation last = created.observation();
  for (size_t i = 0; i < plan.size() && !last.done(); i += per_turn) {
    const std::string answer =
        sokoban::FormatAnswer(absl::MakeConstSpan(plan).subspan(i, std::min(plan.size() - i, per_turn)));
    grpc::ClientContext context;
    skillsd::v1::StepRequest step;
    step.set_session_id(created.session_id());
    step.set_answer(answer);
    skillsd::v1::StepResponse response;
    status = stub->Step(&context, step, &response);
    if (!status.ok()) {
      std::cerr << "skillsd play: Step: " << FromGrpcStatus(status) << "\n";
      return 1;
    }
    last = response.observation();
    std::cout << "> " << answer << "   (reward " << last.reward() << ")\n" << last.text() << "\n";
  }
  grpc::ClientContext close_context;
  skillsd::v1::CloseSessionRequest close;
  close.set_session_id(created.session_id());
  skillsd::v1::CloseSessionResponse closed;
  (void)stub->CloseSession(&close_context, close, &closed);
  std::cout << (last.stats().solved() ? "solved" : "NOT solved") << " in " << last.stats().steps() << " steps, return "
            << last.stats().episode_return() << "\n";
  return last.stats().solved() ? 0 : 1;
}

}  // namespace
}  // namespace skillsd

int main(int argc, char** argv) {
  std::vector<char*> args = skillsd::ParseFlags(argc, argv, skillsd::kUsage);
  if (args.size() < 2) {
    std::cerr << skillsd::kUsage;
    return 2;
  }
  const std::string command = args[1];
  if (command == "health") return skillsd::Health();
  if (command == "config") return skillsd::Config();
  if (command == "env-check") return skillsd::EnvCheck();
  if (command == "levels") return skillsd::Levels();
  if (command == "play") return skillsd::Play();
  if (command == "model" && args.size() >= 3 && std::string(args[2]) == "init") return skillsd::ModelInitCommand();
  if (command == "tokenize") return skillsd::TokenizeCommand();
  if (command == "score") return skillsd::ScoreCommand();
  if (command == "sft") return skillsd::SftCommand();
  if (command == "eval") return skillsd::EvalCommand();
  if (command == "report") return skillsd::ReportCommand();
  if (command == "study") return skillsd::StudyCommand();
  if (command == "version") {
    std::cout << "skillsd " << SKILLSD_VERSION << "\n";
    return 0;
  }
  std::cerr << "skillsd: unknown command '" << command << "'\n" << skillsd::kUsage;
  return 2;
}
