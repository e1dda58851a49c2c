// The conformance suite passes against our own env worker, and each way a worker can break the contract fails the
// checks that cover it and no other: a suite that cannot fail would check nothing.
#include "tools/env_check.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/channel.h"
#include "core/server.h"
#include "core/status_matchers.h"
#include "env_workers/env_config.h"
#include "env_workers/env_service.h"
#include "env_workers/sokoban_env.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

namespace v1 = ::skillsd::v1;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAreArray;

enum class Fault {
  kNone,
  kUnknownSessionIsOk,     // Step on an unknown session answers OK with an empty observation
  kBatchDropsFailedItems,  // BatchStep leaves out the items that failed
  kSpecCountsWrong,        // GetSpec reports one more training level than it lists
  kInvalidAnswerIsError,   // Step refuses an unparsable answer instead of playing it as an invalid action
};

// Our EnvServiceImpl with one fault put in front of it.
class FaultyEnvService final : public v1::EnvService::Service {
 public:
  FaultyEnvService(EnvServiceImpl* real, Fault fault) : real_(real), fault_(fault) {}

  grpc::Status GetSpec(grpc::ServerContext* c, const v1::GetSpecRequest* request,
                       v1::GetSpecResponse* response) override {
    grpc::Status status = real_->GetSpec(c, request, response);
    if (fault_ == Fault::kSpecCountsWrong) response->set_train_levels(response->train_levels() + 1);
    return status;
  }
  grpc::Status CreateSession(grpc::ServerContext* c, const v1::CreateSessionRequest* request,
                             v1::CreateSessionResponse* response) override {
    return real_->CreateSession(c, request, response);
  }
  grpc::Status Reset(grpc::ServerContext* c, const v1::ResetRequest* request, v1::ResetResponse* response) override {
    return real_->Reset(c, request, response);
  }
  grpc::Status Step(grpc::ServerContext* c, const v1::StepRequest* request, v1::StepResponse* response) override {
    if (fault_ == Fault::kInvalidAnswerIsError && !absl::StrContains(request->answer(), "<answer>")) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "cannot parse the answer");
    }
    grpc::Status status = real_->Step(c, request, response);
    if (fault_ == Fault::kUnknownSessionIsOk && status.error_code() == grpc::StatusCode::NOT_FOUND) {
      return grpc::Status::OK;
    }
    return status;
  }
  grpc::Status BatchStep(grpc::ServerContext* c, const v1::BatchStepRequest* request,
                         v1::BatchStepResponse* response) override {
    grpc::Status status = real_->BatchStep(c, request, response);
    if (fault_ == Fault::kBatchDropsFailedItems) {
      v1::BatchStepResponse kept;
      for (const v1::BatchStepResult& r : response->results()) {
        if (r.status().code() == 0) *kept.add_results() = r;
      }
      *response = kept;
    }
    return status;
  }
  grpc::Status CloseSession(grpc::ServerContext* c, const v1::CloseSessionRequest* request,
                            v1::CloseSessionResponse* response) override {
    return real_->CloseSession(c, request, response);
  }

 private:
  EnvServiceImpl* real_;
  const Fault fault_;
};

class EnvCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(auto levels, BuildLevelSet(EnvConfig()));
    const auto env_options = SokobanEnvOptionsFromConfig(EnvConfig());
    EnvServiceOptions options;
    options.max_batch_size = 8;
    options.max_sessions = 64;
    real_ = std::make_unique<EnvServiceImpl>(
        [levels, env_options] { return std::make_unique<sokoban::SokobanEnv>(levels, env_options); }, options);
  }

  // Serves the env with `fault` and runs the suite against it; returns the names of the checks that failed.
  std::set<std::string> FailingChecks(Fault fault, EnvCheckReport* out = nullptr, bool serving = true) {
    FaultyEnvService service(real_.get(), fault);
    ServerOptions server_options;
    server_options.address = "127.0.0.1:0";
    server_options.drain_grace = absl::ZeroDuration();
    server_options.max_message_bytes = kLimit;
    auto server = GrpcServer::Start(server_options, {&service});
    EXPECT_OK(server.status());
    if (!server.ok()) return {"no server"};
    (*server)->SetServing(serving);
    ChannelOptions channel_options;
    channel_options.max_message_bytes = kLimit + (1 << 20);
    auto channel =
        CreateChannel(absl::StrCat("127.0.0.1:", (*server)->port()), channel_options, {DescriptorOf<v1::EnvService>()});
    EXPECT_OK(channel.status());
    EnvCheckOptions options;
    options.concurrent_sessions = 8;
    options.max_message_bytes = kLimit;
    EnvCheckReport report = RunEnvChecks(*channel, options);
    std::set<std::string> failing;
    for (const EnvCheckResult& c : report.checks) {
      if (!c.passed()) failing.insert(c.name);
    }
    EXPECT_EQ(report.passed(), failing.empty());
    if (out != nullptr) *out = report;
    return failing;
  }

  static constexpr int kLimit = 4 << 20;  // a smaller message limit than the default keeps the test light
  std::unique_ptr<EnvServiceImpl> real_;
};

