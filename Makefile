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

.PHONY: all build exporter test test-unit test-deps lint mixin fuzz bench demo demo-stop docker release tarball package clean

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
	@scripts/need.sh lintian lintian
	@scripts/need.sh rpm rpm
	@scripts/need.sh rpm2archive rpm2cpio
	@scripts/need.sh systemd-analyze systemd

# Both tiers. First the unit tier as issue 19 defines it (test-unit); then
# every test, with the integration tag, as root with the tools installed.
# The exporter those run is built here once, as they would build it
# (internal/testenv), and handed to every package.
test: test-deps test-unit
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && chmod 755 "$$dir" && \
	  echo ">> building the exporter for the tests in $$dir" && \
	  $(GO) run ./internal/testenv/buildexporter -race -o "$$dir/chrony_exporter" && \
	  echo ">> $(GO) test -race -count=1 -tags integration ./..." && \
	  CHRONY_EXPORTER_TEST_BINARY="$$dir/chrony_exporter" $(GO) test -race -count=1 -tags integration ./...

# The unit tier: `go test ./...` with no tags, as nobody (when run as root)
# with only go and sh in PATH and private Go caches; see the script.
test-unit:
	@GO=$(GO) scripts/unit-as-nobody.sh

# With the integration tag, so that the integration tests are linted too.
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet -tags integration ./...
	$(GO) run $(STATICCHECK) -tags integration ./...

# Writes grafana/dashboards/chrony.json and rules/chrony.rules.yml from the
# monitoring mixin in mixin/, their single source.
mixin:
	$(GO) run ./mixin/cmd/render

# Runs each fuzz target for FUZZTIME; new crashers land in testdata/fuzz.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  echo ">> fuzzing $$t for $(FUZZTIME)"; \
	  $(GO) test ./chronyproto -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

# The Go benchmarks (chronyproto, collector), then scrapes of the built
# exporter, each beside a raw snapshot, against a real
# chronyd with 1, 16 and 64 sources (latency p50/p99, series, RSS), and its
# series per collector. PEER, the path of a SuperQ/chrony_exporter binary
# (optional, never needed to build or test), adds the comparison with it on
# the same chronyd: make bench PEER=../shared/peers/superq_exporter
PEER ?=
bench: test-deps exporter
	$(GO) test -tags integration -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./chronyproto/... ./collector/
	$(GO) run ./internal/scrapebench -exporter ./chrony_exporter $(if $(PEER),-peer $(PEER)) $(SCRAPEBENCH_FLAGS)

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

# Release platforms as OS/ARCH, armv7 meaning GOARCH=arm GOARM=7 as in
# promu; .promu.yml's crossbuild list must be the same (a test compares them).
PLATFORMS   ?= linux/amd64 linux/arm64 linux/armv7 freebsd/amd64
RELEASE_DIR ?= .tarballs
PACKAGE_DIR ?= .packages
BUILD_DIR   ?= .build
# nfpm's architecture names; arm7 is armhf in a deb and armv7hl in an rpm.
PACKAGE_ARCHS ?= amd64 arm64 arm7
PACKAGE_MAINTAINER ?= chrony_exporter maintainers <maintainers@users.noreply.r-seed-db8b1ded.example>

# static OS ARCH OUT [EXTRA_LDFLAGS]: links the exporter for one platform,
# cgo off as in .promu.yml, with the version variables of LDFLAGS.
static = case $(2) in armv7|arm7) goarch=arm goarm=7;; *) goarch=$(2) goarm=;; esac; \
	CGO_ENABLED=0 GOOS=$(1) GOARCH=$$goarch GOARM=$$goarm $(GO) build -ldflags '$(LDFLAGS) $(4)' -o $(3) ./cmd/chrony_exporter

