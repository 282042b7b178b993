#!/bin/sh
# Side by side: the svn client against Apache httpd + mod_dav_svn and
# against verso, on the same machine and the same content. Prints a table
# of seconds for: one svn import of IMPORT files, one svn commit of COMMIT
# edited files, SINGLE single-file svn commits.
#
#   bench/svn-vs-apache.sh [IMPORT [COMMIT [SINGLE]]]   (default 10000 1000 200)
#
# Needs apache2 with mod_dav_svn (Debian: apache2 libapache2-mod-svn),
# subversion, and a verso binary (VERSO, default: go build ./cmd/verso).
# Run it as root (Apache switches to nobody) or as a user who can bind
# ports above 1024.
set -eu
IMPORT=${1:-10000}
COMMIT=${2:-1000}
SINGLE=${3:-200}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TMP=$(mktemp -d)
chmod 755 "$TMP"
trap 'kill $(cat "$TMP/verso.pid" 2>/dev/null) 2>/dev/null; apache2 -f "$TMP/httpd.conf" -k stop 2>/dev/null; sleep 1; rm -rf "$TMP"' EXIT
VERSO=${VERSO:-$TMP/verso}
[ -x "$VERSO" ] || (cd "$ROOT" && go build -o "$VERSO" ./cmd/verso)

# Apache + mod_dav_svn, as the ancestor ran it
svnadmin create "$TMP/repo"
chown -R nobody "$TMP/repo" 2>/dev/null || true
MODS=/usr/lib/apache2/modules
cat > "$TMP/httpd.conf" <<CONF
ServerRoot "$TMP"
Listen 127.0.0.1:18081
ServerName 127.0.0.1
PidFile "$TMP/httpd.pid"
ErrorLog "$TMP/httpd.err"
LoadModule mpm_event_module $MODS/mod_mpm_event.so
LoadModule authz_core_module $MODS/mod_authz_core.so
LoadModule dav_module $MODS/mod_dav.so
LoadModule dav_svn_module $MODS/mod_dav_svn.so
User nobody
Group nogroup
<Location /config>
  DAV svn
  SVNPath "$TMP/repo"
  SVNAutoversioning on
  Require all granted
</Location>
CONF
apache2 -f "$TMP/httpd.conf" -k start
"$VERSO" serve --listen 127.0.0.1:18082 --data "$TMP/verso-data" 2>"$TMP/verso.err" &
echo $! > "$TMP/verso.pid"
sleep 2

mkfiles() { # DIR N
	mkdir -p "$1"
	i=0
	while [ $i -lt "$2" ]; do
		d=$1/ns$((i / 100))
		mkdir -p "$d"
		echo "value $i" > "$d/key$i"
		i=$((i + 1))
	done
}
mkfiles "$TMP/import" "$IMPORT"
now() { date +%s.%N; }
S="svn --non-interactive --config-dir $TMP/svnconfig -q"

run() { # NAME URL
	t0=$(now)
	$S import -m import "$TMP/import" "$2/imported"
	t1=$(now)
	got=$(svn --non-interactive --config-dir "$TMP/svnconfig" ls -R "$2/imported" | grep -c key)
	[ "$got" -eq "$IMPORT" ] || { echo "$1: svn import made $got files, not $IMPORT" >&2; exit 1; }
	$S checkout "$2/imported" "$TMP/wc-$1"
	n=0
	for f in $(find "$TMP/wc-$1" -name 'key*' -type f | head -n "$COMMIT"); do echo changed >> "$f"; n=$((n + 1)); done
	t2=$(now)
	$S commit -m "$n files" "$TMP/wc-$1"
	t3=$(now)
	f=$(find "$TMP/wc-$1" -name 'key*' -type f | head -n 1)
	i=0
	t4=$(now)
	while [ $i -lt "$SINGLE" ]; do
		echo "$i" >> "$f"
		$S commit -m "single $i" "$f"
		i=$((i + 1))
	done
	t5=$(now)
	echo "$1 $(echo "$t1 - $t0" | bc) $(echo "$t3 - $t2" | bc) $(echo "$t5 - $t4" | bc)"
}
A=$(run apache http://127.0.0.1:18081/config)
V=$(run verso http://127.0.0.1:18082/config)
printf '| server | svn import of %s files | svn commit of %s files | %s single-file commits |\n|---|---|---|---|\n' "$IMPORT" "$COMMIT" "$SINGLE"
for line in "$A" "$V"; do
	set -- $line
	printf '| %s | %.2f s | %.2f s | %.2f s |\n' "$1" "$2" "$3" "$4"
done
