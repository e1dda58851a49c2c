// Just enough PromQL reading for the checks: the metric names an expression selects, and each selector's label
// matchers. Not a parser: it handles the expressions of deploy/grafana and deploy/prometheus (strings, label
// matchers, range selectors, `by (...)`-style groupings, function calls, binary operators).

function stripped(expr) {
  return expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "")
    .replace(/\[[^\]]*\]/g, "");
}

// [{name, labels: [label names in its matchers]}] for every vector selector in `expr`.
export function selectors(expr) {
  const out = [];
  const bare = stripped(expr.replace(/\{([^}]*)\}/g, (m, inner) => `{${inner.replace(/"[^"]*"/g, '""')}}`));
  for (const m of bare.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?(\{[^}]*\})?/g)) {
    if (m[2] || /^(and|or|unless|bool)$/.test(m[1])) continue;
    const labels = m[3] ? [...m[3].matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)].map((l) => l[1]) : [];
    out.push({ name: m[1], labels });
  }
  return out;
}

export function metricNames(expr) {
  return selectors(expr).map((s) => s.name);
}
