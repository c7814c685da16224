#!/usr/bin/env bash
# Builds Logbook's container images from this tree: static binaries
# (CGO_ENABLED=0) on empty images (FROM scratch), tagged
#   logbook/storenode:$TAG  logbook/gateway:$TAG  logbook/nats:$TAG
# with TAG from LOGBOOK_IMAGE_TAG (default dev). Used by `go tool task
# images` and by tests/deploy_test.go. Needs go and docker, nothing pulled.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
tag=${LOGBOOK_IMAGE_TAG:-dev}
version=${LOGBOOK_VERSION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo dev)}

out=$(mktemp -d "${TMPDIR:-/tmp}/logbook-images.XXXXXX")
trap 'rm -rf "$out"' EXIT

export CGO_ENABLED=0
ldflags="-s -w -X github.com/logbookdb/logbook/pkg/version.Version=$version"
echo "building binaries ($version) in $out" >&2
# Three builds side by side (linking is what takes the time once cached).
pids=()
(cd "$root" && go build -trimpath -ldflags "$ldflags" -o "$out/storenode" ./services/storenode) & pids+=($!)
(cd "$root" && go build -trimpath -ldflags "$ldflags" -o "$out/gateway" ./services/gateway) & pids+=($!)
# nats-server at the version the services/logbook module requires.
(cd "$root/services/logbook" && go build -trimpath -ldflags "-s -w" -o "$out/nats-server" github.com/nats-io/nats-server/v2) & pids+=($!)
for pid in "${pids[@]}"; do wait "$pid"; done

# The build context: binaries, the NATS configuration, and an empty
# directory for the images' /data and /tmp.
mkdir "$out/empty"
cp "$root/deploy/docker/nats.conf" "$out/"

# Without buildx, use the classic builder quietly (the Dockerfiles suit both).
if ! docker buildx version >/dev/null 2>&1; then
	export DOCKER_BUILDKIT=0
fi
pids=()
for image in storenode gateway nats; do
	(old=$(docker image inspect -f '{{.Id}}' "logbook/$image:$tag" 2>/dev/null || true)
	docker build --quiet --label "org.opencontainers.image.version=$version" \
		-f "$root/deploy/docker/$image.Dockerfile" -t "logbook/$image:$tag" "$out" >"$out/$image.log" 2>&1 ||
		{ cat "$out/$image.log" >&2; exit 1; }
	# Drop the image this tag named before, unless a container still uses it.
	new=$(docker image inspect -f '{{.Id}}' "logbook/$image:$tag")
	if [ -n "$old" ] && [ "$old" != "$new" ]; then docker rmi "$old" >/dev/null 2>&1 || true; fi
	echo "built logbook/$image:$tag" >&2) & pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
