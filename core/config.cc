#include "core/config.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/json.h"
#include "core/status.h"

namespace skillsd {
namespace {

// A constraint returns "" when the value is acceptable, else what is wrong with it.
template <typename T>
using Check = std::function<std::string(const T&)>;

template <typename T>
Check<T> AtLeast(T low) {
  return [low](const T& v) { return v >= low ? "" : absl::StrCat("must be >= ", low, ", got ", v); };
}
template <typename T>
Check<T> Above(T low) {
  return [low](const T& v) { return v > low ? "" : absl::StrCat("must be > ", low, ", got ", v); };
}
template <typename T>
Check<T> Between(T low, T high) {
  return [low, high](const T& v) {
    return v >= low && v <= high ? "" : absl::StrCat("must be in [", low, ", ", high, "], got ", v);
  };
}
Check<std::string> OneOf(std::vector<std::string> allowed) {
  return [allowed](const std::string& v) {
    for (const auto& a : allowed) {
      if (v == a) return std::string();
    }
    return absl::StrCat("must be one of {", absl::StrJoin(allowed, ", "), "}, got '", v, "'");
  };
}
Check<std::string> NonEmpty() {
  return [](const std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); };
}

// Reads one YAML mapping into fields, remembering which keys were used so the rest can be reported unknown.
class Reader {
 public:
  Reader(const YAML::Node& node, std::string path) : node_(node), path_(std::move(path)) {}

  template <typename T>
  void Field(const char* key, T* value, Check<T> check = nullptr) {
    if (!status_.ok()) return;
    used_.insert(key);
    const std::string where = absl::StrCat(path_, key);
    if (node_.IsMap() && node_[key]) {
      const YAML::Node item = node_[key];
      if (!item.IsScalar()) {
        status_ = absl::InvalidArgumentError(absl::StrCat(where, ": expected ", TypeName<T>(), ", got a ",
                                                          item.IsMap() ? "mapping" : "sequence or null"));
        return;
      }
      if (!Convert(item, value)) {
        status_ = absl::InvalidArgumentError(
            absl::StrCat(where, ": expected ", TypeName<T>(), ", got '", item.Scalar(), "'"));
        return;
      }
    }
    if (check) {
      std::string problem = check(*value);
      if (!problem.empty()) status_ = absl::InvalidArgumentError(absl::StrCat(where, ": ", problem));
    }
  }

  // Fails unless every key of the mapping was read.
  absl::Status Finish() {
    if (!status_.ok() || !node_.IsMap()) return status_;
    for (const auto& item : node_) {
      const std::string key = item.first.as<std::string>();
      if (used_.count(key) == 0) {
        return absl::InvalidArgumentError(
            absl::StrCat(path_, key, ": unknown key (known keys: ", absl::StrJoin(used_, ", "), ")"));
      }
    }
    return absl::OkStatus();
  }

  void Fail(const std::string& key, const std::string& problem) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(absl::StrCat(path_, key, ": ", problem));
  }

 private:
  template <typename T>
  static std::string TypeName() {
    if constexpr (std::is_same_v<T, bool>) {
      return "true or false";
    } else if constexpr (std::is_integral_v<T>) {
      return "an integer";
    } else if constexpr (std::is_floating_point_v<T>) {
      return "a number";
    } else if constexpr (std::is_same_v<T, TrainingMode>) {
      return "a training mode";
    } else if constexpr (std::is_enum_v<T>) {
      return EnumChoices<T>();
    } else {
      return "a string";
    }
  }

  template <typename T>
  static bool Convert(const YAML::Node& item, T* value) {
    if constexpr (std::is_same_v<T, TrainingMode>) {
      auto mode = ParseTrainingMode(item.Scalar());
      if (!mode.ok()) return false;
      *value = *mode;
      return true;
    } else if constexpr (std::is_enum_v<T>) {
      return ParseEnum(item.Scalar(), value);
    } else {
      try {
        *value = item.as<T>();
        return true;
      } catch (const YAML::Exception&) {
        return false;
      }
    }
  }

  YAML::Node node_;
  std::string path_;
  std::set<std::string> used_;
  absl::Status status_;
};

