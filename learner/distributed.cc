#include "learner/distributed.h"

#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace skillsd::learner {

struct DataParallel::Impl {
  c10::intrusive_ptr<::c10d::ProcessGroup> group;
};

namespace {

absl::StatusOr<c10::intrusive_ptr<::c10d::ProcessGroup>> MakeGloo(c10::intrusive_ptr<::c10d::Store> store, int rank,
                                                                  int world_size) {
  return CatchExceptions("creating the Gloo process group",
                         [&]() -> absl::StatusOr<c10::intrusive_ptr<::c10d::ProcessGroup>> {
                           auto options = ::c10d::ProcessGroupGloo::Options::create();
                           options->devices.push_back(::c10d::ProcessGroupGloo::createDefaultDevice());
                           return c10::intrusive_ptr<::c10d::ProcessGroup>(
                               c10::make_intrusive<::c10d::ProcessGroupGloo>(store, rank, world_size, options));
                         });
}

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int parsed = 0;
  return value != nullptr && absl::SimpleAtoi(value, &parsed) ? parsed : fallback;
}

}  // namespace

DataParallel::DataParallel(int rank, int world_size, std::unique_ptr<Impl> impl)
    : rank_(rank), world_size_(world_size), impl_(std::move(impl)) {}

DataParallel::~DataParallel() = default;

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::FromEnvironment() {
  const int world_size = EnvInt("WORLD_SIZE", 1);
  const int rank = EnvInt("RANK", 0);
  if (world_size <= 1) return std::unique_ptr<DataParallel>(new DataParallel(0, 1, std::make_unique<Impl>()));
  if (rank < 0 || rank >= world_size) return absl::InvalidArgumentError("RANK must be in [0, WORLD_SIZE)");
  const char* addr = std::getenv("MASTER_ADDR");
  const int port = EnvInt("MASTER_PORT", 29500);
  if (addr == nullptr) return absl::InvalidArgumentError("MASTER_ADDR is required when WORLD_SIZE > 1");
  auto store =
      CatchExceptions("connecting to the rendezvous store", [&]() -> absl::StatusOr<c10::intrusive_ptr<::c10d::Store>> {
        ::c10d::TCPStoreOptions options;
        options.port = static_cast<uint16_t>(port);
        options.isServer = rank == 0;
        options.numWorkers = world_size;
        return c10::intrusive_ptr<::c10d::Store>(c10::make_intrusive<::c10d::TCPStore>(addr, options));
      });
  if (!store.ok()) return store.status();
  ASSIGN_OR_RETURN(auto group, MakeGloo(*store, rank, world_size));
  auto impl = std::make_unique<Impl>();
  impl->group = group;
  return std::unique_ptr<DataParallel>(new DataParallel(rank, world_size, std::move(impl)));
}

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::WithFileStore(const std::string& path, int rank,
                                                                          int world_size) {
  if (world_size <= 1) return std::unique_ptr<DataParallel>(new DataParallel(0, 1, std::make_unique<Impl>()));
  auto store = CatchExceptions("opening the file store", [&]() -> absl::StatusOr<c10::intrusive_ptr<::c10d::Store>> {
    return c10::intrusive_ptr<::c10d::Store>(c10::make_intrusive<::c10d::FileStore>(path, world_size));
  });
  if (!store.ok()) return store.status();
  ASSIGN_OR_RETURN(auto group, MakeGloo(*store, rank, world_size));
  auto impl = std::make_unique<Impl>();
  impl->group = group;
  return std::unique_ptr<DataParallel>(new DataParallel(rank, world_size, std::move(impl)));
}

double DataParallel::AllReduceSum(double value) {
  if (world_size_ == 1) return value;
  std::vector<at::Tensor> t = {torch::full({1}, value, torch::kFloat64)};
  impl_->group->allreduce(t)->wait();
  return t[0].item<double>();
}

void DataParallel::AllReduceSumGradients(const std::vector<torch::Tensor>& parameters) {
  if (world_size_ == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  for (const auto& p : parameters) {
    grads.push_back(p.grad().defined() ? p.grad().reshape({-1}) : torch::zeros({p.numel()}, p.options()));
  }
  std::vector<at::Tensor> flat = {torch::cat(grads)};
  impl_->group->allreduce(flat)->wait();
  int64_t offset = 0;
  for (const auto& p : parameters) {
    const int64_t n = p.numel();
    const torch::Tensor slice = flat[0].narrow(0, offset, n).view(p.sizes());
    if (p.grad().defined()) {
      p.mutable_grad().copy_(slice);
    } else {
      p.mutable_grad() = slice.clone();
    }
    offset += n;
  }
}

void DataParallel::BroadcastParameters(const std::vector<torch::Tensor>& parameters) {
  if (world_size_ == 1) return;
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> values;
  for (const auto& p : parameters) values.push_back(p.detach().reshape({-1}));
  std::vector<at::Tensor> flat = {torch::cat(values)};
  impl_->group->broadcast(flat)->wait();
  int64_t offset = 0;
  for (const auto& p : parameters) {
    p.detach().copy_(flat[0].narrow(0, offset, p.numel()).view(p.sizes()));
    offset += p.numel();
  }
}

}  // namespace skillsd::learner
