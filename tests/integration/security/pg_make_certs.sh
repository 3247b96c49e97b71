#!/usr/bin/env bash
# A self-signed certificate authority and a PostgreSQL server certificate it
# signed, for the TLS tests (pg_tls_pipeline_test.cc):
#
#   pg_make_certs.sh DIR
#
# writes DIR/ca.crt (what clients trust: sslrootcert), DIR/server/server.crt
# and DIR/server/server.key (ssl_cert_file, ssl_key_file), the server's for
# CN and subjectAltName DNS:localhost, so that sslmode=verify-full passes
# for host=localhost and fails for any other name. Also DIR/other-ca.crt, an
# authority that signed nothing here (a client trusting only it must refuse
# the server). Keys are RSA 2048, valid one day.
set -euo pipefail
dir=${1:?usage: $0 DIR}
mkdir -p "$dir/server"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=enrich test CA" \
  -keyout ca.key -out ca.crt 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "/CN=unrelated CA" \
  -keyout other-ca.key -out other-ca.crt 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
  -keyout server/server.key -out server.csr 2>/dev/null
printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
  -days 1 -extfile server.ext -out server/server.crt 2>/dev/null
rm -f server.csr server.ext ca.srl
