// The experiment config: one YAML file read by every process (learner, actors, teacher, skill service, env
// workers), so all of them agree on the mode, the algorithm's constants and the environment. Deployment details
// (ports, addresses, deadlines, TLS files) are flags instead (core/flags.h), since they differ per process.
//
// Parsing is strict: an unknown key, a value of the wrong type or out of range is an error that names the key
// ("learner.learning_rate: must be > 0, got -1"), and nothing is half-applied. Every key is optional; the
// defaults below are the paper's settings where it gives them (SPEC-skill-sd.md) and our choices otherwise
// (docs/configuration.md lists them all).
#ifndef SKILLSD_CORE_CONFIG_H_
#define SKILLSD_CORE_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "core/config_enums.h"
#include "core/training_mode.h"

namespace skillsd {

struct RunConfig {
  std::string name = "sokoban-skill-sd";  // runs/<name>/ holds the outputs
  std::string output_dir = "runs";
  uint64_t seed = 1;
};

struct EnvConfig {
  std::string name = "sokoban";
  int room_size = 6;  // square room, border walls included
  int num_boxes = 2;
  int max_steps = 40;            // episode step limit
  int max_actions_per_turn = 3;  // actions accepted from one answer
  bool coordinates = false;      // observations also list positions as text (row/col of player, boxes, targets)
  std::string prompt = "full";   // system prompt: "full" (rules and symbols) or "compact" (one line, for tiny models)
  int train_levels = 96;
  // Levels whose solver demonstrations the warm start (skillsd sft) learns from: the first train_levels of them are
  // the RL training levels, and the test split is disjoint from all of them. 0 = train_levels.
  int warm_start_levels = 0;
  int test_levels = 64;
  std::string curriculum = "optimal_length";  // "optimal_length" (short first) or "none" (index order)
  int min_optimal_length = 8;                 // generator: reject levels solvable in fewer moves
  int reverse_steps = 150;                    // generator: reverse-play moves from the solved state
  double step_reward = -0.1;
  double box_on_target_reward = 1.0;
  double box_off_target_reward = -1.0;
  double solved_reward = 10.0;
  // FrozenLake (env_workers/python, `skillsd-env-frozenlake`); the Sokoban keys above do not apply to it.
  int map_size = 4;                 // the map is map_size × map_size
  bool slippery = true;             // Gymnasium's is_slippery: a move may go sideways
  double frozen_probability = 0.8;  // generate_random_map's p: a tile is ice with this probability, else a hole
};

struct ModelConfig {
  std::string path = "runs/model";          // Hugging Face folder: config.json, *.safetensors, tokenizer.json
  std::string device = "cpu";               // "cpu" or "cuda[:N]"
  ModelDtype dtype = ModelDtype::kFloat32;  // float32 | bfloat16
  int threads = 0;                          // LibTorch intra-op threads; 0 = all cores
};

struct AlgorithmConfig {
  TrainingMode mode = TrainingMode::kSkillSd;
  int group_size = 8;                           // G: episodes per task
  int tasks_per_step = 8;                       // B: tasks per learner step
  double sdl_coef = 0.001;                      // λ
  double clip_low = 0.2;                        // ε_low
  double clip_high = 0.28;                      // ε_high
  double advantage_eps = 1e-6;                  // ε in (R - mean) / (std + ε)
  std::string advantage_std = "population";     // "population" or "sample"
  std::string loss_aggregation = "token_mean";  // "token_mean" (SPEC) or "trajectory_mean" (learner/groups.h)
  double max_neg_log_gap = 20.0;                // clamp on -ℓ before exp
  double max_log_rho = 10.0;                    // clamp on log ρ
  double kl_ref_coef = 0.0;                     // KL to the initial policy (off)
  double entropy_coef = 0.0;                    // entropy bonus (off)
  int teacher_sync_interval = 1;                // K: push to the teacher every K learner steps
  int max_policy_lag = 0;                       // 0 = synchronous (the paper's setting)
  double temperature = 1.0;                     // rollout sampling temperature
  int top_k = 0;                                // 0 = no top-k filter
  double top_p = 1.0;                           // 1 = no nucleus filter
  int max_new_tokens = 32;                      // per model turn
};

struct LearnerConfig {
  int total_steps = 60;
  double learning_rate = 1e-4;
  int warmup_steps = 5;
  double weight_decay = 0.0;
  double grad_clip = 1.0;  // global norm; 0 = off
  int ppo_epochs = 1;
  int minibatches = 1;                    // optimizer steps per epoch
  int micro_batch_tokens = 16384;         // token budget of one forward/backward
  int checkpoint_every = 10;              // steps; 0 = only at the end and on SIGTERM
  int queue_capacity = 256;               // groups waiting for training
  bool publish_bf16 = false;              // weights on the wire as bf16
  bool bf16_autocast = false;             // bfloat16 autocast of the training forward pass (float32 master weights)
  bool activation_checkpointing = false;  // keep only each decoder layer's input; recompute the rest in backward
};

struct ActorConfig {
  int history_turns = 1;            // turns of history the model sees; 0 = full history
  int eval_episodes_per_level = 8;  // sampled evaluation
  // Training episodes end at the first push that makes the level unsolvable (a box on a dead square, or a frozen
  // block), charged the step reward of the moves they had left; evaluation always plays to the end.
  bool end_on_deadlock = false;
};

struct TeacherConfig {
  int max_batch_sequences = 64;
  int batch_timeout_ms = 5;
  int version_wait_ms = 30000;  // wait for a required version before refusing
  int queue_capacity = 256;     // score requests waiting; one more gets RESOURCE_EXHAUSTED
  std::string skill_template =
      "Here is a skill summary from a similar past task that may help guide your approach:\n"
      "**What works:** {success_analysis}\n"
      "**What to avoid:** {mistake_analysis}\n"
      "**Suggested workflow:** {golden_workflow}\n"
      "Now solve the current task using your own reasoning.";
};

struct SkillConfig {
  std::string summarizer = "rules";                       // "rules" or "openai"
  double ucb_c = 1.4142135623730951;                      // √2
  std::string credit = "next_group";                      // "next_group" or "same_group"
  WorkflowView workflow_view = WorkflowView::kRemaining;  // remaining | full (core/skill_prompt.h)
  TeacherTurns teacher_turns = TeacherTurns::kAll;        // all | on_workflow (core/config_enums.h)
  int queue_capacity = 1024;
  int max_skills_per_task = 0;  // 0 = unlimited
  std::string openai_url;
  std::string openai_model;
  std::string openai_key_file;
};

struct ExperimentConfig {
  RunConfig run;
  EnvConfig env;
  ModelConfig model;
  AlgorithmConfig algorithm;
  LearnerConfig learner;
  ActorConfig actor;
  TeacherConfig teacher;
  SkillConfig skill;
};

// Parses YAML text. `source` names the text in errors (a file name). Each override is "dotted.key=value"
// (value in YAML syntax) and is applied before validation, as if written in the file.
absl::StatusOr<ExperimentConfig> ParseConfig(absl::string_view yaml_text, absl::string_view source,
                                             const std::vector<std::string>& overrides = {});

// Reads and parses a file. NOT_FOUND when it does not exist.
absl::StatusOr<ExperimentConfig> LoadConfig(const std::string& path, const std::vector<std::string>& overrides = {});

// The config as YAML, every key written; ParseConfig(ToYaml(c)) == c.
std::string ToYaml(const ExperimentConfig& config);

}  // namespace skillsd

#endif  // SKILLSD_CORE_CONFIG_H_
