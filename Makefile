# chrony_exporter. `make test` installs what the tests need (chrony, promtool
# from Debian's prometheus package, and chromium for the status page's browser
# tests) when it runs as root on Debian, and says what to install otherwise.

GO          ?= go
FUZZTIME    ?= 1m
BENCHTIME   ?= 1s
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2

VERSION    ?= $(shell cat VERSION)
REVISION   ?= $(shell git rev-parse HEAD 2>/dev/null)
BRANCH     ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
BUILD_USER ?= $(shell whoami)@$(shell hostname)
BUILD_DATE ?= $(shell date -u +%Y%m%d-%H:%M:%S)

# The same version variables .promu.yml sets for releases.
VERSION_PKG := github.com/prometheus/common/version
LDFLAGS := -X $(VERSION_PKG).Version=$(VERSION) \
           -X $(VERSION_PKG).Revision=$(REVISION) \
           -X $(VERSION_PKG).Branch=$(BRANCH) \
           -X $(VERSION_PKG).BuildUser=$(BUILD_USER) \
           -X $(VERSION_PKG).BuildDate=$(BUILD_DATE)

# Every fuzz target, as package:target.
FUZZ_TARGETS := $(shell grep -ho '^func Fuzz[A-Za-z0-9_]*' chronyproto/*_test.go | sed 's/^func //')

.PHONY: all build test test-deps lint fuzz bench clean

all: lint build test

# Compiles every package, and links the exporter in the repository root.
build:
	$(GO) build -ldflags '$(LDFLAGS)' ./...
	$(GO) build -ldflags '$(LDFLAGS)' -o chrony_exporter ./cmd/chrony_exporter

test-deps:
	@scripts/need.sh chronyd chrony
	@scripts/need.sh promtool prometheus
	@scripts/need.sh chromium chromium

test: test-deps
	$(GO) test -race -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Runs each fuzz target for FUZZTIME; new crashers land in testdata/fuzz.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  echo ">> fuzzing $$t for $(FUZZTIME)"; \
	  $(GO) test ./chronyproto -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

bench: test-deps
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./chronyproto/...

clean:
	rm -f chrony_exporter