TEST_F(EnvCheckTest, OurEnvWorkerPassesEveryCheck) {
  EnvCheckReport report;
  EXPECT_THAT(FailingChecks(Fault::kNone, &report), ::testing::IsEmpty()) << FormatEnvCheckReport(report);
  std::vector<std::string> names;
  for (const EnvCheckResult& c : report.checks) names.push_back(c.name);
  EXPECT_THAT(names, ElementsAre("health", "spec", "create", "reset", "step", "oracle", "malformed", "sessions",
                                 "batch", "idempotent", "limits", "concurrency"));
  EXPECT_THAT(report.summary, HasSubstr("sokoban: "));
  EXPECT_EQ(real_->num_sessions(), 0) << "the suite closes every session it opens";
  const std::string text = FormatEnvCheckReport(report);
  EXPECT_THAT(text, HasSubstr("  PASS  batch"));
  EXPECT_THAT(text, HasSubstr("12 of 12 checks passed"));
}

TEST_F(EnvCheckTest, EachFaultFailsTheCheckThatCoversIt) {
  EnvCheckReport report;
  EXPECT_THAT(FailingChecks(Fault::kUnknownSessionIsOk, &report),
              UnorderedElementsAreArray({"sessions", "idempotent"}));
  EXPECT_THAT(FormatEnvCheckReport(report), HasSubstr("Step(unknown session): OK, want NOT_FOUND"));

  EXPECT_THAT(FailingChecks(Fault::kBatchDropsFailedItems, &report), UnorderedElementsAreArray({"batch"}));
  EXPECT_THAT(FormatEnvCheckReport(report), HasSubstr("BatchStep of 6 items returned 2 results"));

  EXPECT_THAT(FailingChecks(Fault::kSpecCountsWrong, &report), UnorderedElementsAreArray({"spec"}));
  EXPECT_THAT(FormatEnvCheckReport(report), HasSubstr("train_tasks but train_levels"));

  EXPECT_THAT(FailingChecks(Fault::kInvalidAnswerIsError, &report), UnorderedElementsAreArray({"malformed", "limits"}));
  EXPECT_THAT(FormatEnvCheckReport(report), HasSubstr("Step(prose): INVALID_ARGUMENT: cannot parse the answer"));
  EXPECT_FALSE(report.passed());
}

TEST_F(EnvCheckTest, NotServingFailsTheHealthCheck) {
  EnvCheckReport report;
  EXPECT_THAT(FailingChecks(Fault::kNone, &report, /*serving=*/false), UnorderedElementsAreArray({"health"}));
  EXPECT_THAT(FormatEnvCheckReport(report), HasSubstr("NOT_SERVING, want SERVING"));
}

TEST(EnvCheckNoServerTest, NoServerIsAFailedReportNotACrash) {
  ASSERT_OK_AND_ASSIGN(auto channel, CreateChannel("127.0.0.1:1", {}, {DescriptorOf<v1::EnvService>()}));
  EnvCheckOptions options;
  options.call_deadline = absl::Milliseconds(500);
  EnvCheckReport report = RunEnvChecks(channel, options);
  EXPECT_FALSE(report.passed());
  ASSERT_EQ(report.checks.size(), 2u);  // health and spec; nothing else can run without the spec
  EXPECT_THAT(report.summary, HasSubstr("GetSpec failed"));
  EXPECT_FALSE(report.checks[1].passed());
}

}  // namespace
}  // namespace skillsd
