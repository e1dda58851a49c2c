// libFuzzer target: the teacher's handling of a ScoreRequest (the request body of TeacherService.Score) with a
// tiny random model installed as version 0. Whatever arrives: INVALID_ARGUMENT for a malformed request,
// FAILED_PRECONDITION for a version the teacher does not have, or scores — one log-prob per token of every
// GENERATED segment, each finite and <= 0. The teacher keeps serving after each (the next call reuses it).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "model/test_model.h"
#include "model/tokenizer.h"
#include "teacher_server/teacher.h"

namespace {

struct Fixture {
  std::unique_ptr<skillsd::model::Tokenizer> tokenizer;
  std::unique_ptr<skillsd::teacher::Teacher> teacher;
};

Fixture& Get() {
  static Fixture* f = [] {
    auto* fixture = new Fixture;
    fixture->tokenizer = skillsd::model::Tokenizer::FromJson(
                             skillsd::model::Tokenizer::TrainBpeJson(
                                 {"<answer>Up || Left</answer>", "Moves left: 40.", "Suggested workflow: Up, Down"},
                                 120, {"<|endoftext|>", "<|im_start|>", "<|im_end|>"}, "<>"))
                             .value();
    const auto config = skillsd::model::TestModelConfig(fixture->tokenizer->vocab_size(), 16, 1, 2, 1);
    auto holder = std::make_shared<skillsd::weights::ModelHolder>(skillsd::model::RandomModel(config, 1), 0);
    skillsd::teacher::TeacherOptions options;
    options.skill_template = "Tip: {golden_workflow} ({success_analysis}; {mistake_analysis})";
    options.version_wait = absl::Milliseconds(1);
    options.batch_timeout = absl::ZeroDuration();
    options.max_request_tokens = 4096;
    fixture->teacher = std::make_unique<skillsd::teacher::Teacher>(
        holder, fixture->tokenizer.get(), *skillsd::model::ChatTemplate::Create(fixture->tokenizer.get()), options);
    return fixture;
  }();
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  skillsd::v1::ScoreRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;
  auto response = Get().teacher->Score(request, absl::Now() + absl::Seconds(10));
  if (!response.ok()) {
    const auto code = response.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kFailedPrecondition) std::abort();
    return 0;
  }
  if (response->sequences_size() != request.sequences_size()) std::abort();
  for (int s = 0; s < request.sequences_size(); ++s) {
    std::vector<int> generated;  // tokens of each GENERATED segment
    for (const auto& seg : request.sequences(s).segments()) {
      if (seg.role() == skillsd::v1::SEGMENT_ROLE_GENERATED) generated.push_back(seg.token_ids_size());
    }
    const auto& scored = response->sequences(s);
    if (scored.segments_size() != static_cast<int>(generated.size())) std::abort();
    for (int g = 0; g < scored.segments_size(); ++g) {
      if (scored.segments(g).logprobs_size() != generated[g]) std::abort();
      for (float lp : scored.segments(g).logprobs()) {
        if (!std::isfinite(lp) || lp > 1e-4f) std::abort();
      }
    }
  }
  return 0;
}
