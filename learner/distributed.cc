#include "learner/distributed.h"

#include <torch/version.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/logging.h"
#include "core/status.h"

#if defined(SKILLSD_WITH_GLOO) || defined(SKILLSD_WITH_NCCL)
#define SKILLSD_HAVE_C10D 1
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif
#ifdef SKILLSD_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef SKILLSD_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

namespace skillsd::learner {

#ifdef SKILLSD_HAVE_C10D
// LibTorch 2.x splits the user-facing ProcessGroup from the per-backend Backend that Gloo and NCCL implement.
#if TORCH_VERSION_MAJOR >= 2
using Collective = ::c10d::Backend;
#else
using Collective = ::c10d::ProcessGroup;
#endif
#endif

struct DataParallel::Impl {
  torch::Device device = torch::kCPU;  // where collective buffers live (NCCL: the rank's GPU)
  const char* backend = "none";
#ifdef SKILLSD_HAVE_C10D
  c10::intrusive_ptr<Collective> group;  // null: one rank, collectives are no-ops
#endif
  bool has_group() const {
#ifdef SKILLSD_HAVE_C10D
    return static_cast<bool>(group);
#else
    return false;
#endif
  }
};

namespace {

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int parsed = 0;
  return value != nullptr && absl::SimpleAtoi(value, &parsed) ? parsed : fallback;
}

// How long a collective (and the rendezvous) may wait for the other ranks before failing: a dead rank then
// ends the survivors, and the launcher (or Kubernetes) restarts them all from rank 0's checkpoint. Rank 0 sends
// a heartbeat while it waits for groups, so idle time does not count. SKILLSD_COLLECTIVE_TIMEOUT_S, default 300.
[[maybe_unused]] std::chrono::milliseconds CollectiveTimeout() {
  return std::chrono::milliseconds(1000LL * std::max(1, EnvInt("SKILLSD_COLLECTIVE_TIMEOUT_S", 300)));
}

}  // namespace

bool DataParallel::HasGloo() {
#ifdef SKILLSD_WITH_GLOO
  return true;
#else
  return false;
#endif
}

bool DataParallel::HasNccl() {
#ifdef SKILLSD_WITH_NCCL
  return true;
#else
  return false;
#endif
}

DataParallel::DataParallel(int rank, int world_size, std::unique_ptr<Impl> impl)
    : rank_(rank), world_size_(world_size), impl_(std::move(impl)) {}

DataParallel::~DataParallel() {
#if defined(SKILLSD_WITH_NCCL) && (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2))
  // NCCL communicators must be shut down explicitly: destroying the group without it blocks at exit.
  if (impl_ != nullptr && impl_->group && std::strcmp(impl_->backend, "nccl") == 0) {
    static_cast<::c10d::ProcessGroupNCCL*>(impl_->group.get())->shutdown();
  }
#endif
}

const char* DataParallel::backend() const { return impl_->backend; }

namespace {

absl::Status CheckBackend(const torch::Device& device) {
  if (device.is_cuda() && !DataParallel::HasNccl()) {
    return absl::UnimplementedError("data parallelism on CUDA needs NCCL, and this build has none");
  }
  if (!device.is_cuda() && !DataParallel::HasGloo()) {
    return absl::UnimplementedError("data parallelism on the CPU needs Gloo (libgloo-dev), and this build has none");
  }
  return absl::OkStatus();
}

#ifdef SKILLSD_HAVE_C10D
absl::StatusOr<std::unique_ptr<DataParallel::Impl>> MakeGroup(c10::intrusive_ptr<::c10d::Store> store, int rank,
                                                              int world_size, const torch::Device& device) {
  RETURN_IF_ERROR(CheckBackend(device));
  auto impl = std::make_unique<DataParallel::Impl>();
  impl->device = device;
  const std::chrono::milliseconds timeout = CollectiveTimeout();
  RETURN_IF_ERROR(CatchExceptions("creating the process group", [&]() -> absl::Status {
#ifdef SKILLSD_WITH_NCCL
    if (device.is_cuda()) {
      auto options = ::c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      impl->group = c10::make_intrusive<::c10d::ProcessGroupNCCL>(store, rank, world_size, options);
      impl->backend = "nccl";
      return absl::OkStatus();
    }
#endif
#ifdef SKILLSD_WITH_GLOO
    auto options = ::c10d::ProcessGroupGloo::Options::create(timeout);
    options->devices.push_back(::c10d::ProcessGroupGloo::createDefaultDevice());
    impl->group = c10::make_intrusive<::c10d::ProcessGroupGloo>(store, rank, world_size, options);
    impl->backend = "gloo";
#endif
    return absl::OkStatus();
  }));
  return impl;
}
#endif

}  // namespace

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::FromEnvironment(const torch::Device& device) {
  const int world_size = EnvInt("WORLD_SIZE", 1);
  const int rank = EnvInt("RANK", 0);
  if (world_size <= 1) return std::unique_ptr<DataParallel>(new DataParallel(0, 1, std::make_unique<Impl>()));
  if (rank < 0 || rank >= world_size) return absl::InvalidArgumentError("RANK must be in [0, WORLD_SIZE)");
  RETURN_IF_ERROR(CheckBackend(device));
#ifdef SKILLSD_HAVE_C10D
  const char* addr = std::getenv("MASTER_ADDR");
  const int port = EnvInt("MASTER_PORT", 29500);
  if (addr == nullptr) return absl::InvalidArgumentError("MASTER_ADDR is required when WORLD_SIZE > 1");
  if (port <= 0 || port > 65535) return absl::InvalidArgumentError("MASTER_PORT must be in [1, 65535]");
  auto store =
      CatchExceptions("connecting to the rendezvous store", [&]() -> absl::StatusOr<c10::intrusive_ptr<::c10d::Store>> {
        ::c10d::TCPStoreOptions options;
        options.port = static_cast<uint16_t>(port);
        options.isServer = rank == 0;
        options.numWorkers = world_size;
        options.timeout = CollectiveTimeout();
        return c10::intrusive_ptr<::c10d::Store>(c10::make_intrusive<::c10d::TCPStore>(addr, options));
      });
  if (!store.ok()) return store.status();
  // A rank restarted while rank 0 lives on would find the store of rank 0's old group (whose keys point at
  // connections that are gone) and hang in the rendezvous. Rank 0 marks its store once its group is formed; a
  // rank that finds the mark waits until that rank 0 notices the loss (its next collective fails, it exits, and
  // the store goes with it), then fails, so that it is restarted and meets the new rank 0.
  static const char kFormed[] = "skillsd/group_formed";
  if (rank != 0) {
    const absl::Time give_up = absl::Now() + absl::FromChrono(CollectiveTimeout());
    bool logged = false;
    while (true) {
      absl::StatusOr<bool> formed = CatchExceptions(
          "reading the rendezvous store", [&]() -> absl::StatusOr<bool> { return (*store)->check({kFormed}); });
      if (!formed.ok()) return absl::UnavailableError("rank 0 went away during the rendezvous; restart to rejoin");
      if (!*formed) break;
      if (absl::Now() > give_up) return absl::DeadlineExceededError("rank 0 kept its old group; restart to rejoin");
      if (!logged) {
        SKILLSD_LOG(WARNING) << "rank " << rank << ": rank 0 still has the group this rank left; waiting for it to "
                             << "restart";
        logged = true;
      }
      absl::SleepFor(absl::Seconds(1));
    }
  }
  ASSIGN_OR_RETURN(auto impl, MakeGroup(*store, rank, world_size, device));
  if (rank == 0) {
    RETURN_IF_ERROR(CatchExceptions("marking the rendezvous store", [&]() -> absl::Status {
      (*store)->set(kFormed, std::vector<uint8_t>{1});
      return absl::OkStatus();
    }));
  }
  return std::unique_ptr<DataParallel>(new DataParallel(rank, world_size, std::move(impl)));
#else
  return absl::UnimplementedError("this build has no c10d backend");
#endif
}

