#include "teacher_server/teacher.h"

#include <torch/torch.h>

#include <thread>

#include "core/skill_prompt.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/inference.h"
#include "model/test_model.h"

namespace skillsd::teacher {
namespace {

using skillsd::testing::StatusIs;
using skillsd::v1::SEGMENT_ROLE_GENERATED;
using skillsd::v1::SEGMENT_ROLE_OBSERVATION;
using skillsd::v1::SEGMENT_ROLE_PROMPT;
using skillsd::v1::SEGMENT_ROLE_SKILL_SLOT;

std::unique_ptr<model::Tokenizer> TinyTokenizer() {
  const std::string json = model::Tokenizer::TrainBpeJson(
      {"<answer>Up || Left</answer>", "######\n#P_X_#\n######", "system\nuser\nassistant\n"}, 300,
      {"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  return std::move(model::Tokenizer::FromJson(json)).value();
}

void AddSegment(skillsd::v1::TokenSequence* s, skillsd::v1::SegmentRole role, std::vector<int32_t> ids) {
  auto* seg = s->add_segments();
  seg->set_role(role);
  for (int32_t id : ids) seg->add_token_ids(id);
}

// prompt [1..4], skill slot, prompt [5 6], generated [7 8 9], observation [10], generated [11 12].
skillsd::v1::TokenSequence TwoTurnSequence() {
  skillsd::v1::TokenSequence s;
  AddSegment(&s, SEGMENT_ROLE_PROMPT, {1, 2, 3, 4});
  AddSegment(&s, SEGMENT_ROLE_SKILL_SLOT, {});
  AddSegment(&s, SEGMENT_ROLE_PROMPT, {5, 6});
  AddSegment(&s, SEGMENT_ROLE_GENERATED, {7, 8, 9});
  AddSegment(&s, SEGMENT_ROLE_OBSERVATION, {10});
  AddSegment(&s, SEGMENT_ROLE_GENERATED, {11, 12});
  return s;
}

class TeacherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tok_ = TinyTokenizer();
    config_ = model::TestModelConfig(tok_->vocab_size(), 32, 2, 4, 2);
    holder_ = std::make_shared<weights::ModelHolder>(model::RandomModel(config_, 3), 0);
    options_.skill_template = "Tip: {golden_workflow} ({success_analysis}; {mistake_analysis})";
    options_.version_wait = absl::Milliseconds(50);
  }
  std::unique_ptr<Teacher> MakeTeacher() {
    return std::make_unique<Teacher>(holder_, tok_.get(), *model::ChatTemplate::Create(tok_.get()), options_);
  }
  // Reference: one full forward of `tokens`, log_softmax at the positions that predict `scored`.
  std::vector<float> Reference(const std::vector<int32_t>& tokens, const std::vector<int64_t>& scored) {
    c10::InferenceMode guard;
    const int64_t n = static_cast<int64_t>(tokens.size());
    torch::Tensor ids = torch::tensor(std::vector<int64_t>(tokens.begin(), tokens.end())).unsqueeze(0);
    torch::Tensor positions = torch::arange(n).unsqueeze(0);
    torch::Tensor valid = torch::ones({1, n}, torch::kBool);
    torch::Tensor logp = torch::log_softmax((*holder_->Current())->Forward(ids, positions, valid), -1)[0];
    std::vector<float> out;
    for (int64_t p : scored) out.push_back(logp[p - 1][tokens[p]].item<float>());
    return out;
  }
  // The same forward's log-probs of `ids` at the positions that predict `scored`: [position × ids].
  std::vector<float> ReferenceProbes(const std::vector<int32_t>& tokens, const std::vector<int64_t>& scored,
                                     const std::vector<int32_t>& ids) {
    std::vector<float> out;
    for (int64_t p : scored) {
      for (int32_t id : ids) {
        std::vector<int32_t> swapped(tokens.begin(), tokens.begin() + p + 1);
        swapped[static_cast<size_t>(p)] = id;
        out.push_back(Reference(swapped, {p})[0]);
      }
    }
    return out;
  }

  std::unique_ptr<model::Tokenizer> tok_;
  model::ModelConfig config_;
  std::shared_ptr<weights::ModelHolder> holder_;
  TeacherOptions options_;
};

TEST_F(TeacherTest, SkillFillsTheSlotAndOnlyGeneratedTokensAreScored) {
  std::vector<int64_t> scored;
  const std::vector<int32_t> tokens = Teacher::TeacherTokens(TwoTurnSequence(), {50, 51}, &scored);
  EXPECT_EQ(tokens, (std::vector<int32_t>{1, 2, 3, 4, 50, 51, 5, 6, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(scored, (std::vector<int64_t>{8, 9, 10, 12, 13}));
}

TEST_F(TeacherTest, ScoresEqualAFullForwardUnderTheSkillPrompt) {
  auto teacher = MakeTeacher();
  skillsd::v1::ScoreRequest request;
  *request.add_sequences() = TwoTurnSequence();
  request.mutable_skill()->set_golden_workflow("Up, Left");
  request.mutable_skill()->set_success_analysis("pushed");
  request.set_top_k(3);
  request.add_probe_token_ids(7);
  request.add_probe_token_ids(3);
  ASSERT_OK_AND_ASSIGN(skillsd::v1::ScoreResponse response, teacher->Score(request, absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(response.teacher_version(), 0);
  ASSERT_EQ(response.sequences_size(), 1);
  ASSERT_EQ(response.sequences(0).segments_size(), 2);
  const auto chat = *model::ChatTemplate::Create(tok_.get());
  const std::vector<int32_t> skill = chat.Content(RenderSkill(options_.skill_template, request.skill()));
  std::vector<int64_t> scored;
  const std::vector<int32_t> tokens = Teacher::TeacherTokens(request.sequences(0), skill, &scored);
  const std::vector<float> want = Reference(tokens, scored);
  std::vector<float> got;
  for (const auto& seg : response.sequences(0).segments())
    got.insert(got.end(), seg.logprobs().begin(), seg.logprobs().end());
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-4) << i;
  // Probes: the log-probs of tokens 7 and 3 at every scored position, as a forward with each in that place says.
  const std::vector<float> want_probes = ReferenceProbes(tokens, scored, {7, 3});
  std::vector<float> probes;
  for (const auto& seg : response.sequences(0).segments())
    probes.insert(probes.end(), seg.probe_logprobs().begin(), seg.probe_logprobs().end());
  ASSERT_EQ(probes.size(), 10u);
  for (size_t i = 0; i < probes.size(); ++i) EXPECT_NEAR(probes[i], want_probes[i], 1e-4) << i;
  // Top-k: sorted, and the best is at least the scored token's log-prob.
  const auto& top = response.sequences(0).segments(0).top_k(0);
  ASSERT_EQ(top.logprobs_size(), 3);
  EXPECT_GE(top.logprobs(0), top.logprobs(1));
  EXPECT_GE(top.logprobs(0), got[0] - 1e-5);
  // The skill changes the scores (the teacher sees it); the plain prompt equals a forward without it.
  skillsd::v1::ScoreRequest plain = request;
  plain.clear_skill();
  ASSERT_OK_AND_ASSIGN(skillsd::v1::ScoreResponse p, teacher->Score(plain, absl::Now() + absl::Seconds(10)));
  scored.clear();
  const std::vector<float> want_plain = Reference(Teacher::TeacherTokens(plain.sequences(0), {}, &scored), scored);
  EXPECT_NEAR(p.sequences(0).segments(0).logprobs(0), want_plain[0], 1e-4);
  EXPECT_GT(std::abs(p.sequences(0).segments(0).logprobs(0) - got[0]), 1e-6);
}

TEST_F(TeacherTest, ConcurrentRequestsBatchedGiveTheSameScores) {
  options_.batch_timeout = absl::Milliseconds(50);
  auto teacher = MakeTeacher();
  std::vector<skillsd::v1::ScoreRequest> requests(6);
  for (size_t i = 0; i < requests.size(); ++i) {
    auto* s = requests[i].add_sequences();
    AddSegment(s, SEGMENT_ROLE_PROMPT, {1, static_cast<int32_t>(2 + i)});
    AddSegment(s, SEGMENT_ROLE_SKILL_SLOT, {});
    AddSegment(s, SEGMENT_ROLE_GENERATED, std::vector<int32_t>(1 + i, 7));  // different lengths: padding differs
    if (i % 2) requests[i].mutable_skill()->set_golden_workflow("Down");
    if (i % 3 != 2) requests[i].add_probe_token_ids(static_cast<int32_t>(3 + i % 3));  // batched: 3, 4 and none
    if (i % 3 == 1) requests[i].add_probe_token_ids(3);
  }
  std::vector<skillsd::v1::ScoreResponse> alone(requests.size()), together(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(alone[i], teacher->Score(requests[i], absl::Now() + absl::Seconds(10)));
  }
  std::vector<std::thread> threads;
  for (size_t i = 0; i < requests.size(); ++i) {
    threads.emplace_back([&, i] { together[i] = *teacher->Score(requests[i], absl::Now() + absl::Seconds(10)); });
  }
  for (auto& t : threads) t.join();
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_EQ(together[i].sequences(0).segments(0).logprobs_size(), static_cast<int>(i + 1));
    for (int j = 0; j <= static_cast<int>(i); ++j) {
      EXPECT_NEAR(together[i].sequences(0).segments(0).logprobs(j), alone[i].sequences(0).segments(0).logprobs(j),
                  1e-4);
    }
    const auto& got = together[i].sequences(0).segments(0).probe_logprobs();
    const auto& want = alone[i].sequences(0).segments(0).probe_logprobs();
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(static_cast<size_t>(got.size()), (i + 1) * static_cast<size_t>(requests[i].probe_token_ids_size()));
    for (int j = 0; j < got.size(); ++j) EXPECT_NEAR(got[j], want[j], 1e-4);
  }
}

// A full queue refuses the next request with RESOURCE_EXHAUSTED at once, and every request it had taken is scored.
TEST_F(TeacherTest, FullQueueRefusesAndDropsNothingQueued) {
  options_.max_queued_requests = 2;
  options_.max_batch_sequences = 1000;        // the batch never fills, so
  options_.batch_timeout = absl::Seconds(3);  // the queued requests wait this long for company
  auto teacher = MakeTeacher();
  skillsd::v1::ScoreRequest request;
  *request.add_sequences() = TwoTurnSequence();
  std::vector<absl::StatusOr<skillsd::v1::ScoreResponse>> results(2, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (int i = 0; i < 2; ++i) {
    threads.emplace_back([&, i] { results[i] = teacher->Score(request, absl::Now() + absl::Seconds(30)); });
  }
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (teacher->queue_depth() < 2 && absl::Now() < until) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_EQ(teacher->queue_depth(), 2);
  EXPECT_THAT(teacher->Score(request, absl::Now() + absl::Seconds(30)),
              StatusIs(absl::StatusCode::kResourceExhausted, ::testing::HasSubstr("2 of 2")));
  for (auto& t : threads) t.join();
  for (const auto& r : results) {
    ASSERT_OK(r.status());
    EXPECT_EQ(r->sequences_size(), 1);
  }
  EXPECT_EQ(teacher->queue_depth(), 0);
}

TEST_F(TeacherTest, WaitsForTheRequiredVersionThenRefuses) {
  auto teacher = MakeTeacher();
  skillsd::v1::ScoreRequest request;
  *request.add_sequences() = TwoTurnSequence();
  request.set_min_teacher_version(3);
  EXPECT_THAT(teacher->Score(request, absl::Now() + absl::Seconds(10)),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  // A snapshot of version 3 arriving while the request waits lets it through.
  options_.version_wait = absl::Seconds(10);
  teacher = MakeTeacher();
  std::thread installer([&] {
    absl::SleepFor(absl::Milliseconds(100));
    model::CausalLM other = model::RandomModel(config_, 4);
    weights::Snapshot snapshot = *weights::SnapshotFromModel(*other, 3, skillsd::v1::DTYPE_F32);
    ASSERT_TRUE(holder_->Install(snapshot).ok());
    teacher->NotifyInstalled();
  });
  ASSERT_OK_AND_ASSIGN(skillsd::v1::ScoreResponse response, teacher->Score(request, absl::Now() + absl::Seconds(10)));
  installer.join();
  EXPECT_EQ(response.teacher_version(), 3);
}

TEST_F(TeacherTest, MalformedRequestsAreRefused) {
  auto teacher = MakeTeacher();
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  skillsd::v1::ScoreRequest empty;
  EXPECT_THAT(teacher->Score(empty, deadline), StatusIs(absl::StatusCode::kInvalidArgument));
  skillsd::v1::ScoreRequest bad_id;
  *bad_id.add_sequences() = TwoTurnSequence();
  bad_id.mutable_sequences(0)->mutable_segments(0)->set_token_ids(0, 100000);
  EXPECT_THAT(teacher->Score(bad_id, deadline),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("vocabulary")));
  skillsd::v1::ScoreRequest no_slot;
  auto* s = no_slot.add_sequences();
  AddSegment(s, SEGMENT_ROLE_PROMPT, {1});
  AddSegment(s, SEGMENT_ROLE_GENERATED, {2});
  no_slot.mutable_skill()->set_golden_workflow("Up");
  EXPECT_THAT(teacher->Score(no_slot, deadline),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("SKILL_SLOT")));
  skillsd::v1::ScoreRequest mismatch;
  *mismatch.add_sequences() = TwoTurnSequence();
  mismatch.add_sequence_skills();
  mismatch.add_sequence_skills();
  EXPECT_THAT(teacher->Score(mismatch, deadline),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("sequence_skills")));
  skillsd::v1::ScoreRequest bad_probe;
  *bad_probe.add_sequences() = TwoTurnSequence();
  bad_probe.add_probe_token_ids(-1);
  EXPECT_THAT(teacher->Score(bad_probe, deadline),
              StatusIs(absl::StatusCode::kInvalidArgument, ::testing::HasSubstr("probe_token_ids")));
  skillsd::v1::ScoreRequest starts_generated;
  AddSegment(starts_generated.add_sequences(), SEGMENT_ROLE_GENERATED, {2, 3});
  EXPECT_THAT(teacher->Score(starts_generated, deadline), StatusIs(absl::StatusCode::kInvalidArgument));
}

}  // namespace
}  // namespace skillsd::teacher
