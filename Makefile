# sbx — build, test, cross-build, benchmark. `make help` lists the targets.
GO        ?= go
BIN       := bin/sbx
GOFILES   := $(shell find . -name '*.go' -not -path './bin/*')
CROSS_ENV := GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0
BENCH_COUNT ?= 6

.PHONY: help deps build demo test vet cross bench clean

help:
	@echo "make demo   build bin/sbx and run its main job on the built-in example"
	@echo "make test   the whole test suite (what CI runs)"
	@echo "make bench  benchmarks, with medians and ratios"
	@echo "make cross  FreeBSD vet and build"

# deps installs what the build needs when it is missing: libseccomp-dev
# through apt-get as root, otherwise a message naming the package.
deps:
	@if ! command -v $(GO) >/dev/null; then echo "sbx: Go is not installed (https://go.dev/dl, >= 1.26)" >&2; exit 1; fi
	@if [ ! -f /usr/include/seccomp.h ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing libseccomp-dev"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libseccomp-dev >/dev/null; \
	  else echo "sbx: libseccomp-dev is missing: run 'sudo apt-get install libseccomp-dev'" >&2; exit 1; fi; \
	fi
	@command -v gcc >/dev/null || { echo "sbx: gcc is missing (cgo): run 'sudo apt-get install gcc'" >&2; exit 1; }

build: deps $(BIN)

$(BIN): $(GOFILES) go.mod go.sum $(wildcard spawn/*.c spawn/*.h)
	$(GO) build -o $(BIN) ./cmd/sbx

demo: build
	./$(BIN) demo

vet: deps
	@unformatted=$$(gofmt -l $(GOFILES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...

cross:
	$(CROSS_ENV) $(GO) vet ./...
	$(CROSS_ENV) $(GO) build ./...

test: build vet cross
	$(GO) test -race -count=1 ./...

# bench prints each benchmark's median ns/op over BENCH_COUNT runs, then
# the ratios the spawn issue sets targets for.
bench: deps
	$(GO) test ./spawn -run '^$$' -bench BenchmarkStart -benchtime 100x -count $(BENCH_COUNT) | tee bin/bench-spawn.txt
	@awk -f tests/bench/median.awk bin/bench-spawn.txt

clean:
	rm -rf bin
