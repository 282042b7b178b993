#!/usr/bin/env bash
# bench/run.sh: verso side by side with the baselines of issue 7, on
# loopback, in one run on one machine. It builds verso and bench/loadgen,
# starts nginx serving the same 20-byte value as a static file, a
# single-node etcd (its JSON gateway) and verso (a fresh data directory),
# then measures:
#
#   reads     wrk -t1 -c32 GETs of one key over keep-alive connections:
#             verso (fast lane, the default), verso --fast-lane=false
#             (net/http alone), nginx, etcd's /v3/kv/range
#   writes    durable writes with 1 and 16 clients, verso and etcd, each
#             acknowledged write checked afterwards at its revision
#             (loadgen write: lost and duplicate revisions are reported)
#   scale     a store with 1,000,000 keys and 10,000,000 revisions (built
#             offline once through the bolt store's Commit, then cached):
#             start to /readyz, GETs of one key and of random keys, RSS,
#             random keys against a 1-key verso again, alternating twice
#             (so that the machine's drift stays out of the ratio), and
#             start to /readyz again on a cold page cache (as root: the
#             kernel is told to drop its caches first)
#   syscalls  strace -f -c of the server over 10,000 keep-alive GETs, for
#             verso and nginx
#
# and prints one table of absolute figures and ratios. Benchmarks report;
# they never fail on timing (the exit status says only whether the run
# worked, or whether an acknowledged write was lost).
#
# Usage: bash bench/run.sh [--quick] [--only scale|writes]
#   --quick        shorter runs and a 100,000-key / 1,000,000-revision store
#   --only scale   only the scale part, and the 1-key verso it is compared
#                  with (no nginx, etcd, writes or system calls)
#   --only writes  only the durable writes, verso's and etcd's (no nginx,
#                  reads, scale or system calls): about a minute
# Environment:
#   VERSO_BIN          a verso binary to measure instead of the one built
#                      from this tree (to compare two versions by one method)
#   VERSO_BENCH_CACHE  where scale stores are kept between runs
#                      (default /var/tmp/verso-bench)
#   KEEP=1             keep the work directory (logs, profiles) afterwards
# Needs: go, curl, wrk, nginx (nginx-light), etcd (etcd-server), strace:
#   apt-get install -y wrk nginx-light etcd-server strace curl
set -euo pipefail

mode=full only=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) mode=quick ;;
	--only)
		case "${2:-}" in
		scale | writes) only=$2 ;;
		*)
			echo "usage: bash bench/run.sh [--quick] [--only scale|writes]" >&2
			exit 2
			;;
		esac
		shift
		;;
	*)
		echo "usage: bash bench/run.sh [--quick] [--only scale|writes]" >&2
		exit 2
		;;
	esac
	shift
done
if [ "$mode" = quick ]; then
	read_dur=5s alt_dur=3s write_dur=4s scale_keys=100000 scale_revs=1000000
else
	read_dur=15s alt_dur=10s write_dur=10s scale_keys=1000000 scale_revs=10000000
fi
conns=32
value=0123456789abcdefghij # 20 bytes, as in the issue

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/verso-bench.XXXXXX")
cache=${VERSO_BENCH_CACHE:-/var/tmp/verso-bench}
results="$work/results"
pids=()
began=$(date +%s)

die() {
	echo "bench/run.sh: $*" >&2
	exit 1
}
log() { echo "== $*" >&2; }

cleanup() {
	for p in "${pids[@]}"; do
		kill -TERM "$p" 2>/dev/null || true
	done
	for p in "${pids[@]}"; do
		wait "$p" 2>/dev/null || true
	done
	if [ "${KEEP:-0}" = 1 ]; then
		echo "work directory kept: $work" >&2
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

for tool in go curl wrk nginx etcd strace; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y wrk nginx-light etcd-server strace curl)"
done

# record NAME VALUE: one result, for the table.
record() { echo "$1=$2" >>"$results"; }
get() { sed -n "s/^$1=//p" "$results" | tail -1; }

log "building verso and loadgen"
(cd "$root" && go build -buildvcs=false -o "$work/verso" ./cmd/verso && go build -buildvcs=false -o "$work/loadgen" ./bench/loadgen) ||
	die "go build failed"
