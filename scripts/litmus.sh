#!/usr/bin/env bash
# Runs the litmus WebDAV test suite (basic copymove props locks http)
# against a real verso: it builds the binary (or uses the one given as $1),
# starts it on a free loopback port with an empty data directory, runs
# litmus on http://127.0.0.1:PORT/config/, prints the summary line of each
# suite and a last line "litmus: N passed, M failed", then stops the server.
# It exits non-zero if a test failed, a suite did not finish or the server
# did not start. Logs (litmus's full output, its debug.log and the server's
# log) stay in a temp directory whose path is printed.
#
# With --store etcd, verso runs on etcd instead of a bbolt file: a
# one-member etcd started for the run (scripts/etcd, in-process etcd).
#
# Usage: bash scripts/litmus.sh [--store bolt|etcd] [path/to/verso]
set -euo pipefail

store=bolt
if [ "${1:-}" = "--store" ]; then
	store=${2:-}
	shift 2 || true
fi
case "$store" in
bolt | etcd) ;;
*)
	echo "litmus.sh: --store $store: want bolt or etcd" >&2
	exit 1
	;;
esac

suites="basic copymove props locks http"
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/verso-litmus.XXXXXX")
verso_log="$work/verso.log"
litmus_log="$work/litmus.log"
pid=""
etcd_pid=""
server_status=0

die() {
	echo "litmus.sh: $*" >&2
	exit 1
}

stop_server() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		for _ in $(seq 100); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			echo "litmus.sh: verso (pid $pid) did not stop within 10s of SIGTERM; killing it" >&2
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null || server_status=$?
	fi
	pid=""
	rm -rf "$work/data"
	if [ -n "$etcd_pid" ]; then
		kill -TERM "$etcd_pid" 2>/dev/null || true
		wait "$etcd_pid" 2>/dev/null || true
		etcd_pid=""
		rm -rf "$work/etcd-data"
	fi
}
trap stop_server EXIT

command -v litmus >/dev/null || die "litmus is not installed (apt-get install litmus; bash .ci/run does it)"

bin=${1:-}
if [ -z "$bin" ]; then
	bin="$work/verso"
	(cd "$root" && go build -buildvcs=false -o "$bin" ./cmd/verso) || die "go build ./cmd/verso failed"
fi
[ -x "$bin" ] || die "$bin is not an executable"

store_args=(--data "$work/data")
if [ "$store" = etcd ]; then
	(cd "$root" && go build -buildvcs=false -o "$work/etcd" ./scripts/etcd) || die "go build ./scripts/etcd failed"
	"$work/etcd" "$work/etcd-data" >"$work/etcd.out" 2>&1 &
	etcd_pid=$!
	endpoints=""
	for _ in $(seq 300); do
		endpoints=$(sed -n 's/^endpoints=//p' "$work/etcd.out")
		[ -n "$endpoints" ] && break
		kill -0 "$etcd_pid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$endpoints" ] || die "etcd did not start: $(cat "$work/etcd.out")"
	store_args=(--store etcd --etcd-endpoints "$endpoints" --etcd-prefix /litmus/)
fi

"$bin" serve --listen 127.0.0.1:0 "${store_args[@]}" 2>"$verso_log" &
pid=$!

addr=""
for _ in $(seq 100); do
	addr=$(sed -n 's/.*msg=listening .*addr=\([^ ]*\).*/\1/p' "$verso_log" | head -n 1)
	[ -n "$addr" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$addr" ]; then
	echo "litmus.sh: verso did not start; its log ($verso_log):" >&2
	cat "$verso_log" >&2
	exit 1
fi

url="http://$addr/config/"
echo "litmus: running $suites against $url on $store (verso log: $verso_log)"
# -k runs every suite even when one fails; litmus then exits 0 whatever
# happened, so the verdict comes from the summary lines below. litmus
# writes debug.log and child.log into its working directory.
status=0
(cd "$work" && TESTS="$suites" litmus -k "$url") >"$litmus_log" 2>&1 || status=$?

# litmus redraws each test's line with carriage returns; keep the final text.
clean="$work/litmus.txt"
sed 's/.*\r//' "$litmus_log" >"$clean"

passed=0
failed=0
missing=""
for s in $suites; do
	line=$(grep -F "<- summary for \`$s':" "$clean" || true)
	if [ -z "$line" ]; then
		# A suite that ended without its summary counts as one failure.
		missing="$missing $s"
		failed=$((failed + 1))
		continue
	fi
	echo "$line"
	p=$(sed -n 's/.* \([0-9][0-9]*\) passed.*/\1/p' <<<"$line")
	f=$(sed -n 's/.* \([0-9][0-9]*\) failed.*/\1/p' <<<"$line")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-1}))
done

stop_server
trap - EXIT

if [ "$server_status" -ne 0 ]; then
	echo "litmus.sh: verso exited with status $server_status on SIGTERM, want 0 (log: $verso_log)"
fi
if [ -n "$missing" ] || [ "$failed" -gt 0 ] || [ "$status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
	[ -n "$missing" ] && echo "litmus.sh: no summary for:$missing (litmus exit status $status)"
	echo "litmus.sh: failing tests (full output: $litmus_log; traces: $work/debug.log; verso log: $verso_log):"
	# Each FAIL line, with the lines of its message that follow it.
	awk '/^-> running `/ { suite = $3; gsub(/[`\047:]/, "", suite) }
	     /^ *[0-9]+\. .* FAIL/ { show = 1; print suite ":" $0; next }
	     /^ *[0-9]+\. / || /^(<-|->) / { show = 0 }
	     show { print "    " $0 }' "$clean"
	echo "litmus: $passed passed, $failed failed"
	exit 1
fi
echo "litmus: full output in $litmus_log"
echo "litmus: $passed passed, $failed failed"
