# GameBot event store. `make help` lists the targets.
#
# Targets that need PostgreSQL use TEST_DATABASE_URL / DATABASE_URL when set;
# otherwise they start a throwaway cluster (internal/devdb/devdb.sh) on
# 127.0.0.1 and stop it afterwards.

SHELL := /bin/bash
GO ?= go
SQLC := $(GO) tool -modfile=tools/go.mod sqlc
DEVDB := internal/devdb/devdb.sh
WITH_DB := $(DEVDB) run --
# The replica tests (TestReplica*) run in a second step, against the
# throwaway server with a streaming hot standby (TEST_STANDBY_URL); the other
# tests run without one, so that it does not replay their databases.
WITH_STANDBY := $(DEVDB) run --standby --
# The test targets' throwaway clusters run without fsync. Every test drops
# its database when it ends, and DROP DATABASE waits for a checkpoint while
# it holds a transaction id: the feed's horizon is cluster-wide, so on a busy
# disk that held every other test's feed back (in runs of the whole suite a
# drop took up to 14 s with fsync, under 4 s without). Benchmarks and the
# demo keep the server's defaults.
TEST_DB_OPTS := -c fsync=off
WITH_TEST_DB := env EVENTSTORE_DEVDB_OPTS="$(TEST_DB_OPTS)" $(WITH_DB)
WITH_TEST_STANDBY := env EVENTSTORE_DEVDB_OPTS="$(TEST_DB_OPTS)" $(WITH_STANDBY)
REPLICA_TESTS := ^TestReplica
PKGS := ./...
# The packages whose tests test/exec-modes runs again under pgx's other query
# exec modes (TEST_QUERY_EXEC_MODE).
EXEC_MODE_PKGS := ./store/ ./otelstore/ ./game/
TEST_FLAGS ?= -count=1 -parallel 8 -timeout 20m
DEMO_FLAGS ?=
BENCH_FLAGS ?=
SOAK ?= 5m

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_\/-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: generate
generate: ## Regenerate db/ from sql/ with the pinned sqlc (stale generated files are removed)
	@echo "sqlc generate -> db/"
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
		mkdir -p $$tmp/sql && cp -r sql/schema sql/queries $$tmp/sql/ && cp sqlc.yaml $$tmp/ && \
		$(SQLC) generate -f $$tmp/sqlc.yaml && \
		rm -f db/*.go && cp $$tmp/db/*.go db/

.PHONY: verify
verify: ## Fail when db/ drifts from sql/, a generated file is stale, go.mod is untidy, code is unformatted or plpgsql_check finds a defect
	@echo "verify: sqlc diff"
	@$(SQLC) diff
	@echo "verify: no stale generated files"
	@tmp=$$(mktemp -d) && trap 'rm -rf $$tmp' EXIT && \
		mkdir -p $$tmp/sql && cp -r sql/schema sql/queries $$tmp/sql/ && cp sqlc.yaml $$tmp/ && \
		$(SQLC) generate -f $$tmp/sqlc.yaml && \
		diff -r $$tmp/db db
	@echo "verify: go mod tidy"
	@$(GO) mod tidy -diff
	@echo "verify: gofmt"
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }
	@echo "verify: go vet"
	@$(GO) vet $(PKGS)
	@echo "verify: plpgsql_check (every PL/pgSQL function of the schema)"
	@$(WITH_DB) internal/devdb/plpgsql-check.sh

.PHONY: vet
vet: ## go vet
	$(GO) vet $(PKGS)

.PHONY: lint
lint: vet ## gofmt check and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

.PHONY: test
test: ## Run all tests against a real PostgreSQL, then the replica tests with a hot standby of it (starts throwaway ones if needed)
	$(WITH_TEST_DB) $(GO) test $(TEST_FLAGS) -skip '$(REPLICA_TESTS)' $(PKGS)
	$(WITH_TEST_STANDBY) $(GO) test $(TEST_FLAGS) -run '$(REPLICA_TESTS)' $(PKGS)

.PHONY: test/race
test/race: ## Run all tests with the race detector
	$(WITH_TEST_DB) $(GO) test -race $(TEST_FLAGS) -skip '$(REPLICA_TESTS)' $(PKGS)
	$(WITH_TEST_STANDBY) $(GO) test -race $(TEST_FLAGS) -run '$(REPLICA_TESTS)' $(PKGS)

.PHONY: demo
demo: ## The main job: simulate concurrent GameBot games, broadcast them live, recover and verify every one (DEMO_FLAGS="--replica": read from a hot standby)
	$(if $(findstring --replica,$(DEMO_FLAGS)),$(WITH_STANDBY),$(WITH_DB)) $(GO) run ./cmd/eventstore demo $(DEMO_FLAGS)

.PHONY: db/start
db/start: ## Start the throwaway PostgreSQL and print its URL
	@$(DEVDB) start

.PHONY: db/stop
db/stop: ## Stop the throwaway PostgreSQL
	@$(DEVDB) stop

.PHONY: db/reset
db/reset: ## Reset the dev database through goose (down to 0, then up)
	$(WITH_DB) $(GO) run ./cmd/eventstore migrate reset --yes

.PHONY: test/soak
test/soak: ## Soak test: writers, readers, subscribers and killed backends for SOAK (default 5m), then every invariant
	$(WITH_DB) env EVENTSTORE_SOAK=$(SOAK) $(GO) test -count=1 -timeout 0 -run Soak -v ./internal/reliability/...

.PHONY: test/exec-modes
test/exec-modes: ## Run the store's, otelstore's and game's tests on pools without pgx's statement cache (exec, simple_protocol)
	$(WITH_TEST_DB) env TEST_QUERY_EXEC_MODE=exec $(GO) test $(TEST_FLAGS) -skip '$(REPLICA_TESTS)' $(EXEC_MODE_PKGS)
	$(WITH_TEST_DB) env TEST_QUERY_EXEC_MODE=simple_protocol $(GO) test $(TEST_FLAGS) -skip '$(REPLICA_TESTS)' $(EXEC_MODE_PKGS)

.PHONY: test/race-core
test/race-core: ## Run the store package's tests with the race detector
	$(WITH_TEST_DB) $(GO) test -race $(TEST_FLAGS) -skip '$(REPLICA_TESTS)' ./store/...
	$(WITH_TEST_STANDBY) $(GO) test -race $(TEST_FLAGS) -run '$(REPLICA_TESTS)' ./store/...

.PHONY: bench
bench: ## Benchmarks against raw PostgreSQL baselines, side by side (BENCH_FLAGS="--json --only append_single"; "--replica": with a hot standby)
	$(if $(findstring --replica,$(BENCH_FLAGS)),$(WITH_STANDBY),$(WITH_DB)) $(GO) run ./cmd/eventstore bench $(BENCH_FLAGS)

.PHONY: ci
ci: verify test test/race-core test/exec-modes ## What .ci/run runs: verify, make test, a race run of the store, the store under pgx's other query modes, a small demo
	$(MAKE) demo DEMO_FLAGS="--games 30 --progress=false"
