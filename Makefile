# flightwal: `make run` starts the server on ./data, `make test` runs every test.
GO      ?= go
CACHE   := $(CURDIR)/.cache
BIN     := $(CACHE)/bin
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
PROTOC_GEN_GO_VERSION := v1.36.12
export FLIGHTWAL_CACHE := $(CACHE)
# The SQL engine (package sqlexec: embedded DuckDB, through its Arrow
# interface) is built only with the duckdb_arrow tag; every go command
# below gets it. Without it flightwal builds and Flight SQL metadata
# works, but SQL statements answer Unimplemented (README, Flight SQL).
export GOFLAGS := $(strip $(shell $(GO) env GOFLAGS) -tags=duckdb_arrow)

.PHONY: run build test test-short deps bench proto lint fuzz fuzz-short clean

build:
	$(GO) build -o $(BIN)/flightwal ./cmd/flightwal

run: build
	$(BIN)/flightwal serve

# deps installs what the tests need into .cache (idempotent).
deps: $(BIN)/minio $(CACHE)/node/.installed $(CACHE)/node-v039/.installed

$(BIN)/minio:
	GOBIN=$(BIN) $(GO) install github.com/minio/minio@$(MINIO_VERSION)

$(CACHE)/node/.installed: interop/package.json interop/package-lock.json
	mkdir -p $(CACHE)/node
	cp interop/package.json interop/package-lock.json $(CACHE)/node/
	cd $(CACHE)/node && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# LanceDB 0.39 (Lance 12): its lock file does not satisfy npm ci, so the
# script runs npm install pinned by the lock.
$(CACHE)/node-v039/.installed: interop/v039/package.json interop/v039/package-lock.json
	sh interop/v039/install.sh

# test runs every test on local disk, then the core-path suite (flight,
# cmd/flightwal: put, get, flush, compact, crash/restart, fencing, faults)
# again on a real MinIO server.
test: deps
	$(GO) vet ./...
	FLIGHTWAL_REQUIRE_MINIO=1 $(GO) test -count=1 -timeout 9m ./...
	FLIGHTWAL_REQUIRE_MINIO=1 FLIGHTWAL_TEST_STORE=minio $(GO) test -count=1 -timeout 5m ./flight ./cmd/flightwal
	$(MAKE) --no-print-directory fuzz-short

# fuzz-short runs the decoders of untrusted bytes for a few seconds each
# (make fuzz runs every target longer).
FUZZ_SHORT ?= 8s
fuzz-short:
	$(GO) test -run '^$$' -fuzz '^FuzzDoPut$$' -fuzztime $(FUZZ_SHORT) ./flight
	$(GO) test -run '^$$' -fuzz '^FuzzReplayWALEntry$$' -fuzztime $(FUZZ_SHORT) ./lsm
	$(GO) test -run '^$$' -fuzz '^FuzzRegionManifest$$' -fuzztime $(FUZZ_SHORT) ./lsm
	$(GO) test -run '^$$' -fuzz '^FuzzParseTicket$$' -fuzztime $(FUZZ_SHORT) ./flight
	$(GO) test -run '^$$' -fuzz '^FuzzDecodePage$$' -fuzztime $(FUZZ_SHORT) ./lance

test-short:
	$(GO) test -short -count=1 ./...

# bench runs the Go benchmarks (3 iterations each), then flightwal-bench at
# its default size: the Lance MemWAL results table (62,000 rows, 1024-dim)
# with the real Lance engine beside it, and the ingest table. Its report
# lands in $(BENCH_OUT); docs/benchmarks.md is the committed copy of one run.
BENCH_OUT ?= .cache/bench
bench: deps
	$(GO) build -o $(BIN)/flightwal-bench ./cmd/flightwal-bench
	mkdir -p $(BENCH_OUT)
	$(GO) test -run '^$$' -bench . -benchtime 3x -timeout 10m ./...
	$(BIN)/flightwal-bench --json $(BENCH_OUT)/bench.json --markdown $(BENCH_OUT)/benchmarks.md

# proto regenerates the committed Go code from lance/proto (protoc 3.21, protoc-gen-go $(PROTOC_GEN_GO_VERSION)).
proto:
	GOBIN=$(BIN) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	PATH=$(BIN):$$PATH protoc -I lance/proto --go_out=. --go_opt=module=github.com/flightwal/flightwal lance/proto/*.proto

# fuzz runs every Fuzz* target of the repository for FUZZTIME each, one at
# a time (go test -fuzz takes one target of one package); new failing
# inputs land in that package's testdata/fuzz/ and fail the target.
FUZZTIME ?= 60s
fuzz:
	@set -e; for dir in $$(git grep -l '^func Fuzz' -- '*_test.go' | xargs -n1 dirname | sort -u); do \
		for name in $$(grep -h -o '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2 | sort -u); do \
			echo "== $$dir $$name ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$dir; \
		done; \
	done

lint:
	$(GO) vet ./...
	gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')

clean:
	rm -rf $(CACHE)
