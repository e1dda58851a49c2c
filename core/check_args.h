// Argument lookup for the ML core's check binaries (model_check, learner_check), which build without Abseil
// flags so they can be built alone against another LibTorch. Header-only.
#ifndef SKILLSD_CORE_CHECK_ARGS_H_
#define SKILLSD_CORE_CHECK_ARGS_H_

#include <string>

namespace skillsd {

// The value after "--NAME", or `fallback`.
inline std::string CheckArg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return fallback;
}

// Whether "--NAME" is present.
inline bool CheckFlag(int argc, char** argv, const std::string& name) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i] == "--" + name) return true;
  }
  return false;
}

}  // namespace skillsd

#endif  // SKILLSD_CORE_CHECK_ARGS_H_
