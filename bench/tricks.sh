#!/usr/bin/env bash
# bench/tricks.sh: what each of the read path's tricks gains, one at a time
# off, side by side in one run. Each trick has a build tag that turns it
# off; this script builds verso once as it ships and once per tag, then runs
# `bench/run.sh --only scale` (a 1-key verso and the scale store, random
# keys against one key alternating, memory, start to ready) against each
# binary in turn, twice round so that the machine's drift falls on every
# variant alike, and prints the rows each trick exists for.
#
#   verso_nohugepages   the head cache on huge pages (internal/headcache):
#                       random keys at scale, memory
#   verso_nothreadlock  each fast-lane loop on its own OS thread: random keys
#
# The event loops themselves are weighed by every full bench/run.sh (the
# rows with --fast-lane-loops=-1, a goroutine per connection).
#
# Usage: bash bench/tricks.sh [--quick] [TAG ...]   (default: all the tags)
# Needs what bench/run.sh needs. About 3 minutes a binary a round in full.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
quick=
if [ "${1:-}" = --quick ]; then quick=--quick; shift; fi
tags=("$@")
[ ${#tags[@]} -gt 0 ] || tags=(verso_nohugepages verso_nothreadlock)
work=$(mktemp -d "${TMPDIR:-/tmp}/verso-tricks.XXXXXX")
trap 'rm -rf "$work"' EXIT

cd "$root"
go build -o "$work/verso-base" ./cmd/verso
for t in "${tags[@]}"; do go build -tags "$t" -o "$work/verso-$t" ./cmd/verso; done

variants=(base "${tags[@]}")
for round in 1 2; do
	for v in "${variants[@]}"; do
		echo "--- round $round: $v" >&2
		VERSO_BIN="$work/verso-$v" bash "$root/bench/run.sh" $quick --only scale >"$work/$v.$round.txt" 2>"$work/$v.$round.log" ||
			{ echo "bench/run.sh failed for $v (round $round):" >&2; tail -20 "$work/$v.$round.log" >&2; exit 1; }
	done
done

# field FILE ROW: the verso column of ROW in bench/run.sh's table.
field() { awk -F'|' -v r="$2" 'index($2, r) == 2 { gsub(/ /, "", $3); print $3; exit }' "$1"; }
mean() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "") print "-"; else printf "%.0f", (a + b) / 2 }'; }
rel() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || b + 0 == 0) print "-"; else printf "%+.1f%%", (b - a) / a * 100 }'; }

rows=("scale: GET random keys, alternating, req/s" "scale: GET one key, req/s" "scale: beyond path+value, anon, after reads")
printf '| %-20s | %-44s | %12s | %12s | %12s | %10s |\n' "trick off" "row" "round 1" "round 2" "mean" "with trick"
printf '| %-20s | %-44s | %12s | %12s | %12s | %10s |\n' --- --- --- --- --- ---
for r in "${rows[@]}"; do
	b=$(mean "$(field "$work/base.1.txt" "$r")" "$(field "$work/base.2.txt" "$r")")
	printf '| %-20s | %-44s | %12s | %12s | %12s | %10s |\n' "(none)" "$r" "$(field "$work/base.1.txt" "$r")" "$(field "$work/base.2.txt" "$r")" "$b" ""
	for t in "${tags[@]}"; do
		m=$(mean "$(field "$work/$t.1.txt" "$r")" "$(field "$work/$t.2.txt" "$r")")
		# "with trick": how much better (or worse) verso does with the trick on
		printf '| %-20s | %-44s | %12s | %12s | %12s | %10s |\n' "$t" "$r" "$(field "$work/$t.1.txt" "$r")" "$(field "$work/$t.2.txt" "$r")" "$m" "$(rel "$m" "$b")"
	done
done
