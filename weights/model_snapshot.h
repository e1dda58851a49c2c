// Between models and snapshots (LibTorch): the learner turns its weights into a snapshot (optionally bf16 on
// the wire), and subscribers install snapshots into a ModelHolder, which swaps whole models so readers see the
// old or the new weights, never a mix.
#ifndef SKILLSD_WEIGHTS_MODEL_SNAPSHOT_H_
#define SKILLSD_WEIGHTS_MODEL_SNAPSHOT_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "model/transformer.h"
#include "weights/snapshot.h"

namespace skillsd::weights {

// The weights of `model` as snapshot `version`, in `wire_dtype` (DTYPE_F32 or DTYPE_BF16), checksummed.
absl::StatusOr<Snapshot> SnapshotFromModel(model::CausalLMImpl& model, int64_t version, skillsd::v1::DType wire_dtype);

// Thread-safe.
class ModelHolder {
 public:
  ModelHolder(model::CausalLM initial, int64_t version = -1);

  // The current model; keep the pointer for as long as you use the weights.
  std::shared_ptr<model::CausalLM> Current() const;
  int64_t version() const;
  // The current model and its version, read together.
  std::pair<std::shared_ptr<model::CausalLM>, int64_t> CurrentWithVersion() const;

  // Builds a new model from `snapshot` (same architecture required: config, names, shapes) on the current
  // model's device and dtype, then swaps it in. INVALID_ARGUMENT (and nothing changes) otherwise.
  absl::Status Install(const Snapshot& snapshot);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<model::CausalLM> current_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<model::CausalLM> spare_ ABSL_GUARDED_BY(mu_);  // the previous model, reused when unreferenced
  int64_t version_ ABSL_GUARDED_BY(mu_);
};

}  // namespace skillsd::weights

#endif  // SKILLSD_WEIGHTS_MODEL_SNAPSHOT_H_
