#!/usr/bin/env bash
# bench/svn.sh: the real svn client against verso and against Apache httpd
# with mod_dav_svn (verso's ancestor), side by side, in one run, on the
# same content, on loopback. It builds verso and bench/svngen, which
# writes one history twice: a verso bolt store (offline, through the bolt
# store's Commit) and a Subversion dump stream that `svnadmin load` turns
# into the repository Apache serves (both kept in the cache between runs).
# It starts Apache itself, with its own configuration in the work
# directory (mpm_event, `<Location /config> DAV svn; SVNPath REPO;
# SVNAutoversioning on`), and verso (`verso serve`), and measures:
#
#   checkout  svn checkout of the whole tree: 10,000 keys in 100
#             namespaces, values of 100 B to 4 KiB
#   log       svn log -v of the root: 10,000 revisions
#   update    svn update of that working copy across the last 1,000
#             revisions (brought back to HEAD-1000 untimed before each)
#   blame     svn blame of a key with 500 versions
#
# Each operation gets a freshly started server of each kind and runs
# alternately against verso and Apache, 3 times each; the table shows the
# median wall time, the server's CPU time (user + system, from /proc) and
# the svn client's, averaged over the runs, and each server's peak
# resident memory over that operation (VmHWM; for Apache summed over its
# processes, which counts their shared pages more than once). Before the
# table, the outputs are compared: the checked-out and updated trees, the
# whole log -v and the blame must be the same from both servers.
#
# Benchmarks report; they never fail on timing (the exit status says only
# whether the run worked and both servers gave the same content).
#
# Usage: bash bench/svn.sh [--quick]
#   --quick   1,000 keys in 10 namespaces, 1,000 revisions, an update
#             across 100, a key of 50 versions, one run each
# Environment:
#   VERSO_BIN          a verso binary to measure instead of the one built
#                      from this tree
#   VERSO_BENCH_CACHE  where built stores and repositories are kept
#                      (default /var/tmp/verso-bench)
#   KEEP=1             keep the work directory (logs, outputs; not the
#                      working copies) afterwards
# Needs: go, curl, svn and svnadmin (subversion), apache2 and mod_dav_svn
# (libapache2-mod-svn), run as root (Apache drops to www-data):
#   apt-get install -y subversion apache2 libapache2-mod-svn curl
set -euo pipefail

mode=full
case "${1:-}" in
"") ;;
--quick) mode=quick ;;
*)
	echo "usage: bash bench/svn.sh [--quick]" >&2
	exit 2
	;;
esac
if [ "$mode" = quick ]; then
	nss=10 perns=100 revs=1000 upd=100 blame=50 reps=1
else
	nss=100 perns=100 revs=10000 upd=1000 blame=500 reps=3
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/verso-svn-bench.XXXXXX")
chmod 755 "$work"
cache=${VERSO_BENCH_CACHE:-/var/tmp/verso-bench}
# The working copies go on tmpfs when there is one, so that the svn
# client's own disk writes (its files and working-copy database) stay out
# of the servers' comparison.
wcs="$work/wc"
[ -d /dev/shm ] && wcs=$(mktemp -d /dev/shm/verso-svn-wc.XXXXXX)
pids=()
apache_user=www-data
mods=/usr/lib/apache2/modules

log() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	if [ "${KEEP:-}" = 1 ]; then
		log "work directory kept: $work"
	else
		rm -rf "$work"
	fi
	rm -rf "$wcs"
}
trap cleanup EXIT

for tool in go curl svn svnadmin apache2; do
	command -v "$tool" >/dev/null || die "$tool is missing (apt-get install -y subversion apache2 libapache2-mod-svn curl)"
done
[ -f "$mods/mod_dav_svn.so" ] || die "mod_dav_svn is missing (apt-get install -y libapache2-mod-svn)"
[ "$(id -u)" = 0 ] || die "run as root: Apache starts as root and serves as $apache_user"

log "building verso and svngen"
(cd "$root" && go build -buildvcs=false -o "$work/verso" ./cmd/verso && go build -buildvcs=false -o "$work/svngen" ./bench/svngen) ||
	die "go build failed"
if [ -n "${VERSO_BIN:-}" ]; then
	cp "$VERSO_BIN" "$work/verso"
fi

# --- the content -------------------------------------------------------------

gen=$(sha256sum "$root/bench/svngen/main.go" | cut -c1-12)
fixture="$cache/svn-n$nss-k$perns-r$revs-b$blame-$gen"
if [ ! -f "$fixture/verso.db" ]; then
	log "building $((nss * perns)) keys and $revs revisions for both servers (once; kept in $fixture)"
	mkdir -p "$cache"
	build="$cache"
	[ -d /dev/shm ] && build=/dev/shm # fsync costs nothing there
	tmp=$(mktemp -d "$build/verso-svn.XXXXXX")
	t0=$SECONDS
	"$work/svngen" -db "$tmp/verso.db" -dump "$tmp/history.dump" -namespaces "$nss" -keys "$perns" \
		-revisions "$revs" -blame "$blame" >"$work/build.txt" || {
		rm -rf "$tmp"
		die "svngen failed"
	}
	svnadmin create "$tmp/repo"
	svnadmin load -q --no-flush-to-disk "$tmp/repo" <"$tmp/history.dump" || {
		rm -rf "$tmp"
		die "svnadmin load failed"
	}
	rm -rf "$fixture.tmp"
	mkdir -p "$fixture.tmp"
	mv "$tmp/verso.db" "$tmp/repo" "$fixture.tmp/"
	rm -rf "$tmp"
	mv "$fixture.tmp" "$fixture"
	log "built in $((SECONDS - t0)) s: $(cat "$work/build.txt")"
