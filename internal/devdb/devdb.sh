#!/usr/bin/env bash
# devdb.sh — a throwaway PostgreSQL cluster for tests, the demo and benchmarks.
#
#   devdb.sh start [--standby]  start (initdb on first use) and print the URL;
#                               --standby also starts a streaming hot standby
#   devdb.sh stop               stop it (and its standby, which is discarded)
#   devdb.sh status             say whether it runs, and its URL
#   devdb.sh url                print the URL (start it first)
#   devdb.sh destroy            stop it and delete its data
#   devdb.sh run [--standby] -- CMD...
#                               start it unless TEST_DATABASE_URL/DATABASE_URL
#                               is set, run CMD with both variables pointing at
#                               it (and TEST_STANDBY_URL/STANDBY_DATABASE_URL at
#                               the standby with --standby), and stop what this
#                               call started
#   devdb.sh standby-url        print the standby's URL
#   devdb.sh standby-stop       stop the standby, keeping its data and slot
#   devdb.sh standby-start      start the standby again (it catches up)
#   devdb.sh promote            stop the primary (all WAL sent), promote the
#                               standby and print its URL, now the primary's
#
# The cluster lives under /tmp (a folder the postgres OS user can reach even
# when the checkout sits below a directory only root can enter), listens on
# 127.0.0.1 on a free port and has its own socket directory, so it never
# collides with another server. PostgreSQL refuses to run as root: when
# invoked as root, the server runs as the `postgres` OS user.
#
# The standby is a pg_basebackup -R copy of the primary (wal_level=replica,
# a physical replication slot, hot_standby=on) in the same folder, on a port
# of its own; every database of the primary is replicated to it.
#
# Settings: EVENTSTORE_DEVDB_DIR overrides the folder; EVENTSTORE_DEVDB_PORT
# the port (of the primary); EVENTSTORE_DEVDB_OPTS adds server options to
# the primary's command line when this call starts it, and
# EVENTSTORE_DEVDB_STANDBY_OPTS to the standby's. When no PostgreSQL server binaries
# are found and we are root, Debian's postgresql package is installed.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
key=$(printf '%s' "$repo_root" | cksum | cut -d' ' -f1)
DIR=${EVENTSTORE_DEVDB_DIR:-/tmp/eventstore-devdb-$key}
DATA=$DIR/data
SOCK=$DIR/sock
LOG=$DIR/server.log
SDATA=$DIR/standby
SSOCK=$DIR/standby-sock
SLOG=$DIR/standby.log
SLOT=eventstore_devdb_standby

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
	if [ "${1:-}" != "--free" ] && [ -n "${EVENTSTORE_DEVDB_PORT:-}" ]; then
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

standby_url() {
	echo "postgres://postgres@127.0.0.1:$(cat "$DIR/standby-port")/postgres?sslmode=disable"
}

