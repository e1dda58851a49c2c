// Summarisers turn a finished trajectory into a skill: the three-field JSON of SPEC §4 (what worked, what to
// avoid, the golden workflow). One interface, two implementations:
//   rules  — deterministic, from the trajectory's step events alone (Sokoban): pushes onto targets, invalid
//            answers, bumps, deadlocking pushes, and the moves of a solved episode (or the useful prefix of a
//            failed one: up to its last lasting progress).
//   openai — any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, a hosted API): asks for the JSON,
//            validates it, retries malformed output and transient errors with backoff, rate-limited.
#ifndef SKILLSD_SKILL_SERVICE_SUMMARIZER_H_
#define SKILLSD_SKILL_SERVICE_SUMMARIZER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/config.h"
#include "skillsd/v1/rollout.pb.h"

namespace skillsd::skill {

// Implementations need not be thread-safe: the skill service calls its summariser from its one worker thread.
class Summarizer {
 public:
  virtual ~Summarizer() = default;
  // The skill, or FAILED_PRECONDITION when the trajectory teaches nothing (no progress at all), or another error
  // (after the summariser's own retries).
  virtual absl::StatusOr<skillsd::v1::SkillContent> Summarize(const skillsd::v1::Trajectory& trajectory) = 0;
  virtual std::string name() const = 0;
  virtual std::string model() const { return ""; }
};

class RulesSummarizer : public Summarizer {
 public:
  absl::StatusOr<skillsd::v1::SkillContent> Summarize(const skillsd::v1::Trajectory& trajectory) override;
  std::string name() const override { return "rules"; }
};

// Parses and validates a model's reply: a JSON object with exactly the three string fields (a ```json fence
// around it is tolerated). INVALID_ARGUMENT naming the problem otherwise.
absl::StatusOr<skillsd::v1::SkillContent> ParseSkillJson(const std::string& text);

struct OpenAiOptions {
  std::string url;       // base URL, e.g. http://127.0.0.1:8000/v1 ("/chat/completions" is appended)
  std::string model;     // model name
  std::string api_key;   // empty = no Authorization header
  int max_attempts = 4;  // malformed output and transient errors (429, 5xx, connection) are retried
  absl::Duration initial_backoff = absl::Milliseconds(500);
  absl::Duration timeout = absl::Seconds(60);
  double requests_per_second = 2;  // at most this many calls per second (0 = unlimited)
};

class OpenAiSummarizer : public Summarizer {
 public:
  explicit OpenAiSummarizer(OpenAiOptions options);
  absl::StatusOr<skillsd::v1::SkillContent> Summarize(const skillsd::v1::Trajectory& trajectory) override;
  std::string name() const override { return "openai"; }
  std::string model() const override { return options_.model; }

  // The user message describing the trajectory (actions, feedback, outcome).
  static std::string Describe(const skillsd::v1::Trajectory& trajectory);

 private:
  // One HTTP call: the reply's message content, or UNAVAILABLE (retryable) / another error.
  absl::StatusOr<std::string> Call(const std::string& body);

  const OpenAiOptions options_;
  absl::Mutex mu_;
  absl::Time next_call_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// The summariser the config names (skill.summarizer); reads skill.openai_key_file.
absl::StatusOr<std::unique_ptr<Summarizer>> MakeSummarizer(const SkillConfig& config);

}  // namespace skillsd::skill

#endif  // SKILLSD_SKILL_SERVICE_SUMMARIZER_H_
