// Episodes played against a real skillsd-env service over loopback gRPC equal the same episodes played against
// in-process envs (same model, same seeds): RemoteEnvBatch is a faithful EnvBatch.
#include "actor/remote_env.h"

#include <torch/torch.h>

#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/server.h"
#include "core/status.h"
#include "core/status_matchers.h"
#include "env_workers/env_config.h"
#include "env_workers/env_service.h"
#include "env_workers/sokoban_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/test_model.h"

namespace skillsd::actor {
namespace {

// A real EnvServiceImpl (the default levels, `max_steps` per episode) on a loopback gRPC port.
class ServedEnv {
 public:
  static absl::StatusOr<std::unique_ptr<ServedEnv>> Start(int max_steps, int max_batch_size) {
    std::unique_ptr<ServedEnv> served(new ServedEnv);
    ASSIGN_OR_RETURN(served->levels, BuildLevelSet(EnvConfig()));
    EnvConfig config;
    config.max_steps = max_steps;
    const auto env_options = SokobanEnvOptionsFromConfig(config);
    EnvServiceOptions service_options;
    service_options.max_batch_size = max_batch_size;
    served->service = std::make_unique<EnvServiceImpl>(
        [levels = served->levels, env_options] { return std::make_unique<sokoban::SokobanEnv>(levels, env_options); },
        service_options);
    ServerOptions options;
    options.address = "127.0.0.1:0";
    options.drain_grace = absl::ZeroDuration();
    ASSIGN_OR_RETURN(served->server, GrpcServer::Start(options, {served->service.get()}));
    ASSIGN_OR_RETURN(auto channel, CreateChannel(absl::StrCat("127.0.0.1:", served->server->port()), {},
                                                 {DescriptorOf<skillsd::v1::EnvService>()}));
    served->stub = skillsd::v1::EnvService::NewStub(channel);
    return served;
  }

  std::shared_ptr<const sokoban::LevelSet> levels;
  std::unique_ptr<EnvServiceImpl> service;
  std::unique_ptr<GrpcServer> server;
  std::shared_ptr<skillsd::v1::EnvService::StubInterface> stub;
};

TEST(RemoteEnvBatchTest, PlaysLikeLocalEnvs) {
  const std::string json = model::Tokenizer::TrainBpeJson(
      {"<answer>Up || Left</answer>", "<answer>Down || Right</answer>", "system\nuser\nassistant\n"}, 300,
      {"<|endoftext|>", "<|im_start|>", "<|im_end|>"});
  auto tok = std::move(model::Tokenizer::FromJson(json)).value();
  ASSERT_OK_AND_ASSIGN(model::ChatTemplate chat, model::ChatTemplate::Create(tok.get()));
  model::CausalLM lm = model::RandomModel(model::TestModelConfig(tok->vocab_size(), 16, 1, 2, 1), 5);
  ASSERT_OK_AND_ASSIGN(auto served, ServedEnv::Start(/*max_steps=*/5, /*max_batch_size=*/16));  // short episodes
  const std::shared_ptr<const sokoban::LevelSet>& levels = served->levels;
  EnvConfig config;
  config.max_steps = 5;
  const auto env_options = SokobanEnvOptionsFromConfig(config);
  ASSERT_OK_AND_ASSIGN(auto remote, RemoteEnvBatch::Create(EnvClient(served->stub, absl::Seconds(10)), 4));
  EXPECT_EQ(remote->spec().name, "sokoban");
  EXPECT_EQ(remote->spec().max_steps, 5);

  std::vector<std::unique_ptr<Env>> envs;
  for (int i = 0; i < 4; ++i) envs.push_back(std::make_unique<sokoban::SokobanEnv>(levels, env_options));
  LocalEnvBatch local(std::move(envs));
  const std::vector<EnvTask> tasks = {
      {Split::kTest, 0, 0}, {Split::kTest, 1, 0}, {Split::kTrain, 2, 0}, {Split::kTest, 0, 0}};
  PlayOptions play;
  play.sampling.max_new_tokens = 6;
  play.sampling.seed = 11;
  c10::InferenceMode guard;
  for (int round = 0; round < 2; ++round) {  // the second round reuses the sessions (Reset)
    if (round == 1) {  // with the oracle on two of the episodes, and the policy's ranking of two tokens
      play.with_optimal_actions = {false, true, false, true};
      play.sampling.probe_tokens = {3, 4};
    }
    ASSERT_OK_AND_ASSIGN(auto a, PlayEpisodes(*lm, *tok, chat, *remote, tasks, play));
    ASSERT_OK_AND_ASSIGN(auto b, PlayEpisodes(*lm, *tok, chat, local, tasks, play));
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].task_id, b[i].task_id);
      EXPECT_EQ(a[i].totals.steps, b[i].totals.steps);
      EXPECT_EQ(a[i].totals.episode_return, b[i].totals.episode_return);
      ASSERT_EQ(a[i].turns.size(), b[i].turns.size());
      for (size_t t = 0; t < a[i].turns.size(); ++t) {
        EXPECT_EQ(a[i].turns[t].observation, b[i].turns[t].observation);
        EXPECT_EQ(a[i].turns[t].generated, b[i].turns[t].generated);
        EXPECT_EQ(a[i].turns[t].events.size(), b[i].turns[t].events.size());
        EXPECT_EQ(a[i].turns[t].optimal_actions, b[i].turns[t].optimal_actions);
        EXPECT_EQ(a[i].turns[t].optimal_actions.has_value(), round == 1 && i % 2 == 1);
        EXPECT_EQ(a[i].turns[t].probe_logprobs.size(), round == 1 ? 2 * a[i].turns[t].generated.size() : 0u);
      }
    }
  }
  // A bad task is the env's INVALID_ARGUMENT, not a crash.
  EXPECT_THAT(remote->Reset(0, {Split::kTest, 100000, 0}, false).status(),
              testing::StatusIs(absl::StatusCode::kInvalidArgument));
}

// A turn of more live slots than the worker's max_batch_size goes out in several BatchStep calls, results in slot
// order (a worker refuses a larger batch whole).
TEST(RemoteEnvBatchTest, StepsMoreSlotsThanTheWorkersLargestBatch) {
  ASSERT_OK_AND_ASSIGN(auto served, ServedEnv::Start(/*max_steps=*/40, /*max_batch_size=*/3));
  ASSERT_OK_AND_ASSIGN(auto remote, RemoteEnvBatch::Create(EnvClient(served->stub, absl::Seconds(10)), 8));
  std::vector<size_t> slots;
  std::vector<std::string> answers;
  for (size_t i = 0; i < 8; ++i) {
    ASSERT_OK(remote->Reset(i, {Split::kTest, static_cast<int>(i), 0}, false).status());
    slots.push_back(i);
    answers.push_back(i % 2 == 0 ? "<answer>Up</answer>" : "<answer>Left || Left</answer>");
  }
  ASSERT_OK_AND_ASSIGN(std::vector<EnvTurn> turns, remote->Step(slots, answers));
  ASSERT_EQ(turns.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(turns[i].totals.turns, 1) << i;
    EXPECT_EQ(turns[i].totals.steps, i % 2 == 0 ? 1 : 2) << "slot " << i << " got another slot's result";
  }
}

}  // namespace
}  // namespace skillsd::actor
