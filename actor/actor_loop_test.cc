// The actor loop against the generated gMock stubs of its four services: what it sends, what it does with each
// answer, and how it recovers (actor/actor.h).
#include <atomic>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "actor/actor.h"
#include "actor/test_tokenizer.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/test_model.h"
#include "skillsd/v1/env_mock.grpc.pb.h"
#include "skillsd/v1/learner_mock.grpc.pb.h"
#include "skillsd/v1/skill_mock.grpc.pb.h"
#include "skillsd/v1/teacher_mock.grpc.pb.h"

namespace skillsd::actor {
namespace {

using skillsd::v1::SEGMENT_ROLE_GENERATED;
using ::testing::_;
using ::testing::Invoke;
using ::testing::NiceMock;
using ::testing::Return;

constexpr int64_t kVersion = 3;

grpc::Status Unavailable() { return grpc::Status(grpc::StatusCode::UNAVAILABLE, "down"); }

class ActorLoopTest : public ::testing::Test {
 protected:
  ActorLoopTest() : tokenizer_(TinyTokenizer()), chat_(model::ChatTemplate::Create(tokenizer_.get()).value()) {
    holder_ = std::make_shared<weights::ModelHolder>(
        model::RandomModel(model::TestModelConfig(tokenizer_->vocab_size(), 16, 1, 2, 1), 1), kVersion);
    config_.algorithm.teacher_sync_interval = 1;
    // The learner: one assignment of two tasks, G = 2; every group acknowledged as accepted.
    ON_CALL(*learner_, GetWork(_, _, _))
        .WillByDefault(Invoke(
            [](grpc::ClientContext*, const skillsd::v1::GetWorkRequest&, skillsd::v1::GetWorkResponse* response) {
              skillsd::v1::WorkAssignment* work = response->mutable_work();
              work->set_work_id("w1");
              work->set_policy_version(kVersion);
              work->set_group_size(2);
              work->set_mode(skillsd::v1::TRAINING_MODE_SKILL_SD);
              work->set_min_teacher_version(kVersion);
              work->set_lease_deadline_unix_ms(absl::ToUnixMillis(absl::Now() + absl::Minutes(5)));
              work->mutable_sampling()->set_temperature(1.0f);
              work->mutable_sampling()->set_top_p(1.0f);
              work->mutable_sampling()->set_max_new_tokens(4);
              for (int t = 0; t < 2; ++t) {
                skillsd::v1::TaskRef* task = work->add_tasks();
                task->set_env("sokoban");
                task->set_split(skillsd::v1::SPLIT_TRAIN);
                task->set_level_index(t);
                task->set_task_id(absl::StrCat("sokoban/train/", t));
                work->add_group_ids(absl::StrCat("v", kVersion, "/t", t));
              }
              return grpc::Status::OK;
            }));
    ON_CALL(*learner_, SubmitGroup(_, _, _))
        .WillByDefault(Invoke([this](grpc::ClientContext*, const skillsd::v1::SubmitGroupRequest& request,
                                     skillsd::v1::SubmitGroupResponse* response) {
          absl::MutexLock lock(&mu_);
          submitted_.push_back(request.group());
          response->set_disposition(skillsd::v1::GROUP_DISPOSITION_ACCEPTED);
          return grpc::Status::OK;
        }));
    // The env: one-step episodes, every one solved.
    ON_CALL(*env_, GetSpec(_, _, _))
        .WillByDefault(
            Invoke([](grpc::ClientContext*, const skillsd::v1::GetSpecRequest&, skillsd::v1::GetSpecResponse* spec) {
              spec->set_env("sokoban");
              spec->set_system_prompt("Push the box.");
              spec->set_max_steps(1);
              spec->set_max_actions_per_turn(1);
              spec->set_train_levels(2);
              spec->set_test_levels(1);
              return grpc::Status::OK;
            }));
    ON_CALL(*env_, CreateSession(_, _, _))
        .WillByDefault(Invoke([this](grpc::ClientContext*, const skillsd::v1::CreateSessionRequest& request,
                                     skillsd::v1::CreateSessionResponse* response) {
          absl::MutexLock lock(&mu_);
          response->set_session_id(absl::StrCat("s", sessions_++));
          *response->mutable_task() = request.task();
          response->mutable_task()->set_task_id(absl::StrCat("sokoban/train/", request.task().level_index()));
          response->mutable_observation()->set_text("######\n#P_X_#\n######");
          return grpc::Status::OK;
        }));
    ON_CALL(*env_, BatchStep(_, _, _))
        .WillByDefault(Invoke([](grpc::ClientContext*, const skillsd::v1::BatchStepRequest& request,
                                 skillsd::v1::BatchStepResponse* response) {
          for (int k = 0; k < request.steps_size(); ++k) {
            skillsd::v1::Observation* o = response->add_results()->mutable_observation();
            o->set_text("solved");
            o->set_reward(10.0f);
            o->set_done(true);
            o->mutable_stats()->set_episode_return(10.0);
            o->mutable_stats()->set_steps(1);
            o->mutable_stats()->set_turns(1);
            o->mutable_stats()->set_solved(true);
          }
          return grpc::Status::OK;
        }));
    ON_CALL(*env_, CloseSession(_, _, _)).WillByDefault(Return(grpc::Status::OK));
    // The teacher: -1 for every generated token.
    ON_CALL(*teacher_, Score(_, _, _))
        .WillByDefault(Invoke([this](grpc::ClientContext*, const skillsd::v1::ScoreRequest& request,
                                     skillsd::v1::ScoreResponse* response) {
          absl::MutexLock lock(&mu_);
          ++scored_;
          response->set_teacher_version(kVersion);
          for (const auto& seq : request.sequences()) {
            auto* out = response->add_sequences();
            for (const auto& seg : seq.segments()) {
              if (seg.role() != SEGMENT_ROLE_GENERATED) continue;
              auto* lp = out->add_segments();
              for (int k = 0; k < seg.token_ids_size(); ++k) lp->add_logprobs(-1.0f);
            }
          }
          return grpc::Status::OK;
        }));
    // The skill service: the same skill for every task.
    ON_CALL(*skill_, SelectSkill(_, _, _))
        .WillByDefault(Invoke([](grpc::ClientContext*, const skillsd::v1::SelectSkillRequest&,
                                 skillsd::v1::SelectSkillResponse* response) {
          response->mutable_skill()->set_skill_id("skill-1");
          response->mutable_skill()->mutable_content()->set_golden_workflow("Right");
          response->set_skill_bank_version(2);
          return grpc::Status::OK;
        }));
    ON_CALL(*skill_, SubmitTrajectories(_, _, _)).WillByDefault(Return(grpc::Status::OK));
    ON_CALL(*skill_, ReportOutcome(_, _, _)).WillByDefault(Return(grpc::Status::OK));
  }

