#!/usr/bin/env bash
# plpgsql-check.sh — static checks of every PL/pgSQL function of the schema
# with the plpgsql_check extension.
#
#   plpgsql-check.sh        check, against TEST_DATABASE_URL (else DATABASE_URL)
#
# It creates a scratch database on that server, migrates it with the
# project's own migrations (`go run ./cmd/eventstore migrate up`), creates
# the extension there (this needs a superuser, such as the throwaway
# cluster's postgres user), runs plpgsql_check_function_tb over every
# PL/pgSQL function in schema eventstore (trigger functions with a table
# their trigger is on) and drops the scratch database again.
#
# When the server does not offer the extension and we are root on a Debian
# system, the package postgresql-<major>-plpgsql-check is installed with
# apt-get (this helps only when the server runs on this machine, as the
# throwaway cluster does).
#
# Findings and what fails the check:
#   error                  fails: the function cannot run as written
#   warning                fails: e.g. unused or shadowed variables, a
#                          value that cannot be cast, a missing RETURN
#   security               fails: e.g. a dynamic SQL string built from a
#                          parameter without quoting (SQL injection)
#   warning extra          reported only: e.g. unused parameters, a
#                          parameter that could be IN only
#   performance            reported only: e.g. an implicit cast in a
#                          comparison that may prevent an index scan
# PLPGSQL_CHECK_STRICT=1 makes every finding fail the check.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
url=${TEST_DATABASE_URL:-${DATABASE_URL:-}}
if [ -z "$url" ]; then
	echo "plpgsql-check: set TEST_DATABASE_URL or DATABASE_URL (make verify starts a throwaway server)" >&2
	exit 2
fi

say() { echo "plpgsql-check: $*" >&2; }
psql_on() { psql -X -v ON_ERROR_STOP=1 -q "$@"; }

# with_db URL NAME prints URL with its database replaced by NAME.
with_db() {
	local u=$1 name=$2 query="" rest
	case "$u" in
	*\?*) query="?${u#*\?}" u=${u%%\?*} ;;
	esac
	rest=${u#*://}
	case "$rest" in
	*/*) u="${u%"/${rest#*/}"}" ;;
	esac
	echo "$u/$name$query"
}

available() {
	[ "$(psql_on "$url" -Atc "SELECT count(*) FROM pg_available_extensions WHERE name = 'plpgsql_check'")" = 1 ]
}

if ! available; then
	major=$(psql_on "$url" -Atc "SELECT current_setting('server_version_num')::int / 10000")
	pkg="postgresql-$major-plpgsql-check"
	if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
		say "the server offers no plpgsql_check extension; install $pkg (as root: apt-get install $pkg)"
		exit 1
	fi
	say "installing $pkg"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2
	apt-get install -y -qq "$pkg" >/dev/null
	if ! available; then
		say "$pkg is installed here, but the server at $url does not offer the extension (is it on another machine?)"
		exit 1
	fi
fi

scratch="eventstore_plpgsql_check_$$"
scratch_url=$(with_db "$url" "$scratch")
cleanup() {
	psql_on "$url" -c "DROP DATABASE IF EXISTS $scratch WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT
psql_on "$url" -c "CREATE DATABASE $scratch" >/dev/null
(cd "$repo_root" && go run ./cmd/eventstore --database-url "$scratch_url" migrate up >/dev/null)
psql_on "$scratch_url" -c "CREATE EXTENSION plpgsql_check" >/dev/null

# One row per finding: function, level, line, SQLSTATE, message, detail.
findings=$(psql_on "$scratch_url" -AtF $'\x1f' <<'SQL'
WITH fns AS (
    SELECT p.oid,
           p.oid::regprocedure::text AS name,
           p.prorettype = 'pg_catalog.trigger'::regtype AS is_trigger
      FROM pg_proc p
      JOIN pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_language l ON l.oid = p.prolang
     WHERE n.nspname = 'eventstore' AND l.lanname = 'plpgsql'
), targets AS (
    SELECT f.name,
           f.oid,
           CASE WHEN f.is_trigger
                THEN (SELECT t.tgrelid FROM pg_trigger t WHERE t.tgfoid = f.oid ORDER BY t.oid LIMIT 1)
                ELSE 0::oid END AS relid
      FROM fns f
)
SELECT t.name, c.level, coalesce(c.lineno::text, ''), coalesce(c.sqlstate, ''), c.message,
       regexp_replace(coalesce(c.detail, ''), '\s+', ' ', 'g')
  FROM targets t
 CROSS JOIN LATERAL plpgsql_check_function_tb(
           t.oid, t.relid,
           fatal_errors => false, other_warnings => true, performance_warnings => true,
           extra_warnings => true, security_warnings => true) c
 ORDER BY t.name, c.lineno NULLS FIRST;
SQL
)
checked=$(psql_on "$scratch_url" -Atc "
    SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      JOIN pg_language l ON l.oid = p.prolang
     WHERE n.nspname = 'eventstore' AND l.lanname = 'plpgsql'")

failing=0
reported=0
while IFS=$'\x1f' read -r fn level line state message detail; do
	[ -n "$fn" ] || continue
	case "$level" in
	error | warning | security) fatal=1 ;;
	*) fatal=${PLPGSQL_CHECK_STRICT:-0} ;;
	esac
	if [ "$fatal" = 1 ]; then
		failing=$((failing + 1))
		mark=FAIL
	else
		reported=$((reported + 1))
		mark=note
	fi
	echo "$mark $fn${line:+ line $line}: $level${state:+ ($state)}: $message${detail:+ — $detail}" >&2
done <<<"$findings"

say "$checked PL/pgSQL functions checked: $failing failing finding(s), $reported reported only"
[ "$failing" -eq 0 ]
