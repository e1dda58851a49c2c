#include "env_workers/env_service.h"

#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/config.h"
#include "core/server.h"
#include "core/status_matchers.h"
#include "env_workers/env_config.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

class EnvServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto levels = BuildLevelSet(EnvConfig());
    ASSERT_TRUE(levels.ok());
    EnvServiceOptions options;
    options.max_sessions = 8;
    options.max_batch_size = 4;
    options.idle_timeout = absl::Minutes(1);
    const auto env_options = SokobanEnvOptionsFromConfig(EnvConfig());
    service_ = std::make_unique<EnvServiceImpl>(
        [levels = *levels, env_options] { return std::make_unique<sokoban::SokobanEnv>(levels, env_options); },
        options);
  }

  std::string Create(skillsd::v1::Split split, int index) {
    skillsd::v1::CreateSessionRequest request;
    request.mutable_task()->set_split(split);
    request.mutable_task()->set_level_index(index);
    skillsd::v1::CreateSessionResponse response;
    absl::Status s = service_->HandleCreateSession(request, &response);
    EXPECT_TRUE(s.ok()) << s;
    return response.session_id();
  }

  std::unique_ptr<EnvServiceImpl> service_;
};

TEST_F(EnvServiceTest, CreateByIndexTaskIdOrSeed) {
  skillsd::v1::CreateSessionRequest request;
  skillsd::v1::CreateSessionResponse response;
  request.mutable_task()->set_task_id("sokoban/test/5");
  ASSERT_OK(service_->HandleCreateSession(request, &response));
  EXPECT_EQ(response.task().task_id(), "sokoban/test/5");
  EXPECT_EQ(response.task().split(), skillsd::v1::SPLIT_TEST);
  EXPECT_THAT(response.observation().text(), HasSubstr("Moves left: 40"));

  request.mutable_task()->set_task_id("sokoban/procedural/777");
  ASSERT_OK(service_->HandleCreateSession(request, &response));
  EXPECT_EQ(response.task().task_id(), "sokoban/procedural/777");

  request.mutable_task()->set_task_id("");
  request.mutable_task()->set_split(skillsd::v1::SPLIT_TRAIN);
  request.mutable_task()->set_level_index(95);
  ASSERT_OK(service_->HandleCreateSession(request, &response));
  EXPECT_EQ(response.task().task_id(), "sokoban/train/95");
  EXPECT_EQ(service_->num_sessions(), 3);
}

