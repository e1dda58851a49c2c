// Status helpers used everywhere: early-return macros for absl::Status and absl::StatusOr (Debian's Abseil
// 20220623 ships none), and a guard that turns exceptions from third-party code into a Status.
//
//   absl::Status Load(const std::string& path) {
//     RETURN_IF_ERROR(CheckPath(path));
//     ASSIGN_OR_RETURN(std::string bytes, ReadFile(path));
//     ...
//   }
#ifndef SKILLSD_CORE_STATUS_H_
#define SKILLSD_CORE_STATUS_H_

#include <exception>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define SKILLSD_STATUS_CONCAT_INNER_(x, y) x##y
#define SKILLSD_STATUS_CONCAT_(x, y) SKILLSD_STATUS_CONCAT_INNER_(x, y)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                          \
  do {                                                 \
    ::absl::Status skillsd_status_ = (expr);           \
    if (!skillsd_status_.ok()) return skillsd_status_; \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK, else moves the value into `lhs`,
// which may be a declaration ("auto x") or an existing variable.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  SKILLSD_ASSIGN_OR_RETURN_IMPL_(SKILLSD_STATUS_CONCAT_(skillsd_statusor_, __LINE__), lhs, rexpr)

#define SKILLSD_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();   \
  lhs = std::move(statusor).value()

namespace skillsd {

// Prefixes a non-OK status's message with `context` ("loading config.json: <message>"); OK passes through.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

// Runs `fn` and converts any exception it throws (c10::Error, YAML::Exception, std::bad_alloc, ...) into an
// INTERNAL (or RESOURCE_EXHAUSTED for bad_alloc) status naming `what`. `fn` returns absl::Status or
// absl::StatusOr<T>.
template <typename Fn>
auto CatchExceptions(absl::string_view what, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const std::bad_alloc& e) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of memory"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(what, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(what, ": unknown exception"));
  }
}

}  // namespace skillsd

#endif  // SKILLSD_CORE_STATUS_H_