  Actor MakeActor() {
    return Actor(config_, "actor-test", holder_, tokenizer_.get(), chat_, {learner_, env_, teacher_, skill_});
  }
  std::vector<std::string> SubmittedIds() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    for (const auto& g : submitted_) ids.push_back(g.group_id());
    return ids;
  }

  ExperimentConfig config_;
  std::unique_ptr<model::Tokenizer> tokenizer_;
  model::ChatTemplate chat_;
  std::shared_ptr<weights::ModelHolder> holder_;
  std::shared_ptr<NiceMock<skillsd::v1::MockLearnerServiceStub>> learner_ =
      std::make_shared<NiceMock<skillsd::v1::MockLearnerServiceStub>>();
  std::shared_ptr<NiceMock<skillsd::v1::MockEnvServiceStub>> env_ =
      std::make_shared<NiceMock<skillsd::v1::MockEnvServiceStub>>();
  std::shared_ptr<NiceMock<skillsd::v1::MockTeacherServiceStub>> teacher_ =
      std::make_shared<NiceMock<skillsd::v1::MockTeacherServiceStub>>();
  std::shared_ptr<NiceMock<skillsd::v1::MockSkillServiceStub>> skill_ =
      std::make_shared<NiceMock<skillsd::v1::MockSkillServiceStub>>();
  absl::Mutex mu_;
  std::vector<skillsd::v1::Group> submitted_ ABSL_GUARDED_BY(mu_);
  int sessions_ ABSL_GUARDED_BY(mu_) = 0;
  int scored_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(ActorLoopTest, PlaysScoresAndSubmitsEveryGroup) {
  EXPECT_CALL(*skill_, SelectSkill(_, _, _)).Times(2);
  EXPECT_CALL(*skill_, SubmitTrajectories(_, _, _)).Times(2);
  EXPECT_CALL(*skill_, ReportOutcome(_, _, _)).Times(2);
  Actor actor = MakeActor();
  ASSERT_OK_AND_ASSIGN(WorkReport report, actor.RunOnce());
  EXPECT_EQ(report.policy_version, kVersion);
  EXPECT_EQ(report.groups, 2);
  EXPECT_EQ(report.episodes, 4);
  EXPECT_EQ(report.groups_with_skill, 2);
  EXPECT_EQ(report.teacher_scored, 2);
  EXPECT_DOUBLE_EQ(report.solve_rate, 1.0);
  EXPECT_THAT(SubmittedIds(), ::testing::ElementsAre("v3/t0", "v3/t1"));
  absl::MutexLock lock(&mu_);
  for (const skillsd::v1::Group& g : submitted_) {
    EXPECT_EQ(g.work_id(), "w1");
    EXPECT_EQ(g.actor_id(), "actor-test");
    EXPECT_EQ(g.skill().skill_id(), "skill-1");
    EXPECT_EQ(g.versions().skill_bank_version(), 2);
    EXPECT_TRUE(g.teacher_scored());
    ASSERT_EQ(g.trajectories_size(), 2);
    for (const auto& traj : g.trajectories()) {
      ASSERT_EQ(traj.sequences_size(), 1);
      const auto& gen = traj.sequences(0).segments(traj.sequences(0).segments_size() - 1);
      ASSERT_EQ(gen.role(), SEGMENT_ROLE_GENERATED);
      ASSERT_GT(gen.token_ids_size(), 0);
      EXPECT_THAT(gen.teacher_logprobs(), ::testing::Each(-1.0f));
      EXPECT_EQ(gen.teacher_logprobs_size(), gen.token_ids_size());
    }
  }
}

TEST_F(ActorLoopTest, ReplaysTheSameWorkAfterAnEnvFailure) {
  EXPECT_CALL(*learner_, GetWork(_, _, _)).Times(1);  // the replay does not ask for new work
  EXPECT_CALL(*env_, BatchStep(_, _, _)).WillOnce(Return(Unavailable())).WillRepeatedly(::testing::DoDefault());
  Actor actor = MakeActor();
  EXPECT_THAT(actor.RunOnce().status(),
              ::skillsd::testing::StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("env: down")));
  EXPECT_TRUE(SubmittedIds().empty());
  ASSERT_OK_AND_ASSIGN(WorkReport report, actor.RunOnce());
  EXPECT_EQ(report.groups, 2);
  EXPECT_THAT(SubmittedIds(), ::testing::ElementsAre("v3/t0", "v3/t1"));
}

TEST_F(ActorLoopTest, ADuplicateAcknowledgementIsDoneWith) {
  EXPECT_CALL(*learner_, GetWork(_, _, _)).Times(2);  // no replay after a duplicate: new work is fetched
  EXPECT_CALL(*learner_, SubmitGroup(_, _, _))
      .Times(4)
      .WillRepeatedly(Invoke(
          [](grpc::ClientContext*, const skillsd::v1::SubmitGroupRequest&, skillsd::v1::SubmitGroupResponse* response) {
            response->set_disposition(skillsd::v1::GROUP_DISPOSITION_DUPLICATE);
            return grpc::Status::OK;
          }));
  Actor actor = MakeActor();
  ASSERT_OK_AND_ASSIGN(WorkReport first, actor.RunOnce());
  EXPECT_EQ(first.groups, 2);
  ASSERT_OK_AND_ASSIGN(WorkReport second, actor.RunOnce());
  EXPECT_EQ(second.groups, 2);
}

TEST_F(ActorLoopTest, ATeacherFailureSubmitsNothingAndTheWorkIsReplayed) {
  EXPECT_CALL(*learner_, GetWork(_, _, _)).Times(1);
  EXPECT_CALL(*teacher_, Score(_, _, _)).WillOnce(Return(Unavailable())).WillRepeatedly(::testing::DoDefault());
  Actor actor = MakeActor();
  EXPECT_THAT(actor.RunOnce().status(),
              ::skillsd::testing::StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("teacher: down")));
  EXPECT_TRUE(SubmittedIds().empty());  // never half-scored, never submitted unscored
  ASSERT_OK_AND_ASSIGN(WorkReport report, actor.RunOnce());
  EXPECT_EQ(report.teacher_scored, 2);
  EXPECT_THAT(SubmittedIds(), ::testing::ElementsAre("v3/t0", "v3/t1"));
}

