#!/usr/bin/env bash
# Writes the secrets of deploy/ (NATS TLS certificate and users, the Raft CA
# and certificate, passwords) with tools/lbsecrets, by default into
# deploy/secrets (git-ignored: never commit it). Run once at set-up; the
# flags go to lbsecrets (-h lists them), e.g.
#   deploy/gen-secrets.sh                          # deploy/secrets, tenant acme
#   deploy/gen-secrets.sh -tenants 'acme=acme;globex=globex' -force
#   deploy/gen-secrets.sh -out /srv/logbook-secrets -namespace logbook
# Needs go only (no openssl).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$(mktemp -d "${TMPDIR:-/tmp}/lbsecrets.XXXXXX")
trap 'rm -rf "$bin"' EXIT
(cd "$root/tools" && go build -o "$bin/lbsecrets" ./lbsecrets)
out=()
case " $* " in *" -out "* | *" --out "* | *" -out="* | *" --out="*) ;; *) out=(-out "$root/deploy/secrets") ;; esac
exec "$bin/lbsecrets" "${out[@]}" "$@"
