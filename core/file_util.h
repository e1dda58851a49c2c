// Small file helpers with Status errors: whole-file reads, and atomic writes (temp file in the same directory,
// fsync, rename, fsync of the directory) so a reader or a crash never sees a half-written file.
#ifndef SKILLSD_CORE_FILE_UTIL_H_
#define SKILLSD_CORE_FILE_UTIL_H_

#include <functional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace skillsd {

// The whole file. NOT_FOUND when it does not exist, PERMISSION_DENIED / INTERNAL for other failures; the
// message names the path.
absl::StatusOr<std::string> ReadFile(const std::string& path);

// The secret in a token file: its first line, surrounding whitespace removed. INVALID_ARGUMENT when empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Replaces `path` with `contents` atomically. On failure the old file (if any) is untouched.
absl::Status WriteFileAtomically(const std::string& path, absl::string_view contents);

// The same for contents too large to hold in memory twice: `write` writes the file it is given (a temporary
// beside `path`), which then replaces `path` atomically (flushed to disk first). On failure the old file is untouched.
absl::Status WriteFileAtomicallyWith(const std::string& path,
                                     const std::function<absl::Status(const std::string& temp)>& write);

// Creates a directory and its parents (like mkdir -p).
absl::Status MakeDirectories(const std::string& path);

}  // namespace skillsd

#endif  // SKILLSD_CORE_FILE_UTIL_H_
