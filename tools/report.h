// skillsd report: turns a run directory (metrics.csv, actor.csv, eval_before.json, eval_after.json) into
// report.md (before/after table with standard errors, time per phase) and learning_curve.png.
#ifndef SKILLSD_TOOLS_REPORT_H_
#define SKILLSD_TOOLS_REPORT_H_

namespace skillsd {

int ReportCommand();

}  // namespace skillsd

#endif  // SKILLSD_TOOLS_REPORT_H_
