#include "learner/intake_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "core/crc32c.h"
#include "core/file_util.h"

namespace skillsd::learner {
namespace {

constexpr uint32_t kMaxRecord = 1u << 30;

std::string Record(const skillsd::v1::Group& group) {
  const std::string payload = group.SerializeAsString();
  const uint32_t length = static_cast<uint32_t>(payload.size());
  const uint32_t crc = Crc32c(payload.data(), payload.size());
  std::string out(8, '\0');
  std::memcpy(out.data(), &length, 4);
  std::memcpy(out.data() + 4, &crc, 4);
  return out + payload;
}

}  // namespace

absl::StatusOr<std::unique_ptr<IntakeLog>> IntakeLog::Open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot open intake log ", path, ": ", std::strerror(errno)));
  return std::unique_ptr<IntakeLog>(new IntakeLog(path, fd));
}

IntakeLog::~IntakeLog() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status IntakeLog::Append(const skillsd::v1::Group& group) {
  const std::string record = Record(group);
  size_t written = 0;
  while (written < record.size()) {
    const ssize_t n = ::write(fd_, record.data() + written, record.size() - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("intake log ", path_, ": write failed: ", std::strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  if (::fdatasync(fd_) != 0) {
    return absl::InternalError(absl::StrCat("intake log ", path_, ": sync failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status IntakeLog::Rewrite(const std::vector<skillsd::v1::Group>& groups) {
  std::string contents;
  for (const auto& g : groups) contents += Record(g);
  absl::Status s = WriteFileAtomically(path_, contents);
  if (!s.ok()) return s;
  // The append descriptor still points at the replaced file: reopen.
  const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot reopen intake log ", path_));
  ::close(fd_);
  fd_ = fd;
  return absl::OkStatus();
}

absl::StatusOr<std::vector<skillsd::v1::Group>> IntakeLog::ReadAll(const std::string& path) {
  absl::StatusOr<std::string> data = ReadFile(path);
  if (!data.ok()) {
    if (data.status().code() == absl::StatusCode::kNotFound) return std::vector<skillsd::v1::Group>();
    return data.status();
  }
  std::vector<skillsd::v1::Group> groups;
  size_t pos = 0;
  while (pos < data->size()) {
    if (data->size() - pos < 8) break;  // torn header of the last record
    uint32_t length, crc;
    std::memcpy(&length, data->data() + pos, 4);
    std::memcpy(&crc, data->data() + pos + 4, 4);
    if (length > kMaxRecord) return absl::DataLossError(absl::StrCat(path, ": bad record length at byte ", pos));
    if (data->size() - pos - 8 < length) break;  // torn payload of the last record
    const char* payload = data->data() + pos + 8;
    if (Crc32c(payload, length) != crc) {
      if (pos + 8 + length == data->size()) break;  // a torn last record may hold garbage
      return absl::DataLossError(absl::StrCat(path, ": checksum mismatch at byte ", pos));
    }
    skillsd::v1::Group group;
    if (!group.ParseFromArray(payload, static_cast<int>(length))) {
      return absl::DataLossError(absl::StrCat(path, ": unparsable record at byte ", pos));
    }
    groups.push_back(std::move(group));
    pos += 8 + length;
  }
  return groups;
}

}  // namespace skillsd::learner
