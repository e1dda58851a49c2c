#include "weights/model_snapshot.h"

#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace skillsd::weights {

absl::StatusOr<Snapshot> SnapshotFromModel(model::CausalLMImpl& model, int64_t version, skillsd::v1::DType wire_dtype) {
  if (wire_dtype != skillsd::v1::DTYPE_F32 && wire_dtype != skillsd::v1::DTYPE_BF16) {
    return absl::InvalidArgumentError("wire dtype must be F32 or BF16");
  }
  return CatchExceptions("snapshot", [&]() -> absl::StatusOr<Snapshot> {
    torch::NoGradGuard no_grad;
    Snapshot snapshot;
    snapshot.version = version;
    snapshot.model_config_json = model::ToJson(model.config());
    const torch::ScalarType type = wire_dtype == skillsd::v1::DTYPE_BF16 ? torch::kBFloat16 : torch::kFloat32;
    for (const auto& [name, tensor] : model.StateDict()) {
      const torch::Tensor t = tensor.detach().to(torch::kCPU, type).contiguous();
      SnapshotTensor out;
      out.name = name;
      out.dtype = wire_dtype;
      out.shape = t.sizes().vec();
      out.data.assign(static_cast<const char*>(t.data_ptr()), static_cast<size_t>(t.numel() * t.element_size()));
      snapshot.tensors.push_back(std::move(out));
    }
    ComputeChecksums(&snapshot);
    return snapshot;
  });
}

ModelHolder::ModelHolder(model::CausalLM initial, int64_t version)
    : current_(std::make_shared<model::CausalLM>(std::move(initial))), version_(version) {}

std::shared_ptr<model::CausalLM> ModelHolder::Current() const {
  absl::MutexLock lock(&mu_);
  return current_;
}

int64_t ModelHolder::version() const {
  absl::MutexLock lock(&mu_);
  return version_;
}

std::pair<std::shared_ptr<model::CausalLM>, int64_t> ModelHolder::CurrentWithVersion() const {
  absl::MutexLock lock(&mu_);
  return {current_, version_};
}

absl::Status ModelHolder::Install(const Snapshot& snapshot) {
  const std::shared_ptr<model::CausalLM> current = Current();
  const model::ModelConfig& config = (*current)->config();
  if (snapshot.model_config_json != model::ToJson(config)) {
    return absl::InvalidArgumentError(absl::StrCat("snapshot ", snapshot.version, " is for another architecture"));
  }
  return CatchExceptions("installing snapshot", [&]() -> absl::Status {
    // Views of the snapshot's bytes (no copy); LoadStateDict copies them into the parameters.
    model::TensorMap weights;
    for (const SnapshotTensor& t : snapshot.tensors) {
      const torch::ScalarType type = t.dtype == skillsd::v1::DTYPE_BF16  ? torch::kBFloat16
                                     : t.dtype == skillsd::v1::DTYPE_F16 ? torch::kFloat16
                                                                         : torch::kFloat32;
      weights[t.name] = torch::from_blob(const_cast<char*>(t.data.data()), t.shape, torch::TensorOptions().dtype(type));
    }
    // Double buffering: the model replaced by the previous install is reused once no reader holds it, so
    // steady-state installs copy weights instead of building (and randomly initialising) a new model.
    std::shared_ptr<model::CausalLM> target;
    {
      absl::MutexLock lock(&mu_);
      if (spare_ != nullptr && spare_.use_count() == 1) target = std::move(spare_);
    }
    if (target == nullptr) {
      target = std::make_shared<model::CausalLM>(config);
      (*target)->to((*current)->device(), (*current)->dtype());
      (*target)->eval();
    }
    RETURN_IF_ERROR((*target)->LoadStateDict(weights));
    absl::MutexLock lock(&mu_);
    if (snapshot.version <= version_) return absl::OkStatus();  // already newer
    spare_ = std::move(current_);
    current_ = std::move(target);
    version_ = snapshot.version;
    return absl::OkStatus();
  });
}

}  // namespace skillsd::weights