if [ -n "${VERSO_BIN:-}" ]; then
	cp "$VERSO_BIN" "$work/verso" # another verso, to compare (same method, same run)
fi
lg="$work/loadgen"

port() { "$lg" port; }

# wait_ok URL SECONDS: poll until URL answers 200.
wait_ok() {
	local deadline=$((SECONDS + $2))
	until curl -fsS -o /dev/null "$1" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "$1 did not answer within $2 s"
		sleep 0.02
	done
}

# start_verso DATA PORT [FLAGS...]: starts verso and sets vpid.
start_verso() {
	local data=$1 p=$2
	shift 2
	"$work/verso" serve --data "$data" --listen "127.0.0.1:$p" --log-level warn "$@" \
		>>"$work/verso.log" 2>&1 &
	vpid=$!
	pids+=("$vpid")
}

stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# rss PID FIELD: a memory figure of /proc/PID/status in bytes.
rss() { awk -v f="$2:" '$1 == f { print $2 * 1024 }' "/proc/$1/status"; }

# read_bench NAME URL [WRK ARGS...]: wrk -t1 -c32; records NAME_rps and
# NAME_p99 (ms).
read_bench() {
	local name=$1 url=$2 out
	shift 2
	out=$(wrk -t1 -c"$conns" -d"$read_dur" --latency "$@" "$url")
	echo "$out" >"$work/wrk-$name.txt"
	record "${name}_rps" "$(echo "$out" | awk '/^Requests\/sec:/ { printf "%d", $2 }')"
	record "${name}_p99" "$(echo "$out" | awk '$1 == "99%" { v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v); if (u == "us") v /= 1000; if (u == "s") v *= 1000; printf "%.2f", v }')"
	local errs
	errs=$(echo "$out" | awk '/Non-2xx|Socket errors/')
	[ -z "$errs" ] || echo "   $name: $errs" >&2
	log "$name: $(get "${name}_rps") req/s, p99 $(get "${name}_p99") ms"
}

# syscalls NAME URL PID...: strace -f -c over 10,000 keep-alive GETs;
# records NAME_syscalls (per GET).
syscalls() {
	local name=$1 url=$2
	shift 2
	local args=() p
	for p in "$@"; do args+=(-p "$p"); done
	strace -f -c -o "$work/strace-$name.txt" "${args[@]}" 2>/dev/null &
	local spid=$!
	sleep 1
	"$lg" hammer -url "$url" -n 10000 -conns 4 >/dev/null
	sleep 0.2
	kill -INT "$spid"
	wait "$spid" 2>/dev/null || true
	local calls
	calls=$(awk '$NF == "total" { print $4 }' "$work/strace-$name.txt")
	record "${name}_syscalls" "$(awk -v c="${calls:-0}" 'BEGIN { printf "%.2f", c / 10000 }')"
	log "$name: $(get "${name}_syscalls") system calls per GET"
}

# --- baselines -------------------------------------------------------------

if [ "$only" != scale ]; then
log "starting nginx, etcd and verso"
if [ "$only" != writes ]; then
mkdir -p "$work/nginx/html" "$work/nginx/tmp"
chmod 755 "$work" "$work/nginx" "$work/nginx/html" # nginx workers run as nobody
printf %s "$value" >"$work/nginx/html/key"
nport=$(port)
cat >"$work/nginx/nginx.conf" <<EOF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 1000000;
	client_body_temp_path $work/nginx/tmp;
	proxy_temp_path $work/nginx/tmp;
	fastcgi_temp_path $work/nginx/tmp;
	uwsgi_temp_path $work/nginx/tmp;
	scgi_temp_path $work/nginx/tmp;
	server {
		listen 127.0.0.1:$nport;
		root $work/nginx/html;
	}
}
EOF
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
npid=$!
pids+=("$npid")
fi

eport=$(port)
epeer=$(port)
fi
if [ "$only" != scale ]; then
etcd --name bench --data-dir "$work/etcd" \
	--listen-client-urls "http://127.0.0.1:$eport" --advertise-client-urls "http://127.0.0.1:$eport" \
	--listen-peer-urls "http://127.0.0.1:$epeer" --initial-advertise-peer-urls "http://127.0.0.1:$epeer" \
	--initial-cluster "bench=http://127.0.0.1:$epeer" --logger zap --log-outputs "$work/etcd.log" &
