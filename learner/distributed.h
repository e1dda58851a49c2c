// Data parallelism for the learner over c10d process groups: Gloo for CPU ranks (Debian's LibTorch has it), NCCL
// for CUDA ranks (LibTorch built with CUDA and NCCL, e.g. the one inside a pip PyTorch). Every rank gets the same
// global batch and trains on its share; gradients are summed so that the update equals the one a single rank
// would make on the whole batch (the token-mean normalisation uses the global token count).
#ifndef SKILLSD_LEARNER_DISTRIBUTED_H_
#define SKILLSD_LEARNER_DISTRIBUTED_H_

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace skillsd::learner {

// Thread-compatible: one instance per rank; calls are collective (every rank makes the same calls in order).
class DataParallel {
 public:
  // From torchrun-style variables: RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT (TCP rendezvous, rank 0 hosts the
  // store). WORLD_SIZE unset or 1: a single rank with no process group. The backend follows `device`: NCCL for
  // CUDA, Gloo otherwise; UNIMPLEMENTED when this build lacks it.
  static absl::StatusOr<std::unique_ptr<DataParallel>> FromEnvironment(const torch::Device& device = torch::kCPU);
  // Rendezvous through a file shared by the ranks (tests, or a shared filesystem). Unlike FromEnvironment this
  // makes a process group even for one rank, so a single-GPU machine can exercise NCCL.
  static absl::StatusOr<std::unique_ptr<DataParallel>> WithFileStore(const std::string& path, int rank, int world_size,
                                                                     const torch::Device& device = torch::kCPU);
  // Which backends this build has.
  static bool HasGloo();
  static bool HasNccl();
  ~DataParallel();

  int rank() const { return rank_; }
  int world_size() const { return world_size_; }
  // "gloo", "nccl", or "none" (one rank, no process group).
  const char* backend() const;

  double AllReduceSum(double value);
  // Sums the gradients of `parameters` over the ranks, in place (one flattened buffer per call).
  void AllReduceSumGradients(const std::vector<torch::Tensor>& parameters);
  // Copies rank 0's values of `parameters` to every rank.
  void BroadcastParameters(const std::vector<torch::Tensor>& parameters);
  // Copies rank 0's `bytes` to every rank (the learner's groups, control decisions, checkpoints).
  void BroadcastBytes(std::string* bytes);

  struct Impl;  // opaque: the process group and where its buffers live

 private:
  DataParallel(int rank, int world_size, std::unique_ptr<Impl> impl);
  int rank_;
  int world_size_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_DISTRIBUTED_H_
