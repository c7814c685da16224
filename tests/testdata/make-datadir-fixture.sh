#!/usr/bin/env bash
# Makes tests/testdata/datadir-<commit>.tar.gz: the data directory of a
# single-node Logbook built from an earlier commit, with known content, for
# TestOldDataDirectoryOpens (tests/upgrade_fixture_test.go).
#
#   bash tests/testdata/make-datadir-fixture.sh [commit]
#
# The default commit, 10525ff, is the last build that landed before the
# data directory recorded its format (FORMAT) and before the cluster
# version: what users of that release have on disk. The content is what the
# test checks: in store "default", stream "orders-1" with 3 events and
# stream "orders-2" with 2 events, then deleted; a store "second" with
# stream "s-1" of 1 event. The node's Raft address is 127.0.83.1:7100.
set -euo pipefail
commit=${1:-10525ff}
root=$(git rev-parse --show-toplevel)
out="$root/tests/testdata/datadir-$commit.tar.gz"
work=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
	git -C "$root" worktree remove --force "$work/src" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
git -C "$root" worktree add -q --detach "$work/src" "$commit"
(cd "$work/src" && CGO_ENABLED=0 go build -o "$work/logbook" ./services/logbook && go build -o "$work/lbctl" ./tools/lbctl)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
nats_port=$(free_port)
# Dragonboat records the Raft address in the data directory: the test starts
# the new build on the same one, a loopback address of its own.
raft_addr=127.0.83.1:7100
"$work/logbook" -data "$work/data" -nats-port "$nats_port" -raft-addr "$raft_addr" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 1 100); do grep -q "is ready" "$work/out" 2>/dev/null && break; sleep 0.2; done
grep -q "is ready" "$work/out" || { cat "$work/err"; echo "the old logbook did not start" >&2; exit 1; }
lb() { "$work/lbctl" -server "nats://127.0.0.1:$nats_port" "$@" >/dev/null; }
lb append orders-1 Placed '{"n":1}'
lb append orders-1 Paid '{"n":2}'
lb append orders-1 Shipped '{"n":3}'
lb append orders-2 Placed '{"n":4}'
lb append orders-2 Cancelled '{"n":5}'
lb delete orders-2
lb stores create second
for _ in $(seq 1 50); do "$work/lbctl" -server "nats://127.0.0.1:$nats_port" -store second append s-1 Noted '{"n":6}' >/dev/null 2>&1 && break; sleep 0.2; done
kill -TERM "$pid"
wait "$pid" || true
pid=
tar -C "$work/data" -czf "$out" .
echo "wrote $out ($(du -h "$out" | cut -f1))"