epid=$!
pids+=("$epid")
fi

vport=$(port)
start_verso "$work/verso-data" "$vport"
fastpid=$vpid

wait_ok "http://127.0.0.1:$vport/readyz" 10
curl -fsS -o /dev/null -X PUT --data-binary "$value" "http://127.0.0.1:$vport/config/key"
[ "$(curl -fsS "http://127.0.0.1:$vport/config/key")" = "$value" ] || die "verso does not serve the value"
if [ "$only" != scale ]; then
[ "$only" = writes ] || wait_ok "http://127.0.0.1:$nport/key" 10
wait_ok "http://127.0.0.1:$eport/health" 20
curl -fsS -o /dev/null -d "{\"key\":\"$(printf key | base64)\",\"value\":\"$(printf %s "$value" | base64)\"}" \
	"http://127.0.0.1:$eport/v3/kv/put"
[ "$only" = writes ] || [ "$(curl -fsS "http://127.0.0.1:$nport/key")" = "$value" ] || die "nginx does not serve the value"
fi

# --- reads -----------------------------------------------------------------

if [ "$only" != writes ]; then
log "reads: wrk -t1 -c$conns -d$read_dur"
[ "$only" = scale ] || read_bench nginx "http://127.0.0.1:$nport/key"
read_bench verso "http://127.0.0.1:$vport/config/key"
# The same through a wrk Lua request loop, as the random-key read at scale
# goes: wrk's own cost per request differs.
"$lg" paths -keys 1 -n 1 | sed 's|/config/s/n0000/k0000|/config/key|' >"$work/one.lua"
read_bench verso_lua "http://127.0.0.1:$vport/config/key" -s "$work/one.lua"
record verso_small_rss "$(rss "$fastpid" VmRSS)"
record verso_small_anon "$(rss "$fastpid" RssAnon)"
fi
if [ "$only" != scale ]; then
if [ "$only" != writes ]; then
cat >"$work/etcd-range.lua" <<EOF
wrk.method = "POST"
wrk.body = '{"key":"$(printf key | base64)"}'
wrk.headers["Content-Type"] = "application/json"
EOF
read_bench etcd "http://127.0.0.1:$eport/v3/kv/range" -s "$work/etcd-range.lua"
syscalls verso_sys "http://127.0.0.1:$vport/config/key" "$fastpid"
syscalls nginx_sys "http://127.0.0.1:$nport/key" "$npid" $(pgrep -P "$npid" | tr '\n' ' ')

# The same verso serving a goroutine per connection, as before the fast
# lane's event loops (see docs/PERFORMANCE.md). Through the environment,
# which a VERSO_BIN older than the loops ignores.
oport=$(port)
VERSO_FAST_LANE_LOOPS=-1 start_verso "$work/verso-one" "$oport"
onepid=$vpid
wait_ok "http://127.0.0.1:$oport/readyz" 10
curl -fsS -o /dev/null -X PUT --data-binary "$value" "http://127.0.0.1:$oport/config/key"
read_bench verso_g "http://127.0.0.1:$oport/config/key"
stop "$onepid"

sport=$(port)
start_verso "$work/verso-slow" "$sport" --fast-lane=false
slowpid=$vpid
wait_ok "http://127.0.0.1:$sport/readyz" 10
curl -fsS -o /dev/null -X PUT --data-binary "$value" "http://127.0.0.1:$sport/config/key"
read_bench nethttp "http://127.0.0.1:$sport/config/key"
syscalls nethttp_sys "http://127.0.0.1:$sport/config/key" "$slowpid"
stop "$slowpid"
fi

# --- writes ----------------------------------------------------------------

# write_bench NAME ARGS...: loadgen write; records NAME_rate, NAME_p99,
# NAME_lost (lost + duplicate revisions + failed checks).
write_bench() {
	local name=$1 out
	shift
	out=$("$lg" write -duration "$write_dur" "$@")
	echo "$out" >>"$work/writes.txt"
	kv() { echo "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
	record "${name}_rate" "$(kv rate)"
	record "${name}_p99" "$(kv p99_ms)"
	record "${name}_lost" "$(($(kv lost) + $(kv dup_revisions) + $(kv check_errors)))"
	log "$name: $out"
}

log "durable writes: $write_dur each"
write_bench verso_w1 -target verso -url "http://127.0.0.1:$vport/config" -clients 1
write_bench verso_w16 -target verso -url "http://127.0.0.1:$vport/config" -clients 16
write_bench etcd_w1 -target etcd -url "http://127.0.0.1:$eport" -clients 1
write_bench etcd_w16 -target etcd -url "http://127.0.0.1:$eport" -clients 16
stop "$epid"
[ "$only" = writes ] || stop "$npid"
fi
stop "$fastpid"

# --- scale -----------------------------------------------------------------

if [ "$only" != writes ]; then
fixture="$cache/scale-k$scale_keys-r$scale_revs"
if [ ! -f "$fixture/verso.db" ]; then
	log "scale: building a store of $scale_keys keys and $scale_revs revisions (once; kept in $fixture)"
	mkdir -p "$cache"
	# Built on tmpfs when it has room, where fsync costs nothing (a failed
	# build is thrown away), then moved to the cache.
	build="$cache"
	need=$((scale_revs * 800))
	if [ -d /dev/shm ] && [ "$(df -B1 --output=avail /dev/shm | tail -1)" -gt $((need * 2)) ]; then
		build=/dev/shm
	fi
	tmp=$(mktemp -d "$build/verso-scale.XXXXXX")
	t0=$(date +%s)
	GOGC=400 "$lg" scale -db "$tmp/verso.db" -keys "$scale_keys" -revisions "$scale_revs" >"$work/scale-build.txt" ||
		{
			rm -rf "$tmp"
			die "building the scale store failed"
		}
	rm -rf "$fixture.tmp"
	mkdir -p "$fixture.tmp"
	mv "$tmp/verso.db" "$fixture.tmp/verso.db"
	rm -rf "$tmp"
	mv "$fixture.tmp" "$fixture"
	record scale_build_s "$(($(date +%s) - t0)) s"
	log "scale: built in $(get scale_build_s): $(cat "$work/scale-build.txt")"
else
	record scale_build_s cached
	log "scale: using the store in $fixture"
fi
record scale_file_mb "$(($(stat -c %s "$fixture/verso.db") >> 20))"

log "scale: start to /readyz"
cport=$(port)
t0=$(date +%s.%N)
start_verso "$fixture" "$cport"
scalepid=$vpid
wait_ok "http://127.0.0.1:$cport/readyz" 120
record scale_ready_s "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
record scale_anon_start "$(rss "$scalepid" RssAnon)"
log "scale: ready in $(get scale_ready_s) s"
"$lg" paths -keys "$scale_keys" -n 10000 >"$work/paths.lua"
read_bench scale_one "http://127.0.0.1:$cport/config/s/n0000/k0000"
read_bench scale_rand "http://127.0.0.1:$cport/config/s/n0000/k0000" -s "$work/paths.lua"
record scale_rss "$(rss "$scalepid" VmRSS)"
record scale_anon "$(rss "$scalepid" RssAnon)"

# Random keys against one key again, each measured twice, alternating
# within the same minute or two: the machine drifts between the reads
# above and this point (the same key at scale has measured from 0.87x to
# 0.97x of the 1-key store), and alternating keeps that drift out of the
# ratio. The one key is a fresh 1-key verso's, asked without Lua, as in
# "GET one key" above.
rport=$(port)
start_verso "$work/verso-ref" "$rport"
refpid=$vpid
wait_ok "http://127.0.0.1:$rport/readyz" 10
curl -fsS -o /dev/null -X PUT --data-binary "$value" "http://127.0.0.1:$rport/config/key"
saved_dur=$read_dur
read_dur=$alt_dur
for i in 1 2; do
	read_bench "alt_one$i" "http://127.0.0.1:$rport/config/key"
	read_bench "alt_rand$i" "http://127.0.0.1:$cport/config/s/n0000/k0000" -s "$work/paths.lua"
done
read_dur=$saved_dur
record alt_one_rps "$((($(get alt_one1_rps) + $(get alt_one2_rps)) / 2))"
record alt_rand_rps "$((($(get alt_rand1_rps) + $(get alt_rand2_rps)) / 2))"
stop "$refpid"
stop "$scalepid"

# Start to ready again on a cold page cache, as after a reboot: only root
# may tell the kernel to drop its caches.
if [ -w /proc/sys/vm/drop_caches ]; then
	log "scale: start to /readyz on a cold page cache"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	t0=$(date +%s.%N)
	start_verso "$fixture" "$cport"
	scalepid=$vpid
	wait_ok "http://127.0.0.1:$cport/readyz" 120
	record scale_cold_s "$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')"
	log "scale: ready in $(get scale_cold_s) s, cold"
	stop "$scalepid"
fi

fi

# --- the table -------------------------------------------------------------

# ratio A B: A / B to two places, "-" if either is missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "-"; else printf "%.2fx", a / b }'; }
path_value=$((${#value} + 14)) # "/s/n0000/k0000" and the value
per_key=$(awk -v r="$(get scale_rss)" -v k="$scale_keys" 'BEGIN { printf "%d", r / k }')
anon=$(awk -v r="$(get scale_anon)" -v k="$scale_keys" 'BEGIN { printf "%d", r / k }')
# beyond KIND: (scale's KIND memory - the 1-key verso's) / keys - path - value
beyond() {
	awk -v r="$1" -v s="$2" -v k="$scale_keys" -v pv="$path_value" 'BEGIN { printf "%d", (r - s) / k - pv }'
}

row() { printf '| %-46s | %14s | %-24s | %8s | %-8s |\n' "$@"; }
if [ "$only" = writes ]; then
	echo
	echo "verso benchmark ($mode, writes only), $(date -u +%Y-%m-%d), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
	echo
	row "what" "verso" "baseline" "ratio" "target"
	row "---" "---" "---" "---" "---"
	row "durable writes/s, 1 client" "$(get verso_w1_rate)" "etcd $(get etcd_w1_rate)" "$(ratio "$(get verso_w1_rate)" "$(get etcd_w1_rate)")" ">= 1.0x"
	row "durable writes/s, 16 clients" "$(get verso_w16_rate)" "etcd $(get etcd_w16_rate)" "$(ratio "$(get verso_w16_rate)" "$(get etcd_w16_rate)")" ">= 2.0x"
	row "write p99 ms, 1 / 16 clients" "$(get verso_w1_p99) / $(get verso_w16_p99)" "etcd $(get etcd_w1_p99) / $(get etcd_w16_p99)" "" ""
	row "acknowledged writes lost (1 + 16 clients)" "$(($(get verso_w1_lost) + $(get verso_w16_lost)))" "etcd $(($(get etcd_w1_lost) + $(get etcd_w16_lost)))" "" "0"
else {
	echo
	echo "verso benchmark ($mode), $(date -u +%Y-%m-%d), $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
	echo
	row "what" "verso" "baseline" "ratio" "target"
	row "---" "---" "---" "---" "---"
	row "GET one key, req/s (wrk -t1 -c$conns)" "$(get verso_rps)" "nginx $(get nginx_rps)" "$(ratio "$(get verso_rps)" "$(get nginx_rps)")" ">= 1.0x"
	row "GET one key, p99 ms" "$(get verso_p99)" "nginx $(get nginx_p99)" "$(ratio "$(get verso_p99)" "$(get nginx_p99)")" "<= 1.0x"
	row "GET one key, req/s, --fast-lane-loops=-1" "$(get verso_g_rps)" "nginx $(get nginx_rps)" "$(ratio "$(get verso_g_rps)" "$(get nginx_rps)")" ""
	row "GET one key, p99 ms, --fast-lane-loops=-1" "$(get verso_g_p99)" "nginx $(get nginx_p99)" "$(ratio "$(get verso_g_p99)" "$(get nginx_p99)")" ""
	row "GET one key, req/s, --fast-lane=false" "$(get nethttp_rps)" "nginx $(get nginx_rps)" "$(ratio "$(get nethttp_rps)" "$(get nginx_rps)")" ""
	row "GET one key, p99 ms, --fast-lane=false" "$(get nethttp_p99)" "nginx $(get nginx_p99)" "$(ratio "$(get nethttp_p99)" "$(get nginx_p99)")" ""
	row "GET one key, req/s" "$(get verso_rps)" "etcd $(get etcd_rps)" "$(ratio "$(get verso_rps)" "$(get etcd_rps)")" ""
	row "durable writes/s, 1 client" "$(get verso_w1_rate)" "etcd $(get etcd_w1_rate)" "$(ratio "$(get verso_w1_rate)" "$(get etcd_w1_rate)")" ">= 1.0x"
	row "durable writes/s, 16 clients" "$(get verso_w16_rate)" "etcd $(get etcd_w16_rate)" "$(ratio "$(get verso_w16_rate)" "$(get etcd_w16_rate)")" ">= 2.0x"
	row "write p99 ms, 1 / 16 clients" "$(get verso_w1_p99) / $(get verso_w16_p99)" "etcd $(get etcd_w1_p99) / $(get etcd_w16_p99)" "" ""
	[ "$only" = scale ] ||
		row "acknowledged writes lost (1 + 16 clients)" "$(($(get verso_w1_lost) + $(get verso_w16_lost)))" "etcd $(($(get etcd_w1_lost) + $(get etcd_w16_lost)))" "" "0"
	row "scale: keys / revisions" "$scale_keys / $scale_revs" "file $(get scale_file_mb) MB" "" ""
	row "scale: GET one key, req/s" "$(get scale_one_rps)" "1-key store $(get verso_rps)" "$(ratio "$(get scale_one_rps)" "$(get verso_rps)")" ">= 0.9x"
	row "scale: GET random keys, req/s" "$(get scale_rand_rps)" "1-key store $(get verso_rps)" "$(ratio "$(get scale_rand_rps)" "$(get verso_rps)")" ""
	row "scale: GET random keys, req/s (both via Lua)" "$(get scale_rand_rps)" "1-key store $(get verso_lua_rps)" "$(ratio "$(get scale_rand_rps)" "$(get verso_lua_rps)")" ""
	row "scale: GET random keys, alternating, req/s" "$(get alt_rand_rps)" "1-key store $(get alt_one_rps)" "$(ratio "$(get alt_rand_rps)" "$(get alt_one_rps)")" ">= 0.9x"
	row "scale: GET random keys, p99 ms" "$(get scale_rand_p99)" "nginx $(get nginx_p99)" "$(ratio "$(get scale_rand_p99)" "$(get nginx_p99)")" ""
	row "scale: start to /readyz 200, s" "$(get scale_ready_s)" "" "" "< 2"
	row "scale: the same on a cold page cache, s" "$(get scale_cold_s)" "" "" "< 2"
	row "scale: RSS per key, bytes (anonymous)" "$per_key ($anon)" "" "" ""
	row "scale: beyond path+value, RSS" "$(beyond "$(get scale_rss)" "$(get verso_small_rss)")" "" "" "< 250"
	row "scale: beyond path+value, anon, at ready" "$(beyond "$(get scale_anon_start)" "$(get verso_small_anon)")" "" "" "< 250"
	row "scale: beyond path+value, anon, after reads" "$(beyond "$(get scale_anon)" "$(get verso_small_anon)")" "" "" "< 250"
	row "system calls per GET (strace -f -c)" "$(get verso_sys_syscalls)" "nginx $(get nginx_sys_syscalls)" "$(ratio "$(get verso_sys_syscalls)" "$(get nginx_sys_syscalls)")" "<= 1.0x"
	row "system calls per GET, --fast-lane=false" "$(get nethttp_sys_syscalls)" "nginx $(get nginx_sys_syscalls)" "$(ratio "$(get nethttp_sys_syscalls)" "$(get nginx_sys_syscalls)")" ""
	echo
	echo "scale store build: $(get scale_build_s); whole run: $(($(date +%s) - began)) s"
	echo "(beyond path+value: (memory at scale - that of a 1-key verso) / keys - $path_value bytes of path and value;"
	echo " RSS counts the data file's pages that bbolt maps, anon the process's own memory)"
}
fi
[ "$only" = scale ] && exit 0
lost=$(($(get verso_w1_lost) + $(get verso_w16_lost)))
if [ "$lost" -ne 0 ]; then
	echo "bench/run.sh: verso lost $lost acknowledged writes (see $work/writes.txt)" >&2
	KEEP=1
	exit 1
fi
