#include "core/logging.h"

#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace skillsd::logging {
namespace {

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  return std::atoi(value);
}

std::atomic<int>& MinSeverityFlag() {
  static std::atomic<int> flag{EnvInt("SKILLSD_MIN_LOG_LEVEL", 0)};
  return flag;
}

std::atomic<int>& VerbosityFlag() {
  static std::atomic<int> flag{EnvInt("SKILLSD_VERBOSITY", 0)};
  return flag;
}

const char* Basename(const char* path) {
  const char* slash = std::strrchr(path, '/');
  return slash == nullptr ? path : slash + 1;
}

}  // namespace

void SetMinSeverity(Severity severity) { MinSeverityFlag().store(static_cast<int>(severity)); }
Severity MinSeverity() { return static_cast<Severity>(MinSeverityFlag().load(std::memory_order_relaxed)); }
void SetVerbosity(int verbosity) { VerbosityFlag().store(verbosity); }
int Verbosity() { return VerbosityFlag().load(std::memory_order_relaxed); }

LogMessage::LogMessage(const char* file, int line, Severity severity) : severity_(severity) {
  static const char kLetters[] = {'I', 'W', 'E', 'F'};
  struct timeval tv;
  gettimeofday(&tv, nullptr);
  struct tm tm;
  localtime_r(&tv.tv_sec, &tm);
  char prefix[96];
  std::snprintf(prefix, sizeof(prefix), "%c%04d%02d%02d %02d:%02d:%02d.%06ld %ld %s:%d] ",
                kLetters[static_cast<int>(severity)], tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                tm.tm_min, tm.tm_sec, static_cast<long>(tv.tv_usec), static_cast<long>(syscall(SYS_gettid)),
                Basename(file), line);
  stream_ << prefix;
}

LogMessage::~LogMessage() {
  stream_ << '\n';
  const std::string line = stream_.str();
  // One write(2) per line keeps lines whole across threads and processes sharing stderr.
  ssize_t unused = ::write(STDERR_FILENO, line.data(), line.size());
  (void)unused;
  if (severity_ == Severity::kFatal) std::abort();
}

}  // namespace skillsd::logging