// Writes fields as YAML (the same visitor functions drive reading and writing).
class Writer {
 public:
  explicit Writer(YAML::Emitter* out) : out_(out) {}
  template <typename T>
  void Field(const char* key, T* value, Check<T> = nullptr) {
    *out_ << YAML::Key << key << YAML::Value;
    if constexpr (std::is_same_v<T, TrainingMode>) {
      *out_ << std::string(TrainingModeName(*value));
    } else if constexpr (std::is_enum_v<T>) {
      *out_ << std::string(EnumName(*value));
    } else if constexpr (std::is_floating_point_v<T>) {
      *out_ << FormatDouble(*value);
    } else {
      *out_ << *value;
    }
  }
  void Fail(const std::string&, const std::string&) {}

 private:
  YAML::Emitter* out_;
};

template <typename V>
void Visit(V& v, RunConfig& c) {
  v.Field("name", &c.name, NonEmpty());
  v.Field("output_dir", &c.output_dir, NonEmpty());
  v.Field("seed", &c.seed);
}

template <typename V>
void Visit(V& v, EnvConfig& c) {
  v.Field("name", &c.name, OneOf({"sokoban", "frozenlake"}));
  v.Field("room_size", &c.room_size, Between(4, 16));
  v.Field("num_boxes", &c.num_boxes, Between(1, 4));
  v.Field("max_steps", &c.max_steps, Between(1, 1000));
  v.Field("max_actions_per_turn", &c.max_actions_per_turn, Between(1, 40));
  v.Field("prompt", &c.prompt, OneOf({"full", "compact"}));
  v.Field("coordinates", &c.coordinates);
  v.Field("train_levels", &c.train_levels, Between(1, 100000));
  v.Field("warm_start_levels", &c.warm_start_levels, Between(0, 100000));
  v.Field("test_levels", &c.test_levels, Between(1, 100000));
  v.Field("curriculum", &c.curriculum, OneOf({"optimal_length", "none"}));
  v.Field("min_optimal_length", &c.min_optimal_length, Between(1, 1000));
  if (c.name == "sokoban" && c.min_optimal_length > c.max_steps) {
    // The generator keeps levels whose shortest solution lies in [min_optimal_length, max_steps].
    v.Fail("min_optimal_length",
           absl::StrCat("must be <= env.max_steps (", c.max_steps, "), got ", c.min_optimal_length,
                        ": no level can need at least that many moves and be solvable within "
                        "an episode's steps"));
  }
  v.Field("reverse_steps", &c.reverse_steps, Between(1, 100000));
  v.Field("step_reward", &c.step_reward);
  v.Field("box_on_target_reward", &c.box_on_target_reward);
  v.Field("box_off_target_reward", &c.box_off_target_reward);
  v.Field("solved_reward", &c.solved_reward);
  v.Field("map_size", &c.map_size, Between(2, 16));
  v.Field("slippery", &c.slippery);
  v.Field("frozen_probability", &c.frozen_probability, Between(0.5, 1.0));
}

template <typename V>
void Visit(V& v, ModelConfig& c) {
  v.Field("path", &c.path, NonEmpty());
  v.Field("device", &c.device, Check<std::string>([](const std::string& d) {
            return d == "cpu" || d == "cuda" || d.rfind("cuda:", 0) == 0
                       ? std::string()
                       : absl::StrCat("must be 'cpu', 'cuda' or 'cuda:N', got '", d, "'");
          }));
  v.Field("dtype", &c.dtype);
  v.Field("threads", &c.threads, Between(0, 1024));
}

