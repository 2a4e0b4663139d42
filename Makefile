# orchd — see README.md. The two commands a fresh Debian machine needs, as root:
#   make demo    build, bring up the 2x2 testbed, establish trust, show the state
#   make test    unit tests, fuzz seeds and (as root) the netns integration tests
GO      ?= go
BIN     := bin
GOFLAGS ?= -buildvcs=false
export GOFLAGS

.PHONY: all build deps test vet demo demo-down bench fuzz clean deb

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./cmd/...

# Installs the Debian packages tests and the testbed use, when root and missing.
deps:
	@scripts/deps.sh

vet:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps build vet
	$(GO) test -count=1 -timeout 270s ./...

demo: deps build
	@scripts/demo.sh

demo-down: build
	$(BIN)/testbed down

# DESIGN §7 quality bars, measured (root; not part of make test).
bench: deps build
	@scripts/bench.sh

# The Debian package (DESIGN §11): dist/orchd_<version>_<arch>.deb, version
# from git describe (scripts/debversion.sh). Needs dpkg-dev and gcc.
deb: deps
	@scripts/deb.sh

# Runs each fuzz target briefly (the seed corpora already run in make test).
fuzz:
	@scripts/fuzz.sh

clean:
	rm -rf $(BIN) dist
