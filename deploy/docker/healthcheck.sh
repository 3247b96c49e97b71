#!/bin/bash
# The image's HEALTHCHECK: GET /healthz on the port of ENRICH_METRICS_ADDR
# (or $1), with bash's /dev/tcp, so the image needs no HTTP client.
# Exit 0 on HTTP 200, 1 otherwise.
addr=${1:-${ENRICH_METRICS_ADDR:-127.0.0.1:9188}}
port=${addr##*:}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r -t 2 status_line <&3 || exit 1
[[ $status_line == "HTTP/1."[01]" 200"* ]]