TEST_F(ActorLoopTest, TheSkillServiceDownStillTrains) {
  EXPECT_CALL(*skill_, SelectSkill(_, _, _)).Times(2).WillRepeatedly(Return(Unavailable()));
  EXPECT_CALL(*skill_, SubmitTrajectories(_, _, _)).Times(2).WillRepeatedly(Return(Unavailable()));
  EXPECT_CALL(*skill_, ReportOutcome(_, _, _)).Times(2).WillRepeatedly(Return(Unavailable()));
  // Without a skill, at K = 1 and plain sampling, the teacher is θ_old: its pass is skipped.
  EXPECT_CALL(*teacher_, Score(_, _, _)).Times(0);
  Actor actor = MakeActor();
  ASSERT_OK_AND_ASSIGN(WorkReport report, actor.RunOnce());
  EXPECT_EQ(report.groups, 2);
  EXPECT_EQ(report.groups_with_skill, 0);
  EXPECT_EQ(report.teacher_scored, 0);
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(submitted_.size(), 2u);
  for (const skillsd::v1::Group& g : submitted_) {
    EXPECT_FALSE(g.has_skill());
    EXPECT_TRUE(g.teacher_scored());
    const auto& gen = g.trajectories(0).sequences(0).segments(g.trajectories(0).sequences(0).segments_size() - 1);
    EXPECT_EQ(gen.teacher_logprobs().size(), gen.behaviour_logprobs().size());
    for (int k = 0; k < gen.teacher_logprobs_size(); ++k) {
      EXPECT_EQ(gen.teacher_logprobs(k), gen.behaviour_logprobs(k));
    }
  }
}

TEST_F(ActorLoopTest, ALearnerWithNoWorkOrFinishedIsReportedNotFailed) {
  EXPECT_CALL(*learner_, GetWork(_, _, _))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const skillsd::v1::GetWorkRequest&, skillsd::v1::GetWorkResponse* response) {
            response->set_retry_after_ms(10);
            return grpc::Status::OK;
          }))
      .WillOnce(
          Invoke([](grpc::ClientContext*, const skillsd::v1::GetWorkRequest&, skillsd::v1::GetWorkResponse* response) {
            response->set_finished(true);
            return grpc::Status::OK;
          }))
      .WillOnce(Return(Unavailable()));
  Actor actor = MakeActor();
  ASSERT_OK_AND_ASSIGN(WorkReport idle, actor.RunOnce());
  EXPECT_TRUE(idle.idle);
  ASSERT_OK_AND_ASSIGN(WorkReport finished, actor.RunOnce());
  EXPECT_TRUE(finished.finished);
  EXPECT_THAT(actor.RunOnce().status(),
              ::skillsd::testing::StatusIs(absl::StatusCode::kUnavailable, ::testing::HasSubstr("learner: down")));
}

}  // namespace
}  // namespace skillsd::actor
