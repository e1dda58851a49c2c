// DataParallel for builds without a c10d backend (LibTorch built without Gloo headers): one rank only; asking
// for more is a clear error.
#include "learner/distributed.h"

#include <cstdlib>

namespace skillsd::learner {

struct DataParallel::Impl {};

DataParallel::DataParallel(int rank, int world_size, std::unique_ptr<Impl> impl)
    : rank_(rank), world_size_(world_size), impl_(std::move(impl)) {}
DataParallel::~DataParallel() = default;

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::FromEnvironment() {
  const char* world = std::getenv("WORLD_SIZE");
  if (world != nullptr && std::atoi(world) > 1) {
    return absl::UnimplementedError("this build has no c10d backend (Gloo); data parallelism is unavailable");
  }
  return std::unique_ptr<DataParallel>(new DataParallel(0, 1, std::make_unique<Impl>()));
}

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::WithFileStore(const std::string&, int, int world_size) {
  if (world_size > 1) return absl::UnimplementedError("this build has no c10d backend (Gloo)");
  return std::unique_ptr<DataParallel>(new DataParallel(0, 1, std::make_unique<Impl>()));
}

double DataParallel::AllReduceSum(double value) { return value; }
void DataParallel::AllReduceSumGradients(const std::vector<torch::Tensor>&) {}
void DataParallel::BroadcastParameters(const std::vector<torch::Tensor>&) {}

}  // namespace skillsd::learner
