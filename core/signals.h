// Shutdown signals handled without signal handlers: SIGTERM and SIGINT are blocked in every thread (call
// BlockShutdownSignals() first thing in main, before any thread starts, so all threads inherit the mask) and
// one thread takes them with sigwait(). Drain and shutdown then run as ordinary code, never inside a handler.
#ifndef SKILLSD_CORE_SIGNALS_H_
#define SKILLSD_CORE_SIGNALS_H_

#include <functional>

namespace skillsd {

// Blocks SIGTERM and SIGINT in the calling thread (and the threads it starts afterwards). Also ignores SIGPIPE.
void BlockShutdownSignals();

// Blocks until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForShutdownSignal();

// Starts a detached thread that waits for SIGTERM or SIGINT and then calls `on_signal(signo)` once.
void WatchShutdownSignals(std::function<void(int)> on_signal);

}  // namespace skillsd

#endif  // SKILLSD_CORE_SIGNALS_H_
