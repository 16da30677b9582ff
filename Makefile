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

.PHONY: all build exporter test test-deps lint fuzz bench demo demo-stop docker tarball clean

all: lint build test

# Compiles every package, and links the exporter in the repository root.
build:
	$(GO) build -ldflags '$(LDFLAGS)' ./...
	$(GO) build -ldflags '$(LDFLAGS)' -o chrony_exporter ./cmd/chrony_exporter

# Links only the exporter (demo, bench and docker/Dockerfile use it).
exporter:
	$(GO) build -ldflags '$(LDFLAGS)' -o chrony_exporter ./cmd/chrony_exporter

test-deps:
	@scripts/need.sh chronyd chrony
	@scripts/need.sh promtool prometheus
	@scripts/need.sh chromium chromium
	@scripts/need.sh docker-compose docker-compose

test: test-deps
	$(GO) test -race -count=1 -tags integration ./...

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

# The Go benchmarks (chronyproto, collector), then scrapes of the built
# exporter, each beside a raw snapshot, against a real
# chronyd with 1, 16 and 64 sources (latency p50/p99, series, RSS).
bench: test-deps exporter
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./chronyproto/... ./collector/
	$(GO) run ./internal/scrapebench -exporter ./chrony_exporter $(SCRAPEBENCH_FLAGS)

# A sealed chronyd pair on loopback (8 sources, chronyd -x), the exporter on
# :9123 against it and, when installed, Prometheus with the rules on :9090.
# Runs in the foreground: Ctrl-C, or `make demo-stop` from another shell,
# stops it and leaves nothing behind. DEMO_FLAGS: see go run ./internal/demo -h.
# (Not `go run`: it exits 1 on Ctrl-C. The shell ignores the Ctrl-C that the
# demo handles, so that it removes the demo binary afterwards.)
demo: exporter
	@scripts/need.sh chronyd chrony
	@mkdir -p .build && $(GO) build -o .build/chrony-demo ./internal/demo
	@trap '' INT; .build/chrony-demo -exporter ./chrony_exporter $(DEMO_FLAGS); \
	  rc=$$?; rm -f .build/chrony-demo; rmdir .build 2>/dev/null; exit $$rc

demo-stop:
	$(GO) run ./internal/demo -stop $(DEMO_FLAGS)

# The container image of docker/Dockerfile (static binary, distroless).
DOCKER       ?= docker
DOCKER_IMAGE ?= chrony-exporter
docker:
	$(DOCKER) build -t $(DOCKER_IMAGE):$(VERSION) -f docker/Dockerfile \
	  --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	  --build-arg BRANCH=$(BRANCH) --build-arg BUILD_USER=$(BUILD_USER) \
	  --build-arg BUILD_DATE=$(BUILD_DATE) .

# A release tarball as promu lays it out: .tarballs/NAME.tar.gz holding
# NAME/ with the static binary (cgo off, as .promu.yml), LICENSE, README.md
# and CHANGELOG.md.
TARBALL_ARCH ?= amd64
TARBALL      := chrony_exporter-$(VERSION).linux-$(TARBALL_ARCH)
tarball:
	@rm -rf .build/$(TARBALL) && mkdir -p .build/$(TARBALL) .tarballs
	CGO_ENABLED=0 GOOS=linux GOARCH=$(TARBALL_ARCH) $(GO) build -ldflags '$(LDFLAGS)' -o .build/$(TARBALL)/chrony_exporter ./cmd/chrony_exporter
	cp LICENSE README.md CHANGELOG.md .build/$(TARBALL)/
	tar --owner=0 --group=0 --numeric-owner -czf .tarballs/$(TARBALL).tar.gz -C .build $(TARBALL)
	@rm -rf .build/$(TARBALL); rmdir .build 2>/dev/null || true
	@echo ">> .tarballs/$(TARBALL).tar.gz"

clean:
	rm -f chrony_exporter
	rm -rf .build .tarballs
