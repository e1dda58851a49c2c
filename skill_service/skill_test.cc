#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "skill_service/skill_bank.h"
#include "skill_service/skill_service.h"
#include "skill_service/summarizer.h"
#include "tests/test_util.h"

namespace skillsd::skill {
namespace {

using skillsd::testing::StatusIs;
using ::testing::HasSubstr;

void AddEvent(skillsd::v1::Trajectory* t, const std::string& action, bool moved, bool onto = false,
              bool invalid = false, bool bumped = false, bool deadlock = false) {
  auto* e = t->add_events();
  e->set_action(action);
  e->set_moved(moved);
  e->set_box_onto_target(onto);
  e->set_invalid(invalid);
  e->set_bumped(bumped);
  e->set_deadlock(deadlock);
}

skillsd::v1::Trajectory Traj(const std::string& id, const std::string& task) {
  skillsd::v1::Trajectory t;
  t.set_trajectory_id(id);
  t.mutable_task()->set_task_id(task);
  return t;
}

TEST(RulesSummarizerTest, SolvedEpisodeGivesItsMovesAndMistakes) {
  skillsd::v1::Trajectory t = Traj("t1", "sokoban/train/0");
  AddEvent(&t, "Up", true);
  AddEvent(&t, "bogus", false, false, /*invalid=*/true);
  AddEvent(&t, "Left", false, false, false, /*bumped=*/true);
  AddEvent(&t, "Right", true, /*onto=*/true);
  AddEvent(&t, "Down", true, /*onto=*/true);
  t.mutable_stats()->set_solved(true);
  RulesSummarizer rules;
  ASSERT_OK_AND_ASSIGN(skillsd::v1::SkillContent skill, rules.Summarize(t));
  EXPECT_EQ(skill.golden_workflow(), "Up, Right, Down");  // bumps and invalid answers are not moves
  EXPECT_THAT(skill.success_analysis(), HasSubstr("Solved in 3 moves"));
  EXPECT_THAT(skill.mistake_analysis(), HasSubstr("1 invalid answers"));
  EXPECT_THAT(skill.mistake_analysis(), HasSubstr("1 moves into a wall"));
}

TEST(RulesSummarizerTest, FailedEpisodeKeepsTheUsefulPrefix) {
  skillsd::v1::Trajectory t = Traj("t2", "sokoban/train/0");
  AddEvent(&t, "Up", true);
  AddEvent(&t, "Right", true, /*onto=*/true);
  AddEvent(&t, "Down", true);
  AddEvent(&t, "Down", true, false, false, false, /*deadlock=*/true);
  AddEvent(&t, "Left", true, /*onto=*/true);  // after the deadlock: not progress that lasts
  t.mutable_stats()->set_completion(0.5);
  RulesSummarizer rules;
  ASSERT_OK_AND_ASSIGN(skillsd::v1::SkillContent skill, rules.Summarize(t));
  EXPECT_EQ(skill.golden_workflow(), "Up, Right");
  EXPECT_THAT(skill.mistake_analysis(), HasSubstr("move 4 pushed a box"));
  // No progress at all: nothing to summarise.
  skillsd::v1::Trajectory none = Traj("t3", "sokoban/train/0");
  AddEvent(&none, "Up", true);
  EXPECT_THAT(rules.Summarize(none), StatusIs(absl::StatusCode::kFailedPrecondition));
}

TEST(ParseSkillJsonTest, ValidatesTheThreeFields) {
  ASSERT_OK_AND_ASSIGN(skillsd::v1::SkillContent s,
                       ParseSkillJson("```json\n{\"success_analysis\": \"a\", \"mistake_analysis\": \"b\", "
                                      "\"golden_workflow\": \"Up\"}\n```"));
  EXPECT_EQ(s.golden_workflow(), "Up");
  EXPECT_THAT(ParseSkillJson("{\"success_analysis\": \"a\", \"mistake_analysis\": \"b\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("golden_workflow")));
  EXPECT_THAT(ParseSkillJson("{\"success_analysis\": \"a\", \"mistake_analysis\": \"b\", \"golden_workflow\": 3}"),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(ParseSkillJson("{\"success_analysis\": \"a\", \"mistake_analysis\": \"b\", \"golden_workflow\": \"c\", "
                             "\"extra\": \"d\"}"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exactly")));
  EXPECT_FALSE(ParseSkillJson("[1, 2]").ok());
  EXPECT_FALSE(ParseSkillJson("Sure! Here is the skill").ok());
}

skillsd::v1::SkillContent Content(const std::string& workflow) {
  skillsd::v1::SkillContent c;
  c.set_success_analysis("s");
  c.set_mistake_analysis("m");
  c.set_golden_workflow(workflow);
  return c;
}

TEST(SkillBankTest, PersistsQueueAndSkillsAcrossReopen) {
  const std::string path = skillsd::testing::MakeTempDir() + "/skills.db";
  {
    ASSERT_OK_AND_ASSIGN(auto bank, SkillBank::Open(path, std::sqrt(2.0), Credit::kNextGroup, 0));
    ASSERT_OK_AND_ASSIGN(std::vector<size_t> added, bank->EnqueueTrajectories({Traj("a", "task"), Traj("b", "task")}));
    EXPECT_EQ(added.size(), 2u);
    ASSERT_OK_AND_ASSIGN(added, bank->EnqueueTrajectories({Traj("a", "task")}));
    EXPECT_EQ(added.size(), 0u);  // acknowledged before: not queued twice
    const skillsd::v1::SkillContent c = Content("Up");
    ASSERT_OK_AND_ASSIGN(bool stored, bank->CompleteTrajectory(Traj("a", "task"), &c, "rules", "", false));
    EXPECT_TRUE(stored);
  }
  // A restart: the summarised skill is there, "b" is still queued.
  ASSERT_OK_AND_ASSIGN(auto bank, SkillBank::Open(path, std::sqrt(2.0), Credit::kNextGroup, 0));
  ASSERT_OK_AND_ASSIGN(auto pending, bank->PendingTrajectories());
  ASSERT_EQ(pending.size(), 1u);
  EXPECT_EQ(pending[0].trajectory_id(), "b");
  ASSERT_OK_AND_ASSIGN(auto skills, bank->List("task", 0));
  ASSERT_EQ(skills.size(), 1u);
  EXPECT_EQ(skills[0].content().golden_workflow(), "Up");
  EXPECT_EQ(skills[0].provenance().source_trajectory_id(), "a");
  EXPECT_EQ(skills[0].provenance().summarizer(), "rules");
  // An identical skill is not stored twice.
  const skillsd::v1::SkillContent same = Content("Up");
  ASSERT_OK_AND_ASSIGN(bool stored, bank->CompleteTrajectory(Traj("b", "task"), &same, "rules", "", false));
  EXPECT_FALSE(stored);
  ASSERT_OK_AND_ASSIGN(auto status, bank->Status());
  EXPECT_EQ(status.skills(), 1);
  EXPECT_EQ(status.queue_depth(), 0);
}

TEST(SkillBankTest, Ucb1NeverTriedFirstThenTheHighestBound) {
  ASSERT_OK_AND_ASSIGN(auto bank, SkillBank::Open(":memory:", std::sqrt(2.0), Credit::kSameGroup, 0));
  ASSERT_OK_AND_ASSIGN(auto empty, bank->Select("task", "g0"));
  EXPECT_FALSE(empty.has_skill());
  for (const char* id : {"a", "b", "c"}) {
    const skillsd::v1::SkillContent c = Content(id);
    ASSERT_TRUE(bank->CompleteTrajectory(Traj(id, "task"), &c, "rules", "", false).ok());
  }
  // Never-tried skills first, oldest first; each credited once (same_group) with rewards 1, 5, 2.
  const double rewards[] = {1, 5, 2};
  for (int i = 0; i < 3; ++i) {
    ASSERT_OK_AND_ASSIGN(auto r, bank->Select("task", absl::StrCat("g", i + 1)));
    EXPECT_EQ(r.skill().content().golden_workflow(), std::string(1, static_cast<char>('a' + i)));
    skillsd::v1::ReportOutcomeRequest outcome;
    outcome.set_task_id("task");
    outcome.set_group_id(absl::StrCat("g", i + 1));
    outcome.set_skill_id(r.skill().skill_id());
    outcome.set_mean_reward(rewards[i]);
    ASSERT_TRUE(bank->ReportOutcome(outcome).ok());
    ASSERT_TRUE(bank->ReportOutcome(outcome).ok());  // a repeat counts once
  }
  // N = 3, n = 1 each: the bonus is equal, so the highest mean (b) wins.
  ASSERT_OK_AND_ASSIGN(auto r, bank->Select("task", "g4"));
  EXPECT_EQ(r.skill().content().golden_workflow(), "b");
  EXPECT_EQ(r.skill_bank_version(), 3);
  // The same selection id returns the same answer without counting again.
  ASSERT_OK_AND_ASSIGN(auto again, bank->Select("task", "g4"));
  EXPECT_EQ(again.skill().skill_id(), r.skill().skill_id());
  ASSERT_OK_AND_ASSIGN(auto skills, bank->List("task", 0));
  EXPECT_EQ(skills[1].stats().selections(), 2);
  EXPECT_EQ(skills[1].stats().outcomes(), 1);
  EXPECT_DOUBLE_EQ(skills[1].stats().mean_reward(), 5.0);
  // Closed form: after b's second pick (N = 4), a: 1 + √2·sqrt(ln 4 / 1) = 2.665, b: 5 + √2·sqrt(ln 4 / 2) = 6.18,
  // c: 2 + 1.665 = 3.665 — b again.
  ASSERT_OK_AND_ASSIGN(auto r5, bank->Select("task", "g5"));
  EXPECT_EQ(r5.skill().content().golden_workflow(), "b");
}

TEST(SkillBankTest, NextGroupCreditGoesToThePreviousGroupsSkill) {
  ASSERT_OK_AND_ASSIGN(auto bank, SkillBank::Open(":memory:", std::sqrt(2.0), Credit::kNextGroup, 0));
  const skillsd::v1::SkillContent c = Content("Up");
  ASSERT_TRUE(bank->CompleteTrajectory(Traj("a", "task"), &c, "rules", "", false).ok());
  ASSERT_OK_AND_ASSIGN(auto skills, bank->List("task", 0));
  const std::string id = skills[0].skill_id();
  skillsd::v1::ReportOutcomeRequest first;
  first.set_task_id("task");
  first.set_group_id("g1");
  first.set_skill_id(id);
  first.set_mean_reward(1.0);
  ASSERT_TRUE(bank->ReportOutcome(first).ok());
  ASSERT_OK_AND_ASSIGN(skills, bank->List("task", 0));
  EXPECT_EQ(skills[0].stats().outcomes(), 0);  // not its own group's reward
  skillsd::v1::ReportOutcomeRequest next = first;
  next.set_group_id("g2");
  next.clear_skill_id();
  next.set_mean_reward(7.0);
  ASSERT_TRUE(bank->ReportOutcome(next).ok());
  ASSERT_OK_AND_ASSIGN(skills, bank->List("task", 0));
  EXPECT_EQ(skills[0].stats().outcomes(), 1);
  EXPECT_DOUBLE_EQ(skills[0].stats().reward_sum(), 7.0);
  next.set_mean_reward(std::nan(""));
  next.set_group_id("g3");
  EXPECT_THAT(bank->ReportOutcome(next), StatusIs(absl::StatusCode::kInvalidArgument));
}

// A one-connection-at-a-time HTTP server that answers each POST with the next canned (status, body).
class FakeHttpServer {
 public:
  explicit FakeHttpServer(std::vector<std::pair<int, std::string>> replies) : replies_(std::move(replies)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeHttpServer() {
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
  }
  int port() const { return port_; }
  int calls() const { return calls_.load(); }
  std::string last_request() const { return last_; }

 private:
  void Serve() {
    for (size_t i = 0; i < replies_.size(); ++i) {
      const int c = accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      std::string request;
      char buf[4096];
      // Read headers, then Content-Length bytes of body.
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      const size_t cl = request.find("Content-Length: ");
      const size_t body_at = request.find("\r\n\r\n") + 4;
      const size_t want = cl == std::string::npos ? 0 : std::stoul(request.substr(cl + 16));
      while (request.size() < body_at + want) {
        const ssize_t n = read(c, buf, sizeof(buf));
        if (n <= 0) break;
        request.append(buf, static_cast<size_t>(n));
      }
      last_ = request;
      ++calls_;
      const std::string reply = absl::StrCat("HTTP/1.1 ", replies_[i].first, " X\r\nContent-Type: application/json\r\n",
                                             "Content-Length: ", replies_[i].second.size(),
                                             "\r\nConnection: close\r\n\r\n", replies_[i].second);
      (void)!write(c, reply.data(), reply.size());
      close(c);
    }
  }
  std::vector<std::pair<int, std::string>> replies_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> calls_{0};
  std::string last_;
  std::thread thread_;
};

std::string Completion(const std::string& content) {
  std::string quoted;
  for (char ch : content) {
    if (ch == '"' || ch == '\\') quoted += '\\';
    quoted += ch;
  }
  return absl::StrCat("{\"choices\": [{\"message\": {\"role\": \"assistant\", \"content\": \"", quoted, "\"}}]}");
}

TEST(OpenAiSummarizerTest, RetriesMalformedOutputAndTransientErrors) {
  FakeHttpServer server({{200, Completion("I think the skill is: push boxes")},
                         {503, "overloaded"},
                         {200, Completion("{\"success_analysis\": \"a\", \"mistake_analysis\": \"b\", "
                                          "\"golden_workflow\": \"Up, Left\"}")}});
  OpenAiOptions options;
  options.url = absl::StrCat("http://127.0.0.1:", server.port(), "/v1");
  options.model = "judge";
  options.api_key = "secret";
  options.initial_backoff = absl::Milliseconds(1);
  options.requests_per_second = 0;
  OpenAiSummarizer summarizer(options);
  skillsd::v1::Trajectory t = Traj("t", "sokoban/train/3");
  AddEvent(&t, "Up", true);
  ASSERT_OK_AND_ASSIGN(skillsd::v1::SkillContent skill, summarizer.Summarize(t));
  EXPECT_EQ(skill.golden_workflow(), "Up, Left");
  EXPECT_EQ(server.calls(), 3);
  EXPECT_THAT(server.last_request(), HasSubstr("POST /v1/chat/completions"));
  EXPECT_THAT(server.last_request(), HasSubstr("Authorization: Bearer secret"));
  EXPECT_THAT(server.last_request(), HasSubstr("\"model\": \"judge\""));
  EXPECT_THAT(server.last_request(), HasSubstr("sokoban/train/3"));
}

TEST(OpenAiSummarizerTest, GivesUpAfterMaxAttemptsAndStopsOnPermanentErrors) {
  FakeHttpServer server({{500, "x"}, {500, "x"}, {401, "{\"error\": \"bad key\"}"}});
  OpenAiOptions options;
  options.url = absl::StrCat("http://127.0.0.1:", server.port(), "/v1");
  options.model = "m";
  options.max_attempts = 2;
  options.initial_backoff = absl::Milliseconds(1);
  options.requests_per_second = 0;
  OpenAiSummarizer summarizer(options);
  EXPECT_THAT(summarizer.Summarize(Traj("t", "x")), StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_EQ(server.calls(), 2);
  EXPECT_THAT(summarizer.Summarize(Traj("t", "x")), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("401")));
  EXPECT_EQ(server.calls(), 3);
}

TEST(SkillServiceTest, SummarisesSubmittedTrajectoriesInTheBackground) {
  ASSERT_OK_AND_ASSIGN(auto bank, SkillBank::Open(":memory:", std::sqrt(2.0), Credit::kNextGroup, 0));
  ASSERT_OK_AND_ASSIGN(auto service, SkillServiceImpl::Create(std::move(bank), std::make_unique<RulesSummarizer>(), 4));
  skillsd::v1::SubmitTrajectoriesRequest request;
  skillsd::v1::Trajectory t = Traj("t1", "task");
  AddEvent(&t, "Up", true, true);
  t.mutable_stats()->set_solved(true);
  *request.add_trajectories() = t;
  skillsd::v1::SubmitTrajectoriesResponse response;
  ASSERT_TRUE(service->SubmitTrajectories(nullptr, &request, &response).ok());
  EXPECT_EQ(response.queued(), 1);
  service->WaitIdle();
  ASSERT_TRUE(service->SubmitTrajectories(nullptr, &request, &response).ok());
  EXPECT_EQ(response.duplicates(), 1);
  skillsd::v1::SelectSkillRequest select;
  select.set_task_id("task");
  select.set_selection_id("g1");
  skillsd::v1::SelectSkillResponse selected;
  ASSERT_TRUE(service->SelectSkill(nullptr, &select, &selected).ok());
  EXPECT_EQ(selected.skill().content().golden_workflow(), "Up");
  // Backpressure: more than the queue holds is refused, and nothing of it is stored.
  skillsd::v1::SubmitTrajectoriesRequest big;
  for (int i = 0; i < 5; ++i) *big.add_trajectories() = Traj(absl::StrCat("big", i), "task");
  EXPECT_EQ(service->SubmitTrajectories(nullptr, &big, &response).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  skillsd::v1::GetSkillStatusResponse status;
  ASSERT_TRUE(service->GetStatus(nullptr, nullptr, &status).ok());
  EXPECT_EQ(status.skills(), 1);
  EXPECT_EQ(status.queue_depth(), 0);
}

}  // namespace
}  // namespace skillsd::skill
