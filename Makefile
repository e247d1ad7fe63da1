# kplay: `make demo` runs the demo pod, `make test` runs every test.
# Both install and start what they need (Debian/Ubuntu, as root).

GO      ?= go
BIN     := bin/kplay
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS := -X main.version=$(VERSION)
E2E_TIMEOUT ?= 70m
# PREV_COMMIT is the kplay before the slim CNI chain: e2e creates a pod with it and
# removes it with this one (TestPodOfPreviousKplay). Built once into PREV_BIN.
PREV_COMMIT := 0f21c7f
PREV_BIN    := bin/kplay-prev-$(PREV_COMMIT)

export PATH := /usr/local/go/bin:$(PATH)

.PHONY: build helper test test-unit e2e test-crash bench demo deps lint clean

# build embeds the committed kplay-helper as it is: it never rewrites tracked files.
build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kplay

# helper rebuilds kplay-helper, the program every pod runs (pause, log driver, start
# hook), which kplay embeds; run it after changing its sources (cmd/kplay-helper,
# pkg/pause, ...) and commit the result: pkg/helperbin's test fails when the committed
# one is stale. Its bytes depend on the Go toolchain: use go.mod's toolchain.
helper:
	$(GO) generate ./pkg/helperbin

test: deps test-unit e2e

test-unit:
	$(GO) test -count=1 ./cmd/... ./pkg/... ./e2e/bench/...

# e2e drives the built binary against the real daemons; the network package's tests
# that change the host's networking run here too, not in test-unit.
e2e: build $(PREV_BIN) deps
	$(GO) test -count=1 -tags hostnet ./pkg/network/ ./pkg/service/
	KPLAY_BIN=$(CURDIR)/$(BIN) KPLAY_PREV_BIN=$(CURDIR)/$(PREV_BIN) $(GO) test -count=1 -timeout $(E2E_TIMEOUT) -v ./e2e/...

# The previous kplay, from a tree of PREV_COMMIT (the CI clones the full history).
# Only kplay's own packages compile anew: the dependencies are in the build cache.
$(PREV_BIN):
	@git cat-file -e $(PREV_COMMIT)^{commit} 2>/dev/null || { echo "make: commit $(PREV_COMMIT) is not in this clone (a shallow clone?): run git fetch --unshallow" >&2; exit 1; }
	rm -rf bin/.prev-src && mkdir -p bin/.prev-src
	git archive $(PREV_COMMIT) | tar -x -C bin/.prev-src
	cd bin/.prev-src && $(GO) build -o $(CURDIR)/$(PREV_BIN) ./cmd/kplay
	rm -rf bin/.prev-src

# test-crash is the full kill-anywhere test: 40 kills of up and 40 of down, each
# followed by down and the leak check (make test runs a short form).
test-crash: build deps
	KPLAY_CRASH_RUNS=$${KPLAY_CRASH_RUNS:-40} KPLAY_BIN=$(CURDIR)/$(BIN) $(GO) test -count=1 -timeout $(E2E_TIMEOUT) -v -run 'TestKillAnywhere' ./e2e/...

# bench times kplay against podman 4.3 and the containerd-client floor and rewrites
# docs/benchmarks.md and docs/benchmarks.json (RUNS=5 rounds by default, about 6 minutes).
bench: build deps
	GO=$(GO) KPLAY_BIN=$(CURDIR)/$(BIN) e2e/env/bench.sh

demo: build deps
	e2e/env/demo.sh

deps:
	e2e/env/deps.sh

lint:
	@out=$$(gofmt -l cmd pkg e2e); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags hostnet ./pkg/network/ ./pkg/service/

clean:
	rm -rf bin