else
	log "using the store and repository in $fixture"
fi
mkdir -p "$work/verso-data"
cp "$fixture/verso.db" "$work/verso-data/verso.db"
repo="$fixture/repo"
chown -R "$apache_user:$apache_user" "$repo"
chmod 755 "$cache" "$fixture"
head=$(svnlook youngest "$repo")
[ "$head" = "$revs" ] || die "the repository's head is $head, not $revs"

# --- the servers -------------------------------------------------------------

port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

wait_ok() {
	local deadline=$((SECONDS + $2))
	until curl -fsS -o /dev/null "$1" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || die "$1 did not answer within $2 s"
		sleep 0.05
	done
}

# start_verso: sets vpid and vurl.
start_verso() {
	local p
	p=$(port)
	"$work/verso" serve --data "$work/verso-data" --listen "127.0.0.1:$p" --log-level warn \
		>>"$work/verso.log" 2>&1 &
	vpid=$!
	pids+=("$vpid")
	vurl="http://127.0.0.1:$p/config"
	wait_ok "$vurl/" 30
}

# start_apache: sets apid and aurl.
start_apache() {
	local p dir="$work/apache"
	p=$(port)
	mkdir -p "$dir"
	cat >"$dir/httpd.conf" <<EOF
ServerRoot "$dir"
DefaultRuntimeDir "$dir"
PidFile "$dir/httpd.pid"
ErrorLog "$dir/error.log"
LogLevel warn
ServerName 127.0.0.1
Listen 127.0.0.1:$p
User $apache_user
Group $apache_user
LoadModule mpm_event_module $mods/mod_mpm_event.so
LoadModule authz_core_module $mods/mod_authz_core.so
LoadModule dav_module $mods/mod_dav.so
LoadModule dav_svn_module $mods/mod_dav_svn.so
<Location /config>
    DAV svn
    SVNPath "$repo"
    SVNAutoversioning on
    Require all granted
</Location>
EOF
	apache2 -f "$dir/httpd.conf" -DFOREGROUND >>"$dir/stdout.log" 2>&1 &
	apid=$!
	pids+=("$apid")
	aurl="http://127.0.0.1:$p/config"
	wait_ok "$aurl/" 30
}

stop() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

