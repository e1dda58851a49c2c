#!/usr/bin/env bash
# Prints the skillsd-tls Secret for a cluster: a new CA, one node certificate for every pod (SAN "skillsd", the
# name every client checks with --tls_server_name=skillsd) and a bearer token. The key material is also kept in
# DIR (default deploy/k8s/pki, git-ignored) so the same CA can sign clients, e.g. `skillsd health` from a laptop.
#   deploy/k8s/make_secret.sh NAMESPACE [DIR] | kubectl apply -f -
# Rotation: docs/operations.md.
set -euo pipefail
NAMESPACE=${1:?usage: make_secret.sh NAMESPACE [DIR]}
DIR=${2:-$(cd "$(dirname "$0")" && pwd)/pki}
SKILLSD_PKI_DAYS=${SKILLSD_PKI_DAYS:-365} "$(dirname "$0")/../local/make_pki.sh" "$DIR" DNS:skillsd
kubectl create secret generic skillsd-tls --namespace="$NAMESPACE" --dry-run=client -o yaml \
  --from-file=ca.pem="$DIR/ca.pem" --from-file=node.pem="$DIR/node.pem" --from-file=node.key="$DIR/node.key" \
  --from-file=token="$DIR/token"
