#!/usr/bin/env bash
# Runs Compose on deploy/compose.yaml: `docker compose` if this Docker has
# it, else the standalone docker-compose. The project name comes from
# COMPOSE_PROJECT_NAME (default logbook). Examples:
#   deploy/compose.sh up -d       deploy/compose.sh ps
#   deploy/compose.sh logs -f storenode-1     deploy/compose.sh down -v
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if docker compose version >/dev/null 2>&1; then
	compose=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
	compose=(docker-compose)
else
	echo "compose.sh: neither 'docker compose' nor 'docker-compose' is installed" >&2
	exit 1
fi
# Our images are built here, never pulled (older docker-compose ignores
# pull_policy: never): refuse to start without them.
case "${1:-}" in up | create | run | start | restart)
	for image in storenode gateway nats; do
		if ! docker image inspect "logbook/$image:${LOGBOOK_IMAGE_TAG:-dev}" >/dev/null 2>&1; then
			echo "compose.sh: no image logbook/$image:${LOGBOOK_IMAGE_TAG:-dev}; build it with deploy/build-images.sh (go tool task images)" >&2
			exit 1
		fi
	done
	# Authentication and TLS are on: the secrets are written at set-up.
	secrets=${LOGBOOK_SECRETS:-$root/deploy/secrets}
	case "$secrets" in /*) ;; *) secrets="$root/deploy/$secrets" ;; esac # relative to compose.yaml, as Compose reads it
	for f in nats/auth.conf storenode/raft.pem gateway/nats-password; do
		if [ ! -f "$secrets/$f" ]; then
			echo "compose.sh: no $secrets/$f; write the secrets with deploy/gen-secrets.sh" >&2
			exit 1
		fi
	done
	;;
esac
exec "${compose[@]}" -f "$root/deploy/compose.yaml" -p "${COMPOSE_PROJECT_NAME:-logbook}" "$@"
