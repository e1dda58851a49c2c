// Checks the Grafana dashboards: each file is a dashboard whose uid is its file name (stable links), with a
// `datasource` variable of type datasource (Prometheus) that every panel and query uses, unique panel ids,
// a grid position for every panel, and a PromQL expression in every query that names only skillsd metrics or
// `up` — or, in a dashboard tagged "kubernetes", kube-state-metrics' kube_* series. With --list, prints the
// expressions (one JSON string a line) instead, for the live test; a local run has no kube-state-metrics, so the
// kubernetes dashboards' expressions are left out of that list.
//   node check_dashboards.mjs DASHBOARD_DIR [--list]
import { readFileSync, readdirSync } from "node:fs";
import { join, basename } from "node:path";

import { metricNames } from "../prometheus/promql.mjs";

const [dir, mode] = process.argv.slice(2);
if (!dir) {
  console.error("usage: node check_dashboards.mjs DASHBOARD_DIR [--list]");
  process.exit(2);
}
let problems = 0;
const problem = (where, message) => {
  problems++;
  console.error(`FAIL ${where}: ${message}`);
};
const expressions = [];


const uids = new Set();
const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
if (files.length === 0) problem(dir, "no dashboards");
for (const file of files) {
  const where = file;
  let d;
  try {
    d = JSON.parse(readFileSync(join(dir, file), "utf8"));
  } catch (e) {
    problem(where, `not JSON: ${e.message}`);
    continue;
  }
  if (d.uid !== basename(file, ".json")) problem(where, `uid ${d.uid} is not the file name`);
  if (uids.has(d.uid)) problem(where, `uid ${d.uid} used twice`);
  uids.add(d.uid);
  if (!d.title) problem(where, "no title");
  const ds = (d.templating?.list || []).find((v) => v.name === "datasource");
  if (!ds || ds.type !== "datasource" || ds.query !== "prometheus") {
    problem(where, "needs a `datasource` variable of type datasource with query prometheus");
  }
  const kubernetes = (d.tags || []).includes("kubernetes");
  const ids = new Set();
  for (const p of d.panels || []) {
    const pw = `${where} panel "${p.title}"`;
    if (ids.has(p.id)) problem(pw, `panel id ${p.id} used twice`);
    ids.add(p.id);
    if (!p.gridPos || !(p.gridPos.w > 0 && p.gridPos.h > 0)) problem(pw, "no grid position");
    if (p.datasource?.uid !== "${datasource}") problem(pw, "panel does not use ${datasource}");
    if (!p.targets?.length) problem(pw, "no queries");
    for (const t of p.targets || []) {
      if (t.datasource && t.datasource.uid !== "${datasource}") problem(pw, "query does not use ${datasource}");
      if (!t.expr) {
        problem(pw, "query without expr");
        continue;
      }
      for (const name of metricNames(t.expr)) {
        const ours = name.startsWith("skillsd_") || name === "up" || (kubernetes && name.startsWith("kube_"));
        if (!ours) problem(pw, `${name} is not a skillsd metric (${t.expr})`);
      }
      if (!kubernetes || mode !== "--list") expressions.push(t.expr);
    }
  }
}
if (mode === "--list") {
  for (const e of expressions) console.log(JSON.stringify(e));
} else {
  console.log(`${files.length} dashboards, ${expressions.length} queries`);
}
if (problems > 0) {
  console.error(`${problems} problem(s)`);
  process.exit(1);
}
