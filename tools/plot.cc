#include "tools/plot.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/file_util.h"

namespace skillsd {
namespace {

// A gnuplot double-quoted string.
std::string Quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string GnuplotScript(const PlotOptions& o, const std::string& png_file) {
  std::string gp =
      absl::StrFormat("set terminal png size %d,%d noenhanced\nset output %s\n", o.width, o.height, Quote(png_file));
  absl::StrAppend(&gp, "set title ", Quote(o.title), "\nset xlabel ", Quote(o.xlabel), "\nset ylabel ", Quote(o.ylabel),
                  "\nset grid\nset key below\n");
  auto range = [&](const char* axis, const std::optional<double>& lo, const std::optional<double>& hi) {
    if (!lo.has_value() && !hi.has_value()) return;
    absl::StrAppend(&gp, "set ", axis, "range [", lo.has_value() ? absl::StrCat(*lo) : "*", ":",
                    hi.has_value() ? absl::StrCat(*hi) : "*", "]\n");
  };
  range("x", o.x_min, o.x_max);
  range("y", o.y_min, o.y_max);
  if (!o.xtics.empty()) {
    absl::StrAppend(&gp, "set xtics (");
    for (size_t i = 0; i < o.xtics.size(); ++i) {
      absl::StrAppend(&gp, i ? ", " : "", Quote(o.xtics[i].second), " ", absl::StrFormat("%g", o.xtics[i].first));
    }
    absl::StrAppend(&gp, ")\n");
  }
  std::vector<std::string> plots;
  for (const PlotSeries& s : o.series) {
    const char* style = "linespoints";
    switch (s.style) {
      case PlotStyle::kLinesPoints:
        break;
      case PlotStyle::kErrorLines:
        style = "yerrorlines";
        break;
      case PlotStyle::kErrorBars:
        style = "yerrorbars";
        break;
      case PlotStyle::kBand:
        style = "filledcurves fillstyle transparent solid 0.25 noborder";
        break;
    }
    plots.push_back(absl::StrCat(Quote(s.data_file), " using ", s.columns, " with ", style,
                                 s.color > 0 ? absl::StrCat(" linetype ", s.color) : "",
                                 s.title.empty() ? " notitle" : absl::StrCat(" title ", Quote(s.title))));
  }
  for (const PlotLine& l : o.hlines) {
    plots.push_back(absl::StrCat(absl::StrFormat("%.6f", l.y), " with lines linewidth 2 title ", Quote(l.title)));
  }
  if (plots.empty()) plots.push_back("NaN title \"no data\"");
  absl::StrAppend(&gp, "plot ");
  for (size_t i = 0; i < plots.size(); ++i) absl::StrAppend(&gp, i ? ", \\\n     " : "", plots[i]);
  return gp + "\n";
}

absl::Status DrawPng(const PlotOptions& options, const std::string& dir, const std::string& png_file) {
  std::string stem = png_file;
  if (stem.size() > 4 && stem.compare(stem.size() - 4, 4, ".png") == 0) stem.resize(stem.size() - 4);
  const std::string script = stem + ".gp", log = stem + ".gnuplot.log";
  if (absl::Status written = WriteFileAtomically(dir + "/" + script, GnuplotScript(options, png_file)); !written.ok()) {
    return written;
  }
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, STDERR_FILENO);
    execlp("gnuplot", "gnuplot", script.c_str(), static_cast<char*>(nullptr));
    _exit(127);  // not installed
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
    return absl::FailedPreconditionError(
        "gnuplot is not installed (apt-get install gnuplot-nox; "
        "deploy/install_deps.sh does it)");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    absl::StatusOr<std::string> message = ReadFile(dir + "/" + log);
    return absl::InternalError(absl::StrCat("gnuplot ", script, " failed: ", message.ok() ? *message : ""));
  }
  std::remove((dir + "/" + log).c_str());  // kept only when gnuplot failed
  return absl::OkStatus();
}

}  // namespace skillsd