# procs PID: PID and its children (Apache's parent and its workers).
procs() {
	echo "$1"
	cat /proc/"$1"/task/*/children 2>/dev/null | tr ' ' '\n' | sed '/^$/d'
}

# cpu PID: user + system CPU time of PID and its children (those running,
# and those it has waited for), in ticks.
cpu() {
	local p t
	t=$(sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }')
	for p in $(procs "$1" | tail -n +2); do
		[ -r "/proc/$p/stat" ] || continue
		t=$((t + $(sed 's/.*) //' "/proc/$p/stat" | awk '{ print $12 + $13 }')))
	done
	echo "$t"
}

# hwm PID: peak resident memory of PID and its children, summed, in MiB.
hwm() { mem "$1" VmHWM; }

# mem PID FIELD: a memory figure of /proc/PID/status (such as RssAnon) for
# PID and its children, summed, in MiB.
mem() {
	local p k=0
	for p in $(procs "$1"); do
		k=$((k + $(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)))
	done
	echo $((k / 1024))
}

# svnc: svn with its own configuration (no cached credentials), as a
# command that /usr/bin/time can run.
printf '#!/bin/sh\nexec svn --non-interactive --config-dir "%s/svnconfig" "$@"\n' "$work" >"$work/svnc"
chmod +x "$work/svnc"
svnc() { "$work/svnc" "$@"; }

# --- measuring ---------------------------------------------------------------

results="$work/results"
record() { echo "$1=$2" >>"$results"; }
get() { sed -n "s/^$1=//p" "$results" | tail -1; }
tck=$(getconf CLK_TCK)

# timed OP SIDE SERVERPID CMD...: runs CMD (stdout to $work/out-OP-SIDE),
# appends its wall time and client CPU seconds to $work/t-OP-SIDE and the
# server's CPU ticks to $work/s-OP-SIDE.
timed() {
	local op=$1 side=$2 spid=$3 c0 c1
	shift 3
	c0=$(cpu "$spid")
	/usr/bin/time -f '%e %U %S' -o "$work/time" "$@" >"$work/out-$op-$side" 2>"$work/err-$op-$side" ||
		die "$op against $side failed: $(tail -3 "$work/err-$op-$side")"
	c1=$(cpu "$spid")
	awk '{ print $1, $2 + $3 }' "$work/time" >>"$work/t-$op-$side"
	echo $((c1 - c0)) >>"$work/s-$op-$side"
}

# summarize OP SIDE SERVERPID: records OP_SIDE_s (median wall), _server
# and _client (mean CPU seconds) and _rss (MiB).
summarize() {
	local op=$1 side=$2
	record "${op}_${side}_s" "$(awk '{ print $1 }' "$work/t-$op-$side" | sort -n | awk '{ v[NR] = $1 } END { printf "%.2f", v[int((NR + 1) / 2)] }')"
	record "${op}_${side}_client" "$(awk '{ s += $2 } END { printf "%.2f", s / NR }' "$work/t-$op-$side")"
	record "${op}_${side}_server" "$(awk -v t="$tck" '{ s += $1 } END { printf "%.2f", s / NR / t }' "$work/s-$op-$side")"
	record "${op}_${side}_rss" "$(hwm "$3")"
	record "${op}_${side}_anon" "$(mem "$3" RssAnon)"
}

# bench OP: starts both servers, runs run_OP SIDE URL PID alternately
# $reps times each, records the figures, stops the servers.
bench() {
	local op=$1 i
	start_verso
	start_apache
	"prep_$op" verso "$vurl"
	"prep_$op" apache "$aurl"
	for i in $(seq "$reps"); do
		"run_$op" verso "$vurl" "$vpid"
		"run_$op" apache "$aurl" "$apid"
	done
	summarize "$op" verso "$vpid"
	summarize "$op" apache "$apid"
	stop "$vpid"
	stop "$apid"
	log "$op: verso $(get "${op}_verso_s") s, Apache $(get "${op}_apache_s") s"
}

prep_checkout() { :; }
run_checkout() {
	rm -rf "$wcs/co-$1"
	timed checkout "$1" "$3" "$work/svnc" checkout -q "$2" "$wcs/co-$1"
}

old=$((head - upd))
prep_update() { svnc checkout -q -r "$old" "$2" "$wcs/up-$1"; }
run_update() {
	svnc update -q -r "$old" "$wcs/up-$1" >/dev/null
	timed update "$1" "$3" "$work/svnc" update -q "$wcs/up-$1"
}

prep_log() { :; }
run_log() { timed log "$1" "$3" "$work/svnc" log -v "$2"; }

prep_blame() { :; }
run_blame() { timed blame "$1" "$3" "$work/svnc" blame "$2/n000/k000"; }

log "checkout of $((nss * perns)) keys, log -v of $revs revisions, update across $upd, blame of $blame versions; $reps run(s) each"
for op in checkout log update blame; do
	bench "$op"
done

# --- the same content? -------------------------------------------------------

same=yes
differ() {
	same=no
	log "DIFFERENT: $*"
}
diff -r -x .svn "$wcs/co-verso" "$wcs/co-apache" >"$work/diff-checkout" || differ "checkout (see $work/diff-checkout)"
diff -r -x .svn "$wcs/up-verso" "$wcs/up-apache" >"$work/diff-update" || differ "updated tree"
for op in log blame; do
	cmp -s "$work/out-$op-verso" "$work/out-$op-apache" || differ "$op output"
done
[ "$(grep -c '^r[0-9]* |' "$work/out-log-verso")" = "$revs" ] || differ "log -v does not list $revs revisions"
[ "$(find "$wcs/co-verso" -path '*/.svn' -prune -o -type f -print | wc -l)" = $((nss * perns)) ] || differ "checkout does not hold $((nss * perns)) keys"
log "same content from both servers: $same"

# --- the table ----------------------------------------------------------------

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "-" }'; }
echo
echo "| operation | verso s | Apache s | Apache / verso | server CPU s, verso / Apache | Apache / verso, server CPU | svn client CPU s, verso / Apache | peak RSS MiB (anonymous at end), verso / Apache |"
echo "| --- | --- | --- | --- | --- | --- | --- | --- |"
row() {
	local op=$1 what=$2
	echo "| $what | $(get "${op}_verso_s") | $(get "${op}_apache_s") | $(ratio "$(get "${op}_apache_s")" "$(get "${op}_verso_s")") | $(get "${op}_verso_server") / $(get "${op}_apache_server") | $(ratio "$(get "${op}_apache_server")" "$(get "${op}_verso_server")") | $(get "${op}_verso_client") / $(get "${op}_apache_client") | $(get "${op}_verso_rss") ($(get "${op}_verso_anon")) / $(get "${op}_apache_rss") ($(get "${op}_apache_anon")) |"
}
row checkout "svn checkout, $((nss * perns)) keys in $nss namespaces"
row log "svn log -v, $revs revisions"
row update "svn update across $upd revisions"
row blame "svn blame, $blame versions"
echo
echo "same content from both servers: $same; $reps run(s) per figure; $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$same" = yes ]
