// Logging behind one header. Lines go to stderr as
//   I20261127 06:50:01.123456 12345 server.cc:88] message
// (severity, date, time, thread id, file:line), written whole so lines of concurrent threads never interleave.
//
//   SKILLSD_LOG(INFO) << "serving on " << address;
//   SKILLSD_LOG(FATAL) << "unreachable";   // logs, then aborts
//   SKILLSD_VLOG(2) << "detail";           // only when SKILLSD_VERBOSITY (or SetVerbosity) >= 2
//   SKILLSD_CHECK(ptr != nullptr) << "why";
//
// Thread-safe.
#ifndef SKILLSD_CORE_LOGGING_H_
#define SKILLSD_CORE_LOGGING_H_

#include <sstream>

namespace skillsd::logging {

enum class Severity { kInfo = 0, kWarning = 1, kError = 2, kFatal = 3 };

// Messages below this severity are dropped. Default kInfo; SKILLSD_MIN_LOG_LEVEL=0..3 sets it at start-up.
void SetMinSeverity(Severity severity);
Severity MinSeverity();
// VLOG(n) prints when n <= verbosity. Default 0; SKILLSD_VERBOSITY sets it at start-up.
void SetVerbosity(int verbosity);
int Verbosity();

// One log line being built; writes itself when destroyed (and aborts if kFatal).
class LogMessage {
 public:
  LogMessage(const char* file, int line, Severity severity);
  ~LogMessage();
  LogMessage(const LogMessage&) = delete;
  LogMessage& operator=(const LogMessage&) = delete;
  std::ostream& stream() { return stream_; }

 private:
  Severity severity_;
  std::ostringstream stream_;
};

// Swallows the stream expression of a disabled log statement.
struct Voidify {
  void operator&(std::ostream&) {}
};

}  // namespace skillsd::logging

// The macros are prefixed because LibTorch's c10 (and glog) define LOG/CHECK/VLOG of their own.
#define SKILLSD_SEVERITY_INFO ::skillsd::logging::Severity::kInfo
#define SKILLSD_SEVERITY_WARNING ::skillsd::logging::Severity::kWarning
#define SKILLSD_SEVERITY_ERROR ::skillsd::logging::Severity::kError
#define SKILLSD_SEVERITY_FATAL ::skillsd::logging::Severity::kFatal

#define SKILLSD_LOG(severity)                                            \
  !(SKILLSD_SEVERITY_##severity >= ::skillsd::logging::MinSeverity() ||  \
    SKILLSD_SEVERITY_##severity == ::skillsd::logging::Severity::kFatal) \
      ? (void)0                                                          \
      : ::skillsd::logging::Voidify() &                                  \
            ::skillsd::logging::LogMessage(__FILE__, __LINE__, SKILLSD_SEVERITY_##severity).stream()

#define SKILLSD_VLOG(level)                   \
  ((level) > ::skillsd::logging::Verbosity()) \
      ? (void)0                               \
      : ::skillsd::logging::Voidify() &       \
            ::skillsd::logging::LogMessage(__FILE__, __LINE__, SKILLSD_SEVERITY_INFO).stream()

// Aborts with a message when `condition` is false. For programming errors only, never for bad input.
#define SKILLSD_CHECK(condition)                                                                        \
  (condition) ? (void)0                                                                                 \
              : ::skillsd::logging::Voidify() &                                                         \
                    ::skillsd::logging::LogMessage(__FILE__, __LINE__, SKILLSD_SEVERITY_FATAL).stream() \
                        << "Check failed: " #condition " "

#endif  // SKILLSD_CORE_LOGGING_H_
