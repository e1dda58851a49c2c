// bfloat16 autocast regions that build against LibTorch 1.13 (Debian) and 2.x, whose autocast APIs differ.
// Header-only.
#ifndef SKILLSD_MODEL_AUTOCAST_H_
#define SKILLSD_MODEL_AUTOCAST_H_

#include <ATen/autocast_mode.h>
#include <torch/torch.h>
#include <torch/version.h>

namespace skillsd::model {

// Whether autocast is on for `device`'s type in this thread, and the dtype it casts to.
inline bool AutocastEnabled(const torch::Device& device, torch::ScalarType* dtype = nullptr) {
  const bool cuda = device.is_cuda();
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  const at::DeviceType type = cuda ? at::kCUDA : at::kCPU;
  if (dtype != nullptr) *dtype = at::autocast::get_autocast_dtype(type);
  return at::autocast::is_autocast_enabled(type);
#else
  if (dtype != nullptr) *dtype = cuda ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
  return cuda ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}

// Mixed precision for a region: matrix products run in `dtype` (bfloat16) while parameters, their gradients and
// the optimizer stay float32. Restores the previous state on exit; casts of the weights are cached for the
// outermost region. CUDA is what it is for; CPU autocast exists too (tests use it).
class AutocastRegion {
 public:
  AutocastRegion(bool enabled, const torch::Device& device, torch::ScalarType dtype = torch::kBFloat16)
      : enabled_(enabled), cuda_(device.is_cuda()) {
    if (!enabled_) return;
    was_enabled_ = AutocastEnabled(device, &was_dtype_);
    Set(true, dtype);
    at::autocast::increment_nesting();
  }
  ~AutocastRegion() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    Set(was_enabled_, was_dtype_);
  }
  AutocastRegion(const AutocastRegion&) = delete;
  AutocastRegion& operator=(const AutocastRegion&) = delete;

 private:
  void Set(bool on, torch::ScalarType dtype) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    const at::DeviceType type = cuda_ ? at::kCUDA : at::kCPU;
    at::autocast::set_autocast_enabled(type, on);
    at::autocast::set_autocast_dtype(type, dtype);
#else
    if (cuda_) {
      at::autocast::set_enabled(on);
      at::autocast::set_autocast_gpu_dtype(dtype);
    } else {
      at::autocast::set_cpu_enabled(on);
      at::autocast::set_autocast_cpu_dtype(dtype);
    }
#endif
  }

  const bool enabled_;
  const bool cuda_;
  bool was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kBFloat16;
};

}  // namespace skillsd::model

#endif  // SKILLSD_MODEL_AUTOCAST_H_