absl::StatusOr<std::unique_ptr<DataParallel>> DataParallel::WithFileStore(const std::string& path, int rank,
                                                                          int world_size, const torch::Device& device) {
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    return absl::InvalidArgumentError("need 0 <= rank < world_size");
  }
  RETURN_IF_ERROR(CheckBackend(device));
#ifdef SKILLSD_HAVE_C10D
  auto store = CatchExceptions("opening the file store", [&]() -> absl::StatusOr<c10::intrusive_ptr<::c10d::Store>> {
    return c10::intrusive_ptr<::c10d::Store>(c10::make_intrusive<::c10d::FileStore>(path, world_size));
  });
  if (!store.ok()) return store.status();
  ASSIGN_OR_RETURN(auto impl, MakeGroup(*store, rank, world_size, device));
  return std::unique_ptr<DataParallel>(new DataParallel(rank, world_size, std::move(impl)));
#else
  return absl::UnimplementedError("this build has no c10d backend");
#endif
}

double DataParallel::AllReduceSum(double value) {
  if (!impl_->has_group()) return value;
#ifdef SKILLSD_HAVE_C10D
  std::vector<at::Tensor> t = {torch::full({1}, value, torch::TensorOptions(torch::kFloat64).device(impl_->device))};
  impl_->group->allreduce(t)->wait();
  return t[0].item<double>();
#else
  return value;
#endif
}

void DataParallel::AllReduceSumGradients(const std::vector<torch::Tensor>& parameters) {
  if (!impl_->has_group()) return;
#ifdef SKILLSD_HAVE_C10D
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
#endif
}

void DataParallel::BroadcastParameters(const std::vector<torch::Tensor>& parameters) {
  if (!impl_->has_group()) return;
#ifdef SKILLSD_HAVE_C10D
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
#endif
}

void DataParallel::BroadcastBytes(std::string* bytes) {
  if (!impl_->has_group()) return;
#ifdef SKILLSD_HAVE_C10D
  const auto on_device = torch::TensorOptions().device(impl_->device);
  std::vector<at::Tensor> size = {
      torch::full({1}, rank_ == 0 ? static_cast<int64_t>(bytes->size()) : 0, on_device.dtype(torch::kInt64))};
  impl_->group->broadcast(size)->wait();
  const int64_t n = size[0].item<int64_t>();
  if (n == 0) {
    bytes->clear();
    return;
  }
  std::vector<at::Tensor> buffer = {rank_ == 0 ? torch::from_blob(bytes->data(), {n}, torch::kUInt8)
                                                     .to(impl_->device, /*non_blocking=*/false,
                                                         /*copy=*/true)
                                               : torch::empty({n}, on_device.dtype(torch::kUInt8))};
  impl_->group->broadcast(buffer)->wait();
  if (rank_ != 0) {
    const torch::Tensor host = buffer[0].to(torch::kCPU).contiguous();
    bytes->assign(reinterpret_cast<const char*>(host.data_ptr<uint8_t>()), static_cast<size_t>(n));
  }
#endif
}

}  // namespace skillsd::learner
