#!/usr/bin/env bash
# sqlc-in.sh REPO ARGS... — run the repository's pinned sqlc in the current
# directory (used by `make verify` to regenerate into a scratch folder).
set -euo pipefail
repo=$1
shift
exec go tool -modfile="$repo/tools/go.mod" sqlc "$@"
