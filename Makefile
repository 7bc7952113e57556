# sbx — build, test, cross-build, benchmark. `make help` lists the targets.
GO        ?= go
BIN       := bin/sbx
GOFILES   := $(shell find . -name '*.go' -not -path './bin/*')
CROSS_ENV := GOOS=freebsd GOARCH=amd64 CGO_ENABLED=0
BENCH_COUNT ?= 6
# urfave/cli's man-page and markdown writers pull in a markdown parser whose
# package init costs about 1 ms at every start of sbx; sbx never calls them.
# Exported, so the builds the tests make carry the tag too.
export GOFLAGS := $(strip $(GOFLAGS) -tags=urfave_cli_no_docs)

.PHONY: help deps build demo rootfs test vet cross bench bench-spawn bench-runtimes conformance clean

help:
	@echo "make demo   build bin/sbx and run examples/hello.json in a sandbox"
	@echo "make rootfs a BusyBox root filesystem in bin/rootfs (examples/busybox.json)"
	@echo "make test   the whole test suite (what CI runs)"
	@echo "make bench  benchmarks, with medians and ratios"
	@echo "make cross  FreeBSD vet and build"
	@echo "make conformance  the OCI runtime-tools validation programs, runc and sbx side by side (root)"

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
	@# The tests read lo's flags with ip(8), run a static BusyBox, and map
	@# subordinate ids without privilege through newuidmap.
	@for need in ip:iproute2 /bin/busybox:busybox-static newuidmap:uidmap; do \
	  cmd=$${need%%:*}; pkg=$${need#*:}; \
	  if ! command -v $$cmd >/dev/null && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing $$pkg"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null 2>&1 || \
	    { DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null; }; \
	  fi; \
	done

build: deps $(BIN)

# STATIC links sbx statically (glibc's and libseccomp's archives, which
# libc6-dev and libseccomp-dev ship): no dynamic loader at each of its
# starts, 1.5 ms less for `sbx run` here (which starts twice: see
# cmd/sbx/seal_linux.go). netgo and osusergo keep glibc's NSS out.
STATIC := -tags=urfave_cli_no_docs,netgo,osusergo -ldflags='-linkmode external -extldflags -static'

$(BIN): $(GOFILES) go.mod go.sum $(wildcard spawn/*.c spawn/*.h cmd/sbx/*.c)
	$(GO) build $(STATIC) -o $(BIN) ./cmd/sbx || \
	  { echo "sbx: static link failed (libseccomp.a missing?): building a dynamic bin/sbx" >&2; \
	    $(GO) build -o $(BIN) ./cmd/sbx; }

demo: build
	./$(BIN) run examples/hello.json

rootfs:
	tests/busybox-rootfs.sh bin/rootfs

vet: deps
	@unformatted=$$(gofmt -l $(GOFILES)); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted" >&2; exit 1; fi
	$(GO) vet ./...

cross:
	$(CROSS_ENV) $(GO) vet ./...
	$(CROSS_ENV) $(GO) build ./...

test: build vet cross
	$(GO) test -race -count=1 ./...

# bench: spawn's own benchmark (medians of BENCH_COUNT runs and the ratios
# the spawn issue sets targets for), then /bin/true from one BusyBox rootfs
# under sbx, bubblewrap, crun and runc, alternating, BENCH_ROUNDS rounds
# (needs root: tests/bench/runtimes.sh).
BENCH_ROUNDS ?= 200
bench: bench-spawn bench-runtimes

bench-spawn: deps
	@mkdir -p bin
	$(GO) test ./spawn -run '^$$' -bench BenchmarkStart -benchtime 100x -count $(BENCH_COUNT) | tee bin/bench-spawn.txt
	@awk -f tests/bench/median.awk bin/bench-spawn.txt

bench-runtimes: build
	SBX=$(BIN) tests/bench/runtimes.sh -n $(BENCH_ROUNDS)

# conformance: runtime-tools v0.9.0's validation programs against runc and
# sbx, in a throwaway mount namespace (tests/conformance/README.md).
conformance: build
	tests/conformance/run.sh

clean:
	rm -rf bin