# Release tarballs as promu lays them out: RELEASE_DIR/NAME.tar.gz holding
# NAME/ with the static binary, LICENSE, README.md and CHANGELOG.md, NAME
# being chrony_exporter-VERSION.OS-ARCH, and sha256sums.txt over them.
release:
	@rm -rf $(BUILD_DIR)/release $(RELEASE_DIR) && mkdir -p $(BUILD_DIR)/release $(RELEASE_DIR)
	@set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*} arch=$${p#*/}; name=chrony_exporter-$(VERSION).$$os-$$arch; \
	  mkdir $(BUILD_DIR)/release/$$name; \
	  echo ">> $(RELEASE_DIR)/$$name.tar.gz"; \
	  $(call static,$$os,$$arch,$(BUILD_DIR)/release/$$name/chrony_exporter); \
	  cp LICENSE README.md CHANGELOG.md $(BUILD_DIR)/release/$$name/; \
	  tar --owner=0 --group=0 --numeric-owner -czf $(RELEASE_DIR)/$$name.tar.gz -C $(BUILD_DIR)/release $$name; \
	done
	@cd $(RELEASE_DIR) && sha256sum *.tar.gz > sha256sums.txt
	@rm -rf $(BUILD_DIR)/release; rmdir $(BUILD_DIR) 2>/dev/null || true
	@echo ">> $(RELEASE_DIR)/sha256sums.txt"

# The release tarballs (the name this target had before it built them all).
tarball: release

# .deb and .rpm packages for Linux in PACKAGE_DIR (packaging/nfpm.yaml). The
# units are made here from the one unit in examples/systemd: the binary in
# /usr/bin, and chronyd's user named chrony in the rpm. The binaries are
# stripped (-s -w), as distributions ship them; panics still show stacks.
UNIT := examples/systemd/chrony_exporter.service
package:
	@rm -rf $(BUILD_DIR)/package $(PACKAGE_DIR) && mkdir -p $(BUILD_DIR)/package/deb $(BUILD_DIR)/package/rpm $(PACKAGE_DIR)
	@sed 's|^ExecStart=/usr/local/bin/chrony_exporter |ExecStart=/usr/bin/chrony_exporter |' $(UNIT) > $(BUILD_DIR)/package/deb/chrony_exporter.service
	@sed 's/^User=_chrony$$/User=chrony/; s/^Group=_chrony$$/Group=chrony/' $(BUILD_DIR)/package/deb/chrony_exporter.service > $(BUILD_DIR)/package/rpm/chrony_exporter.service
	@grep -q '^ExecStart=/usr/bin/chrony_exporter ' $(BUILD_DIR)/package/deb/chrony_exporter.service && \
	  grep -qx 'User=chrony' $(BUILD_DIR)/package/rpm/chrony_exporter.service && \
	  grep -qx 'Group=chrony' $(BUILD_DIR)/package/rpm/chrony_exporter.service || \
	  { echo "$(UNIT) no longer has the ExecStart=, User= or Group= lines the package rewrites" >&2; exit 1; }
	@{ printf 'chrony-exporter (%s) unstable; urgency=medium\n\n' '$(VERSION)'; \
	  printf '  * Release %s: see CHANGELOG.md beside this file.\n\n' '$(VERSION)'; \
	  printf ' -- %s  %s\n' '$(PACKAGE_MAINTAINER)' "$$(date -R)"; } | gzip -9n > $(BUILD_DIR)/package/changelog.gz
	@set -e; for arch in $(PACKAGE_ARCHS); do \
	  $(call static,linux,$$arch,$(BUILD_DIR)/package/chrony_exporter-$$arch,-s -w); \
	  for packager in deb rpm; do \
	    PKG_VERSION=$(VERSION) PKG_ARCH=$$arch PKG_MAINTAINER='$(PACKAGE_MAINTAINER)' \
	    PKG_BINARY=$(BUILD_DIR)/package/chrony_exporter-$$arch PKG_UNITS=$(BUILD_DIR)/package \
	    PKG_CHANGELOG_GZ=$(BUILD_DIR)/package/changelog.gz \
	      $(GO) tool nfpm package --config packaging/nfpm.yaml --packager $$packager --target $(PACKAGE_DIR)/; \
	  done; \
	done
	@rm -rf $(BUILD_DIR)/package; rmdir $(BUILD_DIR) 2>/dev/null || true

clean:
	rm -f chrony_exporter
	rm -rf $(BUILD_DIR) $(RELEASE_DIR) $(PACKAGE_DIR)