running() {
	[ -n "$BIN" ] && [ -f "$DATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

standby_running() {
	[ -n "$BIN" ] && [ -f "$SDATA/PG_VERSION" ] && as_pg "$BIN/pg_ctl" -D "$SDATA" status >/dev/null 2>&1
}

# primary_sql runs one SQL command on the primary and prints the result.
primary_sql() {
	"$BIN/psql" -X -h 127.0.0.1 -p "$(cat "$DIR/port")" -U postgres -d postgres -Atq -v ON_ERROR_STOP=1 -c "$1"
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
			"-p $port -k $SOCK $(server_opts) -c shared_buffers=512MB ${EVENTSTORE_DEVDB_OPTS:-}" \
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

# server_opts are the settings both servers run with (a hot standby needs
# max_connections and friends at least as high as its primary's).
server_opts() {
	echo "-c listen_addresses=127.0.0.1 -c max_connections=500 -c max_wal_size=4GB -c log_min_messages=warning" \
		"-c wal_level=replica -c max_wal_senders=10 -c max_replication_slots=10 -c max_slot_wal_keep_size=4GB" \
		"-c hot_standby=on -c wal_receiver_status_interval=1s"
}

# start_standby starts the hot standby (primary running), taking a fresh
# base backup when there is none or its slot is gone, and prints its URL.
start_standby() {
	if standby_running; then
		standby_url
		return 0
	fi
	if [ -f "$SDATA/PG_VERSION" ] && [ "$(primary_sql "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND wal_status IS DISTINCT FROM 'lost'")" != 1 ]; then
		say "discarding the old standby: its replication slot is gone"
		rm -rf "$SDATA"
	fi
	if [ ! -f "$SDATA/PG_VERSION" ]; then
		if ! grep -Eq '^host[[:space:]]+replication[[:space:]]+all[[:space:]]+127\.0\.0\.1/32' "$DATA/pg_hba.conf"; then
			echo "host replication all 127.0.0.1/32 trust" | as_pg tee -a "$DATA/pg_hba.conf" >/dev/null
			primary_sql "SELECT pg_reload_conf()" >/dev/null
		fi
		primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT'" >/dev/null
		say "pg_basebackup of the primary into $SDATA (replication slot $SLOT)"
		as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$(cat "$DIR/port")" -U postgres -D "$SDATA" -R -X stream \
			-C -S "$SLOT" -c fast --no-sync >"$DIR/basebackup.log" 2>&1 || { cat "$DIR/basebackup.log" >&2; exit 1; }
	fi
	mkdir -p "$SSOCK"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$SSOCK"
	fi
	local port attempt offset out
	for attempt in 1 2 3 4 5; do
		# A restarted standby keeps its port (its clients reconnect there)
		# unless another server took it meanwhile.
		port=
		if [ "$attempt" -eq 1 ] && [ -f "$DIR/standby-port" ] && port_free "$(cat "$DIR/standby-port")"; then
			port=$(cat "$DIR/standby-port")
		fi
		port=${port:-$(pick_port --free)}
		echo "$port" >"$DIR/standby-port"
		offset=$(($(stat -c %s "$SLOG" 2>/dev/null || echo 0) + 1))
		say "starting the hot standby on 127.0.0.1:$port, data in $SDATA"
		if out=$(as_pg "$BIN/pg_ctl" -D "$SDATA" -l "$SLOG" -w -t 120 start -o \
			"-p $port -k $SSOCK $(server_opts) -c shared_buffers=256MB ${EVENTSTORE_DEVDB_STANDBY_OPTS:-}" 2>&1); then
			break
		fi
		if [ "$attempt" -eq 5 ] || ! tail -c "+$offset" "$SLOG" 2>/dev/null | grep -q "could not create any TCP/IP sockets"; then
			echo "$out" >&2
			tail -n 30 "$SLOG" >&2
			exit 1
		fi
		say "port $port was taken meanwhile; trying another"
	done
	standby_url
}

stop_standby() {
	if standby_running; then
		say "stopping the hot standby ($SDATA)"
		as_pg "$BIN/pg_ctl" -D "$SDATA" -w -t 60 stop -m fast >/dev/null
	fi
}

# discard_standby stops the standby, deletes it and drops its slot, so that
# the primary keeps no WAL for it.
discard_standby() {
	stop_standby
	if [ -d "$SDATA" ]; then
		rm -rf "$SDATA"
	fi
	if running; then
		primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$SLOT' AND NOT active" >/dev/null || true
	fi
}

stop() {
	discard_standby
	if running; then
		say "stopping PostgreSQL ($DATA)"
		as_pg "$BIN/pg_ctl" -D "$DATA" -w -t 60 stop -m fast >/dev/null
	fi
}

# promote stops the primary (a fast shutdown sends every WAL record to the
# standby first) and promotes the standby.
promote() {
	standby_running || { say "no standby runs"; exit 1; }
	if running; then
		say "stopping the primary ($DATA)"
		as_pg "$BIN/pg_ctl" -D "$DATA" -w -t 60 stop -m fast >/dev/null
	fi
	say "promoting the standby ($SDATA)"
	as_pg "$BIN/pg_ctl" -D "$SDATA" -w -t 60 promote >/dev/null
	standby_url
}

case "${1:-}" in
start)
	start
	if [ "${2:-}" = "--standby" ]; then
		start_standby >/dev/null
	fi
	;;
stop) stop ;;
status)
	if running; then echo "running: $(url)"; else echo "stopped"; exit 3; fi
	if standby_running; then echo "standby: $(standby_url)"; fi
	;;
url)
	if running; then url; else say "not running (devdb.sh start)"; exit 1; fi
	;;
standby-url)
	if standby_running; then standby_url; else say "no standby runs (devdb.sh start --standby)"; exit 1; fi
	;;
standby-stop) stop_standby ;;
standby-start)
	running || { say "the primary is not running (devdb.sh start)"; exit 1; }
	start_standby
	;;
promote) promote ;;
destroy)
	stop
	rm -rf "$DIR"
	;;
run)
	shift
	want_standby=0
	if [ "${1:-}" = "--standby" ]; then
		want_standby=1
		shift
	fi
	[ "${1:-}" = "--" ] && shift
	if [ -n "${TEST_DATABASE_URL:-}" ] || [ -n "${DATABASE_URL:-}" ]; then
		export TEST_DATABASE_URL=${TEST_DATABASE_URL:-$DATABASE_URL}
		export DATABASE_URL=${DATABASE_URL:-$TEST_DATABASE_URL}
		if [ -n "${TEST_STANDBY_URL:-}" ] || [ -n "${STANDBY_DATABASE_URL:-}" ]; then
			export TEST_STANDBY_URL=${TEST_STANDBY_URL:-$STANDBY_DATABASE_URL}
			export STANDBY_DATABASE_URL=${STANDBY_DATABASE_URL:-$TEST_STANDBY_URL}
		elif [ "$want_standby" -eq 1 ]; then
			say "TEST_DATABASE_URL is set but TEST_STANDBY_URL is not: the replica tests are skipped"
		fi
		exec "$@"
	fi
	started=0
	running || started=1
	u=$(start)
	export TEST_DATABASE_URL=$u DATABASE_URL=$u
	standby_started=0
	if [ "$want_standby" -eq 1 ]; then
		standby_running || standby_started=1
		su=$(start_standby)
		export TEST_STANDBY_URL=$su STANDBY_DATABASE_URL=$su
	fi
	set +e
	"$@"
	rc=$?
	set -e
	if [ "$started" -eq 1 ]; then
		stop
	elif [ "$standby_started" -eq 1 ]; then
		discard_standby
	fi
	exit $rc
	;;
*)
	sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'
	exit 2
	;;
esac
