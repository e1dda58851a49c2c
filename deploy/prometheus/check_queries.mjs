// Live check against a Prometheus that scrapes a running skillsd stack: every dashboard query returns data, and
// every series an alert rule selects exists with the labels its matchers name. Retries until the deadline (a
// series can appear only after the first event of its kind, e.g. the teacher's first batch).
//   node check_queries.mjs PROMETHEUS_URL NPM_DIR REPO_ROOT DEADLINE_SECONDS
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

import { selectors } from "./promql.mjs";

const [url, npmDir, root, deadlineArg] = process.argv.slice(2);
if (!url || !npmDir || !root) {
  console.error("usage: node check_queries.mjs PROMETHEUS_URL NPM_DIR REPO_ROOT [DEADLINE_SECONDS]");
  process.exit(2);
}
const YAML = await import(pathToFileURL(join(npmDir, "node_modules", "yaml", "dist", "index.js")).href);
const deadline = Date.now() + 1000 * Number(deadlineArg || 180);

// What must return data: [description, PromQL].
const checks = [];
const dashboards = join(root, "deploy", "grafana", "dashboards");
for (const file of readdirSync(dashboards).filter((f) => f.endsWith(".json")).sort()) {
  const d = JSON.parse(readFileSync(join(dashboards, file), "utf8"));
  if ((d.tags || []).includes("kubernetes")) continue;  // kube-state-metrics exists only in a cluster
  for (const p of d.panels) {
    for (const t of p.targets) {
      checks.push([`${d.uid} "${p.title}"`, t.expr.replaceAll("$__rate_interval", "1m")]);
    }
  }
}
const rules = YAML.parse(readFileSync(join(root, "deploy", "prometheus", "alerts.yml"), "utf8"));
const seen = new Set();
for (const group of rules.groups) {
  for (const rule of group.rules) {
    for (const s of selectors(rule.expr)) {
      const q = s.labels.length ? `${s.name}{${s.labels.map((l) => `${l}!=""`).join(",")}}` : s.name;
      if (seen.has(q)) continue;
      seen.add(q);
      checks.push([`alert ${rule.alert} selects`, q]);
    }
  }
}

async function query(expr) {
  const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(expr)}`);
  const body = await response.json();
  if (body.status !== "success") throw new Error(`${body.errorType}: ${body.error}`);
  return body.data.result;
}

let failing = checks;
while (true) {
  const still = [];
  for (const [what, expr] of failing) {
    try {
      const result = await query(expr);
      if (result.length === 0) still.push([what, expr, "no data"]);
    } catch (e) {
      still.push([what, expr, e.message]);
    }
  }
  failing = still;
  if (failing.length === 0 || Date.now() > deadline) break;
  await new Promise((r) => setTimeout(r, 5000));
}
for (const [what, expr, why] of failing) console.error(`FAIL ${what}: ${expr}: ${why}`);
const dashboardCount = checks.filter(([w]) => !w.startsWith("alert ")).length;
console.log(`${checks.length - failing.length} of ${checks.length} checks returned data ` +
            `(${dashboardCount} dashboard queries, ${checks.length - dashboardCount} alert-rule selectors)`);
process.exit(failing.length === 0 ? 0 : 1);
