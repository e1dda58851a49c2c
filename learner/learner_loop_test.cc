// The learner's loop without gRPC: work hand-out, exactly-once groups, one step per version, weights
// published on schedule, checkpoints and a restart that resumes where it stopped.
#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/file_util.h"
#include "core/server.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "learner/learner.h"
#include "learner/learner_service.h"
#include "learner/rank_follower.h"
#include "model/safetensors.h"
#include "model/test_model.h"
#include "tests/test_util.h"
#include "weights/model_snapshot.h"
#include "weights/publisher.h"
#include "weights/subscriber.h"
#include "weights/weights_service.h"

namespace skillsd::learner {
namespace {

using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;

model::ModelConfig Config() {
  return model::TestModelConfig(/*vocab=*/16, /*hidden=*/16, /*layers=*/1, /*heads=*/2, /*kv_heads=*/1);
}

ExperimentConfig Experiment() {
  ExperimentConfig c;
  c.algorithm.mode = TrainingMode::kSkillSd;
  c.algorithm.tasks_per_step = 2;
  c.algorithm.group_size = 3;
  c.algorithm.teacher_sync_interval = 2;
  c.learner.total_steps = 4;
  c.learner.checkpoint_every = 2;
  c.learner.learning_rate = 1e-3;
  return c;
}

LearnerOptions Options(const std::string& dir) {
  LearnerOptions o;
  o.checkpoint_dir = dir;
  if (!dir.empty()) o.metrics_csv = dir + "/metrics.csv";
  for (int i = 0; i < 5; ++i) {
    skillsd::v1::TaskRef t;
    t.set_task_id(absl::StrCat("sokoban/train/", i));
    o.tasks.push_back(t);
  }
  return o;
}

// What an actor would submit for one task: G trajectories of one sequence each, teacher-scored.
skillsd::v1::SubmitGroupRequest GroupFor(const skillsd::v1::WorkAssignment& work, int task) {
  skillsd::v1::SubmitGroupRequest request;
  auto* g = request.mutable_group();
  g->set_group_id(work.group_ids(task));
  *g->mutable_task() = work.tasks(task);
  g->mutable_versions()->set_policy_version(work.policy_version());
  g->set_teacher_scored(true);
  g->set_work_id(work.work_id());
  for (int e = 0; e < work.group_size(); ++e) {
    auto* traj = g->add_trajectories();
    traj->set_policy_version(work.policy_version());
    traj->mutable_stats()->set_episode_return(e == 0 ? 10.0 : -1.0);
    auto* seq = traj->add_sequences();
    auto* prompt = seq->add_segments();
    prompt->set_role(skillsd::v1::SEGMENT_ROLE_PROMPT);
    prompt->add_token_ids(1);
    prompt->add_token_ids(2 + task);
    auto* gen = seq->add_segments();
    gen->set_role(skillsd::v1::SEGMENT_ROLE_GENERATED);
    for (int k = 0; k < 3; ++k) {
      gen->add_token_ids(5 + (e + k) % 8);
      gen->add_behaviour_logprobs(-2.7f);
      gen->add_loss_mask(true);
      gen->add_teacher_logprobs(-2.5f);
    }
  }
  return request;
}

std::string TempDir() {
  char pattern[] = "/tmp/skillsd_learner_XXXXXX";
  return mkdtemp(pattern);
}

// Plays the actor for one version: takes the work, submits every group (some twice).
void PlayOneVersion(Learner& learner) {
  skillsd::v1::GetWorkRequest request;
  request.set_actor_id("actor-0");
  request.set_request_id(absl::StrCat("req-", learner.version()));
  const skillsd::v1::GetWorkResponse response = learner.GetWork(request);
  ASSERT_TRUE(response.has_work());
  // The same request id gets the same answer.
  EXPECT_EQ(learner.GetWork(request).work().work_id(), response.work().work_id());
  const auto& work = response.work();
  ASSERT_EQ(work.tasks_size(), 2);
  for (int t = 0; t < work.tasks_size(); ++t) {
    ASSERT_OK_AND_ASSIGN(auto ack, learner.Submit(GroupFor(work, t), absl::Now() + absl::Seconds(1)));
    EXPECT_EQ(ack.disposition(), skillsd::v1::GROUP_DISPOSITION_ACCEPTED);
  }
  ASSERT_OK_AND_ASSIGN(auto again, learner.Submit(GroupFor(work, 0), absl::Now() + absl::Seconds(1)));
  EXPECT_EQ(again.disposition(), skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
  // All tasks of the version are in: nothing more to hand out.
  skillsd::v1::GetWorkRequest more;
  more.set_request_id(absl::StrCat("more-", learner.version()));
  EXPECT_FALSE(learner.GetWork(more).has_work());
}

TEST(LearnerLoopTest, TrainsPublishesCheckpointsAndResumes) {
  const std::string dir = TempDir();
  weights::WeightsPublisher publisher(2, false);
  {
    ASSERT_OK_AND_ASSIGN(auto learner,
                         Learner::Create(Experiment(), model::RandomModel(Config(), 1), Options(dir), &publisher));
    EXPECT_EQ(publisher.Latest(skillsd::v1::SUBSCRIBER_ROLE_ACTOR)->version, 0);
    for (int v = 0; v < 3; ++v) {
      PlayOneVersion(*learner);
      ASSERT_OK_AND_ASSIGN(bool stepped, learner->RunStep(absl::Seconds(1)));
      EXPECT_TRUE(stepped);
      EXPECT_EQ(learner->version(), v + 1);
      EXPECT_EQ(publisher.Latest(skillsd::v1::SUBSCRIBER_ROLE_ACTOR)->version, v + 1);
    }
    EXPECT_EQ(publisher.Latest(skillsd::v1::SUBSCRIBER_ROLE_TEACHER)->version, 2);  // K = 2
    // One metrics.csv row per step.
    std::ifstream csv(dir + "/metrics.csv");
    int rows = 0;
    size_t columns = 0;
    for (std::string line; std::getline(csv, line);) {
      const size_t here = static_cast<size_t>(std::count(line.begin(), line.end(), ','));
      if (rows++ == 0) {
        EXPECT_THAT(line, HasSubstr(",groups,train_solve_rate,invalid_rate,skill_turns,workflow_applies,"));
        columns = here;
      } else {
        EXPECT_EQ(here, columns) << line;  // every row has every column (empty where nothing was measured)
      }
    }
    EXPECT_EQ(rows, 1 + 3);
    EXPECT_EQ(learner->Status().teacher_version_pushed(), 2);
    EXPECT_GT(learner->last_stats().tokens, 0);
    // Without groups there is no step.
    ASSERT_OK_AND_ASSIGN(bool idle, learner->RunStep(absl::Milliseconds(20)));
    EXPECT_FALSE(idle);
    // One group of version 3 arrives, then the learner "crashes" (no checkpoint after step 2's).
    skillsd::v1::GetWorkRequest request;
    request.set_request_id("before-crash");
    const auto work = learner->GetWork(request).work();
    ASSERT_OK(learner->Submit(GroupFor(work, 0), absl::Now() + absl::Seconds(1)).status());
  }
  // Restart: resumes from the step-2 checkpoint; the groups of version 2 consumed by step 3 are not in it, so
  // they come back from the intake log, together with the acknowledged version-3 group.
  weights::WeightsPublisher publisher2(2, false);
  ASSERT_OK_AND_ASSIGN(auto learner,
                       Learner::Create(Experiment(), model::RandomModel(Config(), 7), Options(dir), &publisher2));
  EXPECT_EQ(learner->version(), 2);
  ASSERT_OK_AND_ASSIGN(bool stepped, learner->RunStep(absl::Seconds(1)));
  EXPECT_TRUE(stepped);  // retrains version 2 from the log, no actor needed
  EXPECT_EQ(learner->version(), 3);
  // The version-3 group acknowledged before the crash is still there: one more group completes version 3.
  skillsd::v1::GetWorkRequest request;
  request.set_request_id("after-restart");
  const auto work = learner->GetWork(request).work();
  ASSERT_EQ(work.tasks_size(), 2);
  ASSERT_OK_AND_ASSIGN(auto dup, learner->Submit(GroupFor(work, 0), absl::Now() + absl::Seconds(1)));
  EXPECT_EQ(dup.disposition(), skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
  ASSERT_OK(learner->Submit(GroupFor(work, 1), absl::Now() + absl::Seconds(1)).status());
  ASSERT_OK_AND_ASSIGN(stepped, learner->RunStep(absl::Seconds(1)));
  EXPECT_TRUE(stepped);
  EXPECT_TRUE(learner->finished());
  skillsd::v1::GetWorkRequest last;
  last.set_request_id("last");
  EXPECT_TRUE(learner->GetWork(last).finished());
}

// Weights after `steps` more versions, trained by rank 0 alone (world 1) or with rank 1 following in a thread
// (world 2), resuming from `dir`'s checkpoint when there is one. Rank 1 starts from other random weights: rank 0
// must give it its own (and, after a resume, its optimizer state).
struct RankWeights {
  model::TensorMap rank0, rank1;
};

RankWeights TrainRanks(int world, const std::string& dir, int steps, uint64_t follower_seed) {
  static int rendezvous = 0;
  const std::string store = absl::StrCat(dir, "/store-", rendezvous++);
  RankWeights out;
  model::CausalLM follower_model = model::RandomModel(Config(), follower_seed);
  absl::Status followed = absl::OkStatus();
  std::thread follower;
  if (world == 2) {
    follower = std::thread([&] {
      auto dp = DataParallel::WithFileStore(store, 1, 2);
      followed = dp.ok() ? RunRankFollower(Experiment(), follower_model, dp->get()) : dp.status();
    });
  }
  std::unique_ptr<DataParallel> dp;
  if (world == 2) {
    auto made = DataParallel::WithFileStore(store, 0, 2);
    EXPECT_OK(made.status());
    if (made.ok()) dp = std::move(*made);
  }
  {
    LearnerOptions options = Options(dir);
    options.data_parallel = dp.get();
    weights::WeightsPublisher publisher(2, false);
    auto learner = Learner::Create(Experiment(), model::RandomModel(Config(), 1), options, &publisher);
    EXPECT_OK(learner.status());
    if (learner.ok()) {
      for (int v = 0; v < steps; ++v) {
        PlayOneVersion(**learner);
        auto stepped = (*learner)->RunStep(absl::Seconds(5));
        EXPECT_TRUE(stepped.ok() && *stepped);
      }
      EXPECT_OK((*learner)->ReleaseRanks());  // a no-op when the last step already did
      EXPECT_OK((*learner)->ExportModel(dir + "/export"));
      auto weights = model::ReadSafetensors(dir + "/export/model.safetensors");
      EXPECT_OK(weights.status());
      if (weights.ok()) out.rank0 = *weights;
    }
  }
  if (world == 2) {
    follower.join();
    EXPECT_OK(followed);
    for (const auto& [name, t] : follower_model->StateDict()) out.rank1[name] = t.detach().clone();
  }
  return out;
}

double MaxDifference(const model::TensorMap& a, const model::TensorMap& b, bool* same_names) {
  double worst = 0;
  *same_names = a.size() == b.size() && !a.empty();
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end()) {
      *same_names = false;
      continue;
    }
    worst = std::max(worst, (t.to(torch::kFloat64) - it->second.to(torch::kFloat64)).abs().max().item<double>());
  }
  return worst;
}

// skillsd-learner as two data-parallel ranks (Gloo, threads here; processes in the launcher): rank 1 trains
// its share of the groups rank 0 broadcasts and the ranks end bit-identical, with the single rank's weights up
// to float summation order; stopping both after 2 steps and restarting (rank 1 from scratch) ends on exactly
// the weights of the straight run.
TEST(LearnerLoopTest, TwoRanksTrainLikeOneAndResumeTogether) {
  if (!DataParallel::HasGloo()) GTEST_SKIP() << "no Gloo in this build";
  const RankWeights single = TrainRanks(1, TempDir(), 4, 0);
  const RankWeights straight = TrainRanks(2, TempDir(), 4, 11);
  bool names = false;
  EXPECT_EQ(MaxDifference(straight.rank0, straight.rank1, &names), 0.0);
  EXPECT_TRUE(names);
  EXPECT_LT(MaxDifference(straight.rank0, single.rank0, &names), 1e-5);
  EXPECT_TRUE(names);
  // Not trivially close: training moved the weights.
  const model::CausalLM start = model::RandomModel(Config(), 1);
  EXPECT_GT(MaxDifference(straight.rank0, start->StateDict(), &names), 1e-3);

  const std::string dir = TempDir();
  (void)TrainRanks(2, dir, 2, 12);
  const RankWeights resumed = TrainRanks(2, dir, 2, 13);
  EXPECT_EQ(MaxDifference(resumed.rank0, straight.rank0, &names), 0.0);
  EXPECT_TRUE(names);
  EXPECT_EQ(MaxDifference(resumed.rank1, straight.rank0, &names), 0.0);
}

TEST(LearnerLoopTest, InvalidGroupsAreRejectedAndChangeNothing) {
  weights::WeightsPublisher publisher(1, false);
  ASSERT_OK_AND_ASSIGN(auto learner,
                       Learner::Create(Experiment(), model::RandomModel(Config(), 2), Options(""), &publisher));
  skillsd::v1::GetWorkRequest request;
  request.set_request_id("r");
  const auto work = learner->GetWork(request).work();
  auto bad = GroupFor(work, 0);
  bad.mutable_group()->mutable_trajectories(0)->mutable_sequences(0)->mutable_segments(1)->set_token_ids(0, 99);
  EXPECT_THAT(learner->Submit(bad, absl::Now() + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vocabulary")));
  auto unscored = GroupFor(work, 0);
  unscored.mutable_group()->set_teacher_scored(false);
  EXPECT_THAT(learner->Submit(unscored, absl::Now() + absl::Seconds(1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("teacher")));
  EXPECT_EQ(learner->Status().groups_queued(), 0);
  // The valid group is still accepted afterwards.
  ASSERT_OK_AND_ASSIGN(auto ok, learner->Submit(GroupFor(work, 0), absl::Now() + absl::Seconds(1)));
  EXPECT_EQ(ok.disposition(), skillsd::v1::GROUP_DISPOSITION_ACCEPTED);
}

// The same loop through real gRPC: an actor-side client leases work and submits groups (a resend is a
// duplicate), the learner steps, and a weights subscriber installs the new version.
TEST(LearnerLoopTest, OverGrpc) {
  weights::WeightsPublisher publisher(1, false);
  ASSERT_OK_AND_ASSIGN(auto learner,
                       Learner::Create(Experiment(), model::RandomModel(Config(), 3), Options(""), &publisher));
  LearnerServiceImpl learner_service(learner.get());
  weights::WeightsServiceImpl weights_service(&publisher);
  ServerOptions options;
  options.address = "127.0.0.1:0";
  options.metrics_address = "127.0.0.1:0";
  options.drain_grace = absl::ZeroDuration();
  ASSERT_OK_AND_ASSIGN(auto server, GrpcServer::Start(options, {&learner_service, &weights_service}));
  const std::string target = absl::StrCat("127.0.0.1:", server->port());
  ASSERT_OK_AND_ASSIGN(auto channel, CreateChannel(target, {},
                                                   {DescriptorOf<skillsd::v1::LearnerService>(),
                                                    DescriptorOf<skillsd::v1::WeightsService>()}));
  weights::ModelHolder actor_model(model::RandomModel(Config(), 4));
  weights::WeightsSubscriber subscriber(channel, "actor-0", skillsd::v1::SUBSCRIBER_ROLE_ACTOR,
                                        [&](const weights::Snapshot& s) { return actor_model.Install(s); });
  subscriber.Start();
  ASSERT_TRUE(subscriber.WaitForVersion(0, absl::Seconds(10)));
  auto stub = skillsd::v1::LearnerService::NewStub(channel);
  skillsd::v1::GetWorkResponse work;
  {
    grpc::ClientContext context;
    skillsd::v1::GetWorkRequest request;
    request.set_actor_id("actor-0");
    request.set_request_id("r1");
    ASSERT_TRUE(stub->GetWork(&context, request, &work).ok());
  }
  for (int t = 0; t < 2; ++t) {
    for (int attempt = 0; attempt < 2; ++attempt) {  // the second send is a resend
      grpc::ClientContext context;
      skillsd::v1::SubmitGroupResponse response;
      ASSERT_TRUE(stub->SubmitGroup(&context, GroupFor(work.work(), t), &response).ok());
      EXPECT_EQ(response.disposition(),
                attempt == 0 ? skillsd::v1::GROUP_DISPOSITION_ACCEPTED : skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
    }
  }
  {
    grpc::ClientContext context;
    auto bad = GroupFor(work.work(), 0);
    bad.mutable_group()->set_group_id("");
    skillsd::v1::SubmitGroupResponse response;
    EXPECT_EQ(stub->SubmitGroup(&context, bad, &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  ASSERT_OK_AND_ASSIGN(bool stepped, learner->RunStep(absl::Seconds(1)));
  EXPECT_TRUE(stepped);
  ASSERT_TRUE(subscriber.WaitForVersion(1, absl::Seconds(10)));
  {
    grpc::ClientContext context;
    skillsd::v1::GetLearnerStatusResponse status;
    ASSERT_TRUE(stub->GetStatus(&context, {}, &status).ok());
    EXPECT_EQ(status.policy_version(), 1);
    EXPECT_EQ(status.groups_consumed(), 2);
  }
  // The step's metrics are exported and pass promtool.
  ASSERT_OK_AND_ASSIGN(std::string metrics, testing::HttpGet(server->metrics_port(), "/metrics"));
  EXPECT_THAT(metrics, HasSubstr("skillsd_learner_policy_version 1"));
  // (Counters are process-wide: other tests in this binary add to them.)
  const std::string duplicates = "skillsd_learner_groups_total{disposition=\"duplicate\"} ";
  const size_t at = metrics.find(duplicates);
  ASSERT_NE(at, std::string::npos);
  EXPECT_GE(std::atof(metrics.c_str() + at + duplicates.size()), 2.0);
  EXPECT_THAT(metrics, HasSubstr("skillsd_learner_loss{term=\"sdl\"}"));
  EXPECT_THAT(metrics, HasSubstr("skillsd_learner_phase_seconds_bucket{phase=\"forward_backward\""));
  const std::string path = testing::MakeTempDir() + "/metrics.txt";
  ASSERT_OK(WriteFileAtomically(path, metrics));
  const testing::CommandResult check = testing::RunCommand("promtool check metrics < " + path);
  EXPECT_EQ(check.exit_code, 0) << check.output;
  subscriber.Stop();
  publisher.Close();
  server->Drain();
}

TEST(LearnerLoopTest, ModesMapToLossWeights) {
  AlgorithmConfig a;
  a.sdl_coef = 0.001;
  a.mode = TrainingMode::kGrpo;
  EXPECT_EQ(LossOptionsFor(a).sdl_coef, 0);
  a.mode = TrainingMode::kOpd;
  EXPECT_EQ(LossOptionsFor(a).grpo_coef, 0);
  EXPECT_EQ(LossOptionsFor(a).sdl_coef, 1);
  a.mode = TrainingMode::kSkillSdFrozen;
  EXPECT_EQ(LossOptionsFor(a).sdl_coef, 0.001);
  EXPECT_EQ(LossOptionsFor(a).grpo_coef, 1);
}

}  // namespace
}  // namespace skillsd::learner
