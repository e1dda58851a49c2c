#include "core/status.h"

#include <stdexcept>

#include "core/grpc_status.h"
#include "core/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skillsd {
namespace {

using ::skillsd::testing::IsOk;
using ::skillsd::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError("odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int half, Half(x));
  ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

absl::Status CheckEven(int x) {
  RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST(StatusTest, Macros) {
  EXPECT_THAT(Quarter(8), IsOk());
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_THAT(Quarter(6), StatusIs(absl::StatusCode::kInvalidArgument, "odd"));
  EXPECT_THAT(CheckEven(3), Not(IsOk()));
  EXPECT_THAT(CheckEven(4), IsOk());
}

TEST(StatusTest, Annotate) {
  EXPECT_THAT(Annotate(absl::NotFoundError("x"), "loading"), StatusIs(absl::StatusCode::kNotFound, "loading: x"));
  EXPECT_THAT(Annotate(absl::OkStatus(), "loading"), IsOk());
}

TEST(StatusTest, CatchExceptions) {
  absl::Status s = CatchExceptions("parsing", []() -> absl::Status { throw std::runtime_error("boom"); });
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kInternal, HasSubstr("parsing: boom")));
  absl::StatusOr<int> v = CatchExceptions("x", []() -> absl::StatusOr<int> { return 3; });
  EXPECT_EQ(*v, 3);
}

TEST(StatusTest, GrpcShimRoundTrips) {
  for (int code = 0; code <= 16; ++code) {
    absl::Status s(static_cast<absl::StatusCode>(code), code == 0 ? "" : "message");
    grpc::Status g = ToGrpcStatus(s);
    EXPECT_EQ(static_cast<int>(g.error_code()), code);
    EXPECT_EQ(FromGrpcStatus(g), s);
  }
}

}  // namespace
}  // namespace skillsd