template <typename V>
void Visit(V& v, AlgorithmConfig& c) {
  v.Field("mode", &c.mode);
  v.Field("group_size", &c.group_size, Between(1, 1024));
  v.Field("tasks_per_step", &c.tasks_per_step, Between(1, 100000));
  v.Field("sdl_coef", &c.sdl_coef, AtLeast(0.0));
  v.Field("clip_low", &c.clip_low, Between(0.0, 1.0));
  v.Field("clip_high", &c.clip_high, AtLeast(0.0));
  v.Field("advantage_eps", &c.advantage_eps, Above(0.0));
  v.Field("advantage_std", &c.advantage_std, OneOf({"population", "sample"}));
  v.Field("loss_aggregation", &c.loss_aggregation, OneOf({"token_mean", "trajectory_mean"}));
  v.Field("max_neg_log_gap", &c.max_neg_log_gap, Above(0.0));
  v.Field("max_log_rho", &c.max_log_rho, Above(0.0));
  v.Field("kl_ref_coef", &c.kl_ref_coef, AtLeast(0.0));
  v.Field("entropy_coef", &c.entropy_coef, AtLeast(0.0));
  v.Field("teacher_sync_interval", &c.teacher_sync_interval, AtLeast(1));
  v.Field("max_policy_lag", &c.max_policy_lag, AtLeast(0));
  v.Field("temperature", &c.temperature, Above(0.0));
  v.Field("top_k", &c.top_k, AtLeast(0));
  v.Field("top_p", &c.top_p, Check<double>([](const double& p) {
            return p > 0 && p <= 1 ? std::string() : absl::StrCat("must be in (0, 1], got ", p);
          }));
  v.Field("max_new_tokens", &c.max_new_tokens, Between(1, 1 << 20));
}

template <typename V>
void Visit(V& v, LearnerConfig& c) {
  v.Field("total_steps", &c.total_steps, AtLeast(0));
  v.Field("learning_rate", &c.learning_rate, Above(0.0));
  v.Field("warmup_steps", &c.warmup_steps, AtLeast(0));
  v.Field("weight_decay", &c.weight_decay, AtLeast(0.0));
  v.Field("grad_clip", &c.grad_clip, AtLeast(0.0));
  v.Field("ppo_epochs", &c.ppo_epochs, Between(1, 100));
  v.Field("minibatches", &c.minibatches, Between(1, 1024));
  v.Field("micro_batch_tokens", &c.micro_batch_tokens, AtLeast(1));
  v.Field("checkpoint_every", &c.checkpoint_every, AtLeast(0));
  v.Field("queue_capacity", &c.queue_capacity, AtLeast(1));
  v.Field("publish_bf16", &c.publish_bf16);
  v.Field("bf16_autocast", &c.bf16_autocast);
  v.Field("activation_checkpointing", &c.activation_checkpointing);
}

template <typename V>
void Visit(V& v, ActorConfig& c) {
  v.Field("history_turns", &c.history_turns, AtLeast(0));
  v.Field("eval_episodes_per_level", &c.eval_episodes_per_level, Between(1, 1024));
  v.Field("end_on_deadlock", &c.end_on_deadlock);
}

template <typename V>
void Visit(V& v, TeacherConfig& c) {
  v.Field("max_batch_sequences", &c.max_batch_sequences, AtLeast(1));
  v.Field("batch_timeout_ms", &c.batch_timeout_ms, AtLeast(0));
  v.Field("version_wait_ms", &c.version_wait_ms, AtLeast(0));
  v.Field("queue_capacity", &c.queue_capacity, AtLeast(1));
  v.Field("skill_template", &c.skill_template, NonEmpty());
}

template <typename V>
void Visit(V& v, SkillConfig& c) {
  v.Field("summarizer", &c.summarizer, OneOf({"rules", "openai"}));
  v.Field("ucb_c", &c.ucb_c, AtLeast(0.0));
  v.Field("credit", &c.credit, OneOf({"next_group", "same_group"}));
  v.Field("workflow_view", &c.workflow_view);
  v.Field("teacher_turns", &c.teacher_turns);
  v.Field("queue_capacity", &c.queue_capacity, AtLeast(1));
  v.Field("max_skills_per_task", &c.max_skills_per_task, AtLeast(0));
  v.Field("openai_url", &c.openai_url);
  v.Field("openai_model", &c.openai_model);
  v.Field("openai_key_file", &c.openai_key_file);
  if (c.summarizer == "openai") {
    if (c.openai_url.empty()) v.Fail("openai_url", "required when summarizer is 'openai'");
    if (c.openai_model.empty()) v.Fail("openai_model", "required when summarizer is 'openai'");
  }
}

// Calls fn(name, section) for every section in file order.
template <typename Fn>
void ForEachSection(ExperimentConfig& c, Fn&& fn) {
  fn("run", c.run);
  fn("env", c.env);
  fn("model", c.model);
  fn("algorithm", c.algorithm);
  fn("learner", c.learner);
  fn("actor", c.actor);
  fn("teacher", c.teacher);
  fn("skill", c.skill);
}