TEST_F(EnvServiceTest, BadTasksAreInvalidArgumentAndCreateNothing) {
  skillsd::v1::CreateSessionResponse response;
  skillsd::v1::CreateSessionRequest request;
  EXPECT_THAT(service_->HandleCreateSession(request, &response),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("task")));
  request.mutable_task()->set_split(skillsd::v1::SPLIT_TRAIN);
  request.mutable_task()->set_level_index(96);
  EXPECT_THAT(service_->HandleCreateSession(request, &response),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range")));
  request.Clear();
  request.mutable_task()->set_task_id("sokoban/train/abc");
  EXPECT_THAT(service_->HandleCreateSession(request, &response), StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(service_->num_sessions(), 0);
}

TEST_F(EnvServiceTest, BatchItemsFailIndependently) {
  const std::string a = Create(skillsd::v1::SPLIT_TRAIN, 0);
  const std::string b = Create(skillsd::v1::SPLIT_TRAIN, 1);
  skillsd::v1::BatchStepRequest request;
  auto add = [&](const std::string& id, const std::string& answer) {
    auto* s = request.add_steps();
    s->set_session_id(id);
    s->set_answer(answer);
  };
  add(a, "<answer>Up</answer>");
  add("nope", "<answer>Up</answer>");
  add(a, "<answer>Down</answer>");  // duplicate session in one batch
  add(b, "garbage \xff\xfe");
  skillsd::v1::BatchStepResponse response;
  ASSERT_OK(service_->HandleBatchStep(request, &response));
  ASSERT_EQ(response.results_size(), 4);
  EXPECT_EQ(response.results(0).status().code(), 0);
  EXPECT_EQ(response.results(0).observation().stats().steps(), 1);
  EXPECT_EQ(response.results(1).status().code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(response.results(2).status().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
  EXPECT_EQ(response.results(3).status().code(), 0);
  EXPECT_EQ(response.results(3).observation().stats().invalid_actions(), 1);
}

TEST_F(EnvServiceTest, OversizedBatchIsRejectedWhole) {
  const std::string a = Create(skillsd::v1::SPLIT_TRAIN, 0);
  skillsd::v1::BatchStepRequest request;
  for (int i = 0; i < 5; ++i) {
    auto* s = request.add_steps();
    s->set_session_id(i == 0 ? a : absl::StrCat("x", i));
    s->set_answer("<answer>Up</answer>");
  }
  skillsd::v1::BatchStepResponse response;
  EXPECT_THAT(service_->HandleBatchStep(request, &response),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_batch_size")));
  // Nothing was stepped.
  skillsd::v1::BatchStepRequest one;
  auto* s = one.add_steps();
  s->set_session_id(a);
  s->set_answer("<answer>Up</answer>");
  skillsd::v1::BatchStepResponse r;
  ASSERT_OK(service_->HandleBatchStep(one, &r));
  EXPECT_EQ(r.results(0).observation().stats().steps(), 1);
}

TEST_F(EnvServiceTest, SessionLimitAndExpiry) {
  for (int i = 0; i < 8; ++i) Create(skillsd::v1::SPLIT_TRAIN, i);
  skillsd::v1::CreateSessionRequest request;
  request.mutable_task()->set_split(skillsd::v1::SPLIT_TRAIN);
  skillsd::v1::CreateSessionResponse response;
  EXPECT_THAT(service_->HandleCreateSession(request, &response),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("session limit")));
  EXPECT_EQ(service_->ExpireIdleSessions(absl::Now() + absl::Seconds(30)), 0);
  EXPECT_EQ(service_->ExpireIdleSessions(absl::Now() + absl::Minutes(2)), 8);
  EXPECT_EQ(service_->num_sessions(), 0);
  ASSERT_OK(service_->HandleCreateSession(request, &response));
}

// Sessions asked for them list the optimal actions at every observation: playing one of them each turn solves
// the level in its optimal number of moves; other sessions carry none, and the spec names the four moves.
TEST_F(EnvServiceTest, OptimalActionsForSessionsThatAskAndTheSpecsActions) {
  auto levels = BuildLevelSet(EnvConfig());
  ASSERT_TRUE(levels.ok());
  const sokoban::Level& level = (*levels)->levels(Split::kTest)[3];
  skillsd::v1::CreateSessionRequest create;
  create.mutable_task()->set_task_id("sokoban/test/3");
  create.set_with_optimal_actions(true);
  skillsd::v1::CreateSessionResponse created;
  ASSERT_OK(service_->HandleCreateSession(create, &created));
  ASSERT_TRUE(created.observation().has_optimal_actions());
  skillsd::v1::Observation observation = created.observation();
  int moves = 0;
  while (!observation.done()) {
    ASSERT_GT(observation.optimal_actions().actions_size(), 0) << moves;
    skillsd::v1::BatchStepRequest request;
    auto* step = request.add_steps();
    step->set_session_id(created.session_id());
    step->set_answer(absl::StrCat("<answer>", observation.optimal_actions().actions(0), "</answer>"));
    skillsd::v1::BatchStepResponse response;
    ASSERT_OK(service_->HandleBatchStep(request, &response));
    observation = response.results(0).observation();
    ++moves;
  }
  EXPECT_TRUE(observation.stats().solved());
  EXPECT_EQ(moves, level.optimal_length);
  const std::string plain = Create(skillsd::v1::SPLIT_TEST, 3);
  skillsd::v1::BatchStepRequest request;
  request.add_steps()->set_session_id(plain);
  request.mutable_steps(0)->set_answer("<answer>Up</answer>");
  skillsd::v1::BatchStepResponse response;
  ASSERT_OK(service_->HandleBatchStep(request, &response));
  EXPECT_FALSE(response.results(0).observation().has_optimal_actions());
  skillsd::v1::GetSpecResponse spec;
  ASSERT_TRUE(service_->GetSpec(nullptr, nullptr, &spec).ok());
  ASSERT_EQ(spec.actions_size(), 4);
  EXPECT_EQ(spec.actions(2).name(), "Left");
  EXPECT_EQ(spec.actions(2).answer(), "<answer>Left</answer>");
}

TEST_F(EnvServiceTest, FinishedEpisodeNeedsReset) {
  const std::string id = Create(skillsd::v1::SPLIT_TEST, 0);
  skillsd::v1::BatchStepRequest request;
  auto* s = request.add_steps();
  s->set_session_id(id);
  s->set_answer("nothing");
  skillsd::v1::BatchStepResponse response;
  for (int i = 0; i < 40; ++i) {
    response.Clear();
    ASSERT_OK(service_->HandleBatchStep(request, &response));
  }
  EXPECT_TRUE(response.results(0).observation().done());
  EXPECT_TRUE(response.results(0).observation().stats().truncated());
  response.Clear();
  ASSERT_OK(service_->HandleBatchStep(request, &response));
  EXPECT_EQ(response.results(0).status().code(), static_cast<int>(absl::StatusCode::kFailedPrecondition));
}

// The whole service over real loopback gRPC.
TEST_F(EnvServiceTest, OverGrpc) {
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.drain_grace = absl::ZeroDuration();
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start(options, {service_.get()}));
  ASSERT_OK_AND_ASSIGN(auto channel, CreateChannel(absl::StrCat("127.0.0.1:", server->port()), {},
                                                   {DescriptorOf<skillsd::v1::EnvService>()}));
  auto stub = skillsd::v1::EnvService::NewStub(channel);
  {
    grpc::ClientContext context;
    skillsd::v1::GetSpecResponse spec;
    ASSERT_TRUE(stub->GetSpec(&context, {}, &spec).ok());
    EXPECT_EQ(spec.env(), "sokoban");
    EXPECT_EQ(spec.max_steps(), 40);
    EXPECT_EQ(spec.test_levels(), 64);
  }
  skillsd::v1::CreateSessionRequest create;
  create.mutable_task()->set_task_id("sokoban/test/0");
  skillsd::v1::CreateSessionResponse created;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub->CreateSession(&context, create, &created).ok());
  }
  {
    grpc::ClientContext context;
    skillsd::v1::StepRequest step;
    step.set_session_id(created.session_id());
    step.set_answer("<answer>Left || Left</answer>");
    skillsd::v1::StepResponse response;
    ASSERT_TRUE(stub->Step(&context, step, &response).ok());
    EXPECT_EQ(response.observation().events_size(), 2);
  }
  {
    grpc::ClientContext context;
    skillsd::v1::StepRequest step;
    step.set_session_id("unknown");
    skillsd::v1::StepResponse response;
    EXPECT_EQ(stub->Step(&context, step, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext context;
    skillsd::v1::ResetRequest reset;
    reset.set_session_id(created.session_id());
    skillsd::v1::ResetResponse response;
    ASSERT_TRUE(stub->Reset(&context, reset, &response).ok());  // same task again
    EXPECT_EQ(response.task().task_id(), "sokoban/test/0");
    EXPECT_EQ(response.observation().stats().steps(), 0);
  }
  for (int i = 0; i < 2; ++i) {  // closing twice is fine
    grpc::ClientContext context;
    skillsd::v1::CloseSessionRequest close;
    close.set_session_id(created.session_id());
    skillsd::v1::CloseSessionResponse response;
    EXPECT_TRUE(stub->CloseSession(&context, close, &response).ok());
  }
  EXPECT_EQ(service_->num_sessions(), 0);
}

}  // namespace
}  // namespace skillsd
