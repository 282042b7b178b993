#!/usr/bin/env bash
# The full round of the crash harness (cmd/verso/crash_test.go): the real
# verso binary, concurrent writers (puts, deletes, mkcols, transactions),
# SIGKILL at random moments, restart, and proof that every acknowledged
# write is there at its revision, that revisions have no gaps and that
# `verso check` passes after every kill.
#
#   scripts/crash.sh        # 200 cycles
#   scripts/crash.sh 1000   # as many as you like
#
# The last line it prints holds the figures docs/OPERATIONS.md quotes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cycles="${1:-200}"
VERSO_CRASH_CYCLES="$cycles" go test -count=1 -run '^TestCrash$' -v -timeout 3h ./cmd/verso/
