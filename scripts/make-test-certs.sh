#!/usr/bin/env bash
# Throwaway certificates for the TLS tests (EC prime256v1 keys, so this takes well under a second).
#
#   scripts/make-test-certs.sh DIR
#
# Writes into DIR:
#   ca.crt ca.key                        the test CA
#   server.crt server.key                CN=localhost, SAN DNS:localhost,IP:127.0.0.1, signed by the CA
#   wrong-ca.crt wrong-ca.key            an unrelated CA (nothing is signed by it)
#   client-sp_scram.crt/.key             client cert CN=sp_scram, signed by the CA
#   client-other.crt/.key                client cert CN=someone_else, signed by the CA
# Keys are mode 0600 (libpq and PostgreSQL refuse group/world-readable keys). Idempotent: a complete
# set whose server and client certs still verify against ca.crt is left alone; anything else is
# regenerated from scratch. pg-cluster.sh copies server.crt/server.key into the cluster's own
# directory for the postgres user, so DIR itself need not be readable by it.
set -euo pipefail

[ $# -eq 1 ] || {
  echo "usage: $0 DIR" >&2
  exit 2
}
DIR=$1
DAYS=3650
FILES=(ca.crt ca.key server.crt server.key wrong-ca.crt wrong-ca.key
  client-sp_scram.crt client-sp_scram.key client-other.crt client-other.key)

log() { echo "make-test-certs: $*" >&2; }

complete() {
  local f
  for f in "${FILES[@]}"; do [ -s "$DIR/$f" ] || return 1; done
  openssl verify -CAfile "$DIR/ca.crt" "$DIR/server.crt" "$DIR/client-sp_scram.crt" \
    "$DIR/client-other.crt" >/dev/null 2>&1 &&
    openssl x509 -in "$DIR/server.crt" -noout -checkend 86400 >/dev/null 2>&1
}

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1" 2>/dev/null; }

# new_ca NAME CN
new_ca() {
  new_key "$TMP/$1.key"
  openssl req -new -x509 -key "$TMP/$1.key" -out "$TMP/$1.crt" -days "$DAYS" -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    2>/dev/null
}

# new_leaf NAME CN EXTFILE: key + certificate signed by ca
new_leaf() {
  new_key "$TMP/$1.key"
  openssl req -new -key "$TMP/$1.key" -out "$TMP/$1.csr" -subj "/CN=$2" 2>/dev/null
  openssl x509 -req -in "$TMP/$1.csr" -CA "$TMP/ca.crt" -CAkey "$TMP/ca.key" -CAcreateserial \
    -out "$TMP/$1.crt" -days "$DAYS" -extfile "$3" 2>/dev/null
  rm -f "$TMP/$1.csr"
}

mkdir -p "$DIR"
if complete; then
  log "certificates in $DIR are up to date"
  exit 0
fi

TMP=$(mktemp -d "${DIR%/}/.certs.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
umask 077

cat >"$TMP/server.ext" <<'EOF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
EOF
cat >"$TMP/client.ext" <<'EOF'
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
EOF

new_ca ca "shardpool test CA"
new_ca wrong-ca "shardpool wrong CA"
new_leaf server localhost "$TMP/server.ext"
new_leaf client-sp_scram sp_scram "$TMP/client.ext"
new_leaf client-other someone_else "$TMP/client.ext"

# Certificates are public; keys stay 0600. Move into place only once everything exists.
for f in "${FILES[@]}"; do
  case "$f" in
    *.crt) chmod 644 "$TMP/$f" ;;
    *.key) chmod 600 "$TMP/$f" ;;
  esac
  mv -f "$TMP/$f" "$DIR/$f"
done
log "wrote test certificates to $DIR"
