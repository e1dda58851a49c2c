#!/usr/bin/env bash
# Makes a throwaway PKI for the launcher's --secure mode: a CA, one node certificate (serverAuth + clientAuth,
# SAN localhost and 127.0.0.1, plus any SANs given) used by every process in both directions, and a random
# bearer token.
# Usage: deploy/local/make_pki.sh DIR [SAN...]   e.g. DNS:skillsd   (does nothing when DIR/ca.pem already exists)
set -euo pipefail
DIR=$1
shift
SANS="DNS:localhost,IP:127.0.0.1"
for san in "$@"; do SANS="$SANS,$san"; done
[ -f "$DIR/ca.pem" ] && exit 0
mkdir -p "$DIR"
cd "$DIR"
umask 077
openssl req -x509 -newkey rsa:2048 -nodes -days "${SKILLSD_PKI_DAYS:-30}" -subj /CN=skillsd-local-ca -keyout ca.key -out ca.pem 2>/dev/null
printf '[node]\nsubjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$SANS" > ext.cnf
openssl req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout node.key -out node.csr 2>/dev/null
openssl x509 -req -in node.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days "${SKILLSD_PKI_DAYS:-30}" -extfile ext.cnf \
  -extensions node -out node.pem 2>/dev/null
openssl rand -hex 32 > token
rm -f node.csr ext.cnf
