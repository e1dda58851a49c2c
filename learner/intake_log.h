// The durable half of the learner's intake: every accepted group is appended here (and synced to disk) before
// SubmitGroup acknowledges it, so a learner that crashes loses no acknowledged group. On restart the log is
// replayed and the groups not recorded as consumed in the checkpoint are queued again; after each checkpoint the
// log is rewritten with only the groups still pending.
//
// Records: [u32 payload length][u32 CRC32C of payload][payload = serialized Group], little-endian. A torn last
// record (a crash mid-append) is ignored; damage anywhere else is DATA_LOSS. Not thread-safe (GroupIntake
// serialises appends).
#ifndef SKILLSD_LEARNER_INTAKE_LOG_H_
#define SKILLSD_LEARNER_INTAKE_LOG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "skillsd/v1/rollout.pb.h"

namespace skillsd::learner {

class IntakeLog {
 public:
  // Opens (creating if needed) the log at `path` for appending.
  static absl::StatusOr<std::unique_ptr<IntakeLog>> Open(const std::string& path);
  ~IntakeLog();

  // Appends `group` durably (write + fdatasync).
  absl::Status Append(const skillsd::v1::Group& group);

  // Replaces the log with `groups`, atomically.
  absl::Status Rewrite(const std::vector<skillsd::v1::Group>& groups);

  // Every complete record of the log at `path`, in order (empty when the file does not exist).
  static absl::StatusOr<std::vector<skillsd::v1::Group>> ReadAll(const std::string& path);

 private:
  IntakeLog(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_;
};

}  // namespace skillsd::learner

#endif  // SKILLSD_LEARNER_INTAKE_LOG_H_
