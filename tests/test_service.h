// An EnvService for testing the server skeleton and channel factory (not the real environment):
//   Step("sleep:N")  sleeps N ms (returns early with CANCELLED if the call is cancelled);
//   Step("big:N")    answers with an observation of N bytes;
//   Step(other)      echoes the answer's length;
//   GetSpec / CreateSession fail with UNAVAILABLE while `unavailable_budget` > 0, counting every call.
#ifndef SKILLSD_TESTS_TEST_SERVICE_H_
#define SKILLSD_TESTS_TEST_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "skillsd/v1/env.grpc.pb.h"

namespace skillsd::testing {

class TestEnvService final : public skillsd::v1::EnvService::Service {
 public:
  std::atomic<int> unavailable_budget{0};
  std::atomic<int> get_spec_calls{0};
  std::atomic<int> create_calls{0};
  std::atomic<int> steps_finished{0};

  grpc::Status GetSpec(grpc::ServerContext*, const skillsd::v1::GetSpecRequest*,
                       skillsd::v1::GetSpecResponse* response) override {
    ++get_spec_calls;
    if (TakeUnavailable()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
    response->set_env("test");
    return grpc::Status::OK;
  }

  grpc::Status CreateSession(grpc::ServerContext*, const skillsd::v1::CreateSessionRequest*,
                             skillsd::v1::CreateSessionResponse* response) override {
    ++create_calls;
    if (TakeUnavailable()) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "try again");
    response->set_session_id("s1");
    return grpc::Status::OK;
  }

  grpc::Status Step(grpc::ServerContext* context, const skillsd::v1::StepRequest* request,
                    skillsd::v1::StepResponse* response) override {
    const std::string& answer = request->answer();
    int n = 0;
    if (answer.rfind("sleep:", 0) == 0 && absl::SimpleAtoi(answer.substr(6), &n)) {
      const absl::Time until = absl::Now() + absl::Milliseconds(n);
      while (absl::Now() < until) {
        if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
        absl::SleepFor(absl::Milliseconds(5));
      }
      response->mutable_observation()->set_text("slept");
    } else if (answer.rfind("big:", 0) == 0 && absl::SimpleAtoi(answer.substr(4), &n)) {
      response->mutable_observation()->set_text(std::string(static_cast<size_t>(n), 'x'));
    } else {
      response->mutable_observation()->set_text(absl::StrCat(answer.size()));
    }
    ++steps_finished;
    return grpc::Status::OK;
  }

 private:
  bool TakeUnavailable() {
    int budget = unavailable_budget.load();
    while (budget > 0) {
      if (unavailable_budget.compare_exchange_weak(budget, budget - 1)) return true;
    }
    return false;
  }
};

}  // namespace skillsd::testing

#endif  // SKILLSD_TESTS_TEST_SERVICE_H_
