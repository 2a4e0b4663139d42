#!/bin/sh
# make demo: bring up the dual-site testbed (2 sites x 2 orchestrators),
# establish the full trust mesh from 1_1 the way an admin would after
# verifying each fingerprint, show the state, and leave it running.
set -eu
cd "$(dirname "$0")/.."
BIN=$PWD/bin
TB="$BIN/testbed"
DIR=${ORCHD_TESTBED_DIR:-/var/tmp/orchd-testbed}
export ORCHD_TESTBED_DIR="$DIR"

if [ "$(id -u)" != 0 ]; then
	echo "make demo needs root: it creates network namespaces (run it as root)" >&2
	exit 1
fi
if [ -f "$DIR/testbed.json" ]; then
	echo "== a demo testbed is already up: taking it down first"
	"$TB" down
fi

# A fresh random administrator password, kept in a root-only file rather
# than on any command line (ps) or in this output.
mkdir -p "$DIR"
PWFILE="$DIR/demo-admin-password"
umask 077
head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$PWFILE"
umask 022

echo "== bringing up the testbed: 2 sites x 2 orchestrators"
"$TB" up --sites 2 --per-site 2 --admin-password-stdin < "$PWFILE"

echo
echo "== fingerprints, read on each orchestrator (what an admin verifies)"
FPS=""
for id in 1_2 2_1 2_2; do
	fp=$("$TB" exec "$id" -- clish -c "show maestro authentication fingerprint" | awk '/^Fingerprint:/ {print $2}')
	echo "   $id  $fp"
	FPS="$FPS${FPS:+,}$id=$fp"
done

echo
echo "== establishing trust from 1_1: set maestro authentication trust orchestrators all fingerprints ..."
printf '{"password": "%s"}' "$(cat "$PWFILE")" |
	"$TB" exec 1_1 -- clish --input-json -c "set maestro authentication trust orchestrators all fingerprints $FPS"

# Sessions come up within a second; wait until 1_1's own table and every
# peer's reported view (the mesh matrix) are all Authenticated.
mesh_ok() {
	"$TB" exec 1_1 -- orch_stat -v 2>/dev/null | awk '
		/^Peers:/ { peers = 1 }
		/^Mesh/ { mesh = 1; next }
		mesh && /VIEW OF/ { next }
		mesh && NF > 0 { rows++; if ($0 ~ /Unknown|Unreachable|Untrusted|\?/) bad = 1 }
		peers && !mesh && /Unknown|Unreachable|Untrusted/ && !/expected/ { bad = 1 }
		END { exit (bad || rows == 0) }'
}
i=0
until mesh_ok; do
	i=$((i + 1))
	if [ "$i" -ge 50 ]; then
		echo "the mesh did not authenticate within 10 s; see below" >&2
		break
	fi
	sleep 0.2
done

echo
echo "== orch_stat -Av on 1_1"
"$TB" exec 1_1 -- orch_stat -Av || true
echo
echo "== hcp -r all on 1_1"
"$TB" exec 1_1 -- hcp -r all || true

echo
echo "The testbed is running. Log in to any orchestrator with the real ssh client:"
for id in 1_1 1_2 2_1 2_2; do
	echo "   ssh admin@$("$TB" addr "$id" mgmt)      # orchestrator $id"
done
echo "The admin password is in $PWFILE (root only): cat $PWFILE"
echo "Run commands inside a node:  bin/testbed exec 1_1 -- orch_stat -Av"
echo "Remove everything:           make demo-down"
