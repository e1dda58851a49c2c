#!/usr/bin/env bash
# promtool checks of everything in deploy/prometheus (ctest prometheus_rules): both scrape configs, the alert
# rules, and their unit tests (alerts_test.yml). Debian's Prometheus is built without Kubernetes service
# discovery, so the Kubernetes config is checked with its kubernetes_sd_configs block swapped for static targets
# (its relabelling and everything else are checked as written).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
promtool check rules "$HERE/alerts.yml" "$HERE/alerts-k8s.yml"
promtool check config "$HERE/prometheus-local.yml"
cp "$HERE/alerts.yml" "$HERE/alerts-k8s.yml" "$OUT/"
awk '
  /kubernetes_sd_configs:/ { indent = match($0, /[^ ]/); print substr($0, 1, indent - 1) "static_configs:"; \
                             print substr($0, 1, indent - 1) "  - targets: [\"127.0.0.1:9101\"]"; skip = 1; next }
  skip && match($0, /[^ ]/) > indent { next }
  { skip = 0; print }
' "$HERE/prometheus-k8s.yml" > "$OUT/prometheus-k8s.yml"
grep -q "kubernetes_sd_configs" "$OUT/prometheus-k8s.yml" && { echo "FAIL: substitution" >&2; exit 1; }
promtool check config "$OUT/prometheus-k8s.yml"
(cd "$HERE" && promtool test rules alerts_test.yml alerts-k8s_test.yml)