absl::Status ApplyOverride(YAML::Node& root, const std::string& override_text) {
  const size_t eq = override_text.find('=');
  if (eq == std::string::npos || eq == 0) {
    return absl::InvalidArgumentError(absl::StrCat("override '", override_text, "': expected section.key=value"));
  }
  const std::string key = override_text.substr(0, eq);
  std::vector<std::string> parts = absl::StrSplit(key, '.');
  if (parts.size() != 2 || parts[0].empty() || parts[1].empty()) {
    return absl::InvalidArgumentError(absl::StrCat("override '", override_text, "': key must be section.key"));
  }
  YAML::Node value;
  try {
    value = YAML::Load(override_text.substr(eq + 1));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(key, ": override value is not YAML: ", e.what()));
  }
  if (!root[parts[0]] || root[parts[0]].IsNull()) root[parts[0]] = YAML::Node(YAML::NodeType::Map);
  if (!root[parts[0]].IsMap()) return absl::InvalidArgumentError(absl::StrCat(parts[0], ": expected a mapping"));
  root[parts[0]][parts[1]] = value;
  return absl::OkStatus();
}

// The sections of a parsed YAML mapping. yaml-cpp may throw (a node of an unexpected kind); the caller catches.
absl::StatusOr<ExperimentConfig> ParseSections(const YAML::Node& root) {
  ExperimentConfig config;
  std::set<std::string> sections;
  absl::Status status;
  ForEachSection(config, [&](const char* name, auto& section) {
    sections.insert(name);
    if (!status.ok()) return;
    YAML::Node node = root[name];
    if (node && !node.IsNull() && !node.IsMap()) {
      status = absl::InvalidArgumentError(absl::StrCat(name, ": expected a mapping"));
      return;
    }
    Reader reader(node ? node : YAML::Node(), absl::StrCat(name, "."));
    Visit(reader, section);
    status = reader.Finish();
  });
  if (!status.ok()) return status;
  for (const auto& item : root) {
    if (!item.first.IsScalar()) return absl::InvalidArgumentError("section names must be plain words");
    const std::string key = item.first.as<std::string>();
    if (sections.count(key) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(key, ": unknown section (known sections: ", absl::StrJoin(sections, ", "), ")"));
    }
  }
  return config;
}

}  // namespace

absl::StatusOr<ExperimentConfig> ParseConfig(absl::string_view yaml_text, absl::string_view source,
                                             const std::vector<std::string>& overrides) {
  auto in_source = [&](const absl::Status& s) { return Annotate(s, source); };
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return in_source(absl::InvalidArgumentError(absl::StrCat("not valid YAML: ", e.what())));
  }
  if (root.IsNull()) root = YAML::Node(YAML::NodeType::Map);
  if (!root.IsMap()) return in_source(absl::InvalidArgumentError("top level must be a mapping of sections"));
  for (const std::string& o : overrides) {
    absl::Status s = ApplyOverride(root, o);
    if (!s.ok()) return in_source(s);
  }

  // yaml-cpp throws on nodes of an unexpected kind (a sequence used as a key, say): every such case is the
  // input's fault, so it becomes INVALID_ARGUMENT like any other bad config.
  try {
    absl::StatusOr<ExperimentConfig> config = ParseSections(root);
    if (!config.ok()) return in_source(config.status());
    return config;
  } catch (const YAML::Exception& e) {
    return in_source(absl::InvalidArgumentError(absl::StrCat("not a valid config: ", e.what())));
  }
}

absl::StatusOr<ExperimentConfig> LoadConfig(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open config file"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseConfig(buffer.str(), path, overrides);
}

std::string ToYaml(const ExperimentConfig& config) {
  ExperimentConfig copy = config;
  YAML::Emitter out;
  out << YAML::BeginMap;
  ForEachSection(copy, [&](const char* name, auto& section) {
    out << YAML::Key << name << YAML::Value << YAML::BeginMap;
    Writer writer(&out);
    Visit(writer, section);
    out << YAML::EndMap;
  });
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

}  // namespace skillsd
