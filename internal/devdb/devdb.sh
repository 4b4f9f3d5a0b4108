#!/usr/bin/env bash
# devdb.sh — a throwaway PostgreSQL cluster for tests, the demo and benchmarks.
#
#   devdb.sh start          start (initdb on first use) and print the URL
#   devdb.sh stop           stop it
#   devdb.sh status         say whether it runs, and its URL
#   devdb.sh url            print the URL (start it first)
#   devdb.sh destroy        stop it and delete its data
#   devdb.sh run -- CMD...  start it unless TEST_DATABASE_URL/DATABASE_URL is
#                           set, run CMD with both variables pointing at it,
#                           and stop it again if this call started it
#
# The cluster lives under /tmp (a folder the postgres OS user can reach even
# when the checkout sits below a directory only root can enter), listens on
# 127.0.0.1 on a free port and has its own socket directory, so it never
# collides with another server. PostgreSQL refuses to run as root: when
# invoked as root, the server runs as the `postgres` OS user.
#
# Settings: EVENTSTORE_DEVDB_DIR overrides the folder; EVENTSTORE_DEVDB_PORT
# the port. When no PostgreSQL server binaries are found and we are root,
# Debian's postgresql package is installed.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
key=$(printf '%s' "$repo_root" | cksum | cut -d' ' -f1)
DIR=${EVENTSTORE_DEVDB_DIR:-/tmp/eventstore-devdb-$key}
DATA=$DIR/data
SOCK=$DIR/sock
LOG=$DIR/server.log

say() { echo "devdb: $*" >&2; }

find_bindir() {
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return 0
	fi
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	if [ -n "$d" ] && [ -x "$d/pg_ctl" ]; then
		echo "$d"
		return 0
	fi
	return 1
}

install_postgres() {
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		say "no PostgreSQL server binaries (initdb, pg_ctl) found; install PostgreSQL 15 or set TEST_DATABASE_URL"
		exit 1
	fi
	say "installing PostgreSQL server (apt-get install postgresql)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq postgresql >&2
}

BIN=$(find_bindir || true)

# as_pg runs a command as the postgres OS user when we are root.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			runuser -u postgres -- "$@"
		else
			su postgres -s /bin/sh -c "$(printf '%q ' "$@")"
		fi
	else
		"$@"
	fi
}

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# pick_port prints a port nobody listens on, chosen below the kernel's
# ephemeral range (or above it when that leaves no room): a port inside the
# range can be taken at any moment by an outgoing connection's local end,
# and PostgreSQL then fails to bind it.
pick_port() {
	local p lo=20000 hi=32767 elo ehi
	if [ -n "${EVENTSTORE_DEVDB_PORT:-}" ]; then
		echo "$EVENTSTORE_DEVDB_PORT"
		return
	fi
	if read -r elo ehi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then
		if [ "$elo" -gt 12000 ]; then
			lo=10000 hi=$((elo - 1))
		elif [ "$ehi" -lt 63000 ]; then
			lo=$((ehi + 1)) hi=65535
		fi
	fi
	for _ in $(seq 1 200); do
		p=$((lo + RANDOM % (hi - lo + 1)))
		if port_free "$p"; then
			echo "$p"
			return
		fi
	done
	say "no free port found"
	exit 1
}

url() {
	echo "postgres://postgres@127.0.0.1:$(cat "$DIR/port")/postgres?sslmode=disable"
}

running() {
	[ -n "$BIN" ] && [ -f "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

start() {
	if running; then
		url
		return 0
	fi
	if [ -z "$BIN" ]; then
		install_postgres
		BIN=$(find_bindir) || { say "PostgreSQL installed but pg_ctl not found"; exit 1; }
	fi
	if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
		useradd --system --home-dir /var/lib/postgresql --shell /bin/sh postgres
	fi
	mkdir -p "$DIR" "$SOCK"
	chmod 700 "$DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$DIR"
	fi
	if [ ! -f "$DATA/PG_VERSION" ]; then
		say "initdb $DATA"
		as_pg "$BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$DIR/initdb.log" 2>&1 ||
			{ cat "$DIR/initdb.log" >&2; exit 1; }
	fi
	# Another server (say a test's own cluster started at the same moment)
	# can take the chosen port between the check and the bind; then try
	# another one. A fixed EVENTSTORE_DEVDB_PORT is tried once.
	local port attempt offset out
	for attempt in 1 2 3 4 5; do
		port=$(pick_port)
		echo "$port" >"$DIR/port"
		offset=$(($(stat -c %s "$LOG" 2>/dev/null || echo 0) + 1))
		say "starting PostgreSQL ($("$BIN/postgres" --version | awk '{print $3}')) on 127.0.0.1:$port, data in $DATA"
		if out=$(as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOG" -w -t 60 start -o \
			"-p $port -k $SOCK -c listen_addresses=127.0.0.1 -c max_connections=500 -c shared_buffers=512MB -c max_wal_size=4GB -c log_min_messages=warning" \
			2>&1); then
			break
		fi
		if [ -n "${EVENTSTORE_DEVDB_PORT:-}" ] || [ "$attempt" -eq 5 ] ||
			! tail -c "+$offset" "$LOG" 2>/dev/null | grep -q "could not create any TCP/IP sockets"; then
			echo "$out" >&2
			tail -n 30 "$LOG" >&2
			exit 1
		fi
		say "port $port was taken meanwhile; trying another"
	done
	url
}

stop() {
	if running; then
		say "stopping PostgreSQL ($DATA)"
		as_pg "$BIN/pg_ctl" -D "$DATA" -w -t 60 stop -m fast >/dev/null
	fi
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status)
	if running; then echo "running: $(url)"; else echo "stopped"; exit 3; fi
	;;
url)
	if running; then url; else say "not running (devdb.sh start)"; exit 1; fi
	;;
destroy)
	stop
	rm -rf "$DIR"
	;;
run)
	shift
	[ "${1:-}" = "--" ] && shift
	if [ -n "${TEST_DATABASE_URL:-}" ] || [ -n "${DATABASE_URL:-}" ]; then
		export TEST_DATABASE_URL=${TEST_DATABASE_URL:-$DATABASE_URL}
		export DATABASE_URL=${DATABASE_URL:-$TEST_DATABASE_URL}
		exec "$@"
	fi
	started=0
	running || started=1
	u=$(start)
	export TEST_DATABASE_URL=$u DATABASE_URL=$u
	set +e
	"$@"
	rc=$?
	set -e
	if [ "$started" -eq 1 ]; then stop; fi
	exit $rc
	;;
*)
	sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
