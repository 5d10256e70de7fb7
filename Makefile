# ctdb-go: build, test and run targets. See README.md.
#
#   make run    a local 3-node example cluster on loopback
#   make test   everything CI runs (lint, CGO_ENABLED=0 build, go test)

GO        ?= go
BIN       := bin
FUZZTIME  ?= 60s
PKGS      := ./...
# Commands with a go.mod of their own (kept out of ctdbd's dependencies, e.g. the etcd
# lock helper) are built and tested from their own directory.
NESTED    := $(patsubst %/go.mod,%,$(wildcard ctdbd/cmd/*/go.mod))
CMDS      := $(filter-out $(notdir $(NESTED)),$(notdir $(wildcard ctdbd/cmd/*)))

export CGO_ENABLED ?= 0

.PHONY: all build test unit lint fmt vet shellcheck bench fuzz run clean

all: build

## build: every binary under ctdbd/cmd into bin/, statically (CGO_ENABLED=0)
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ $(addprefix ./ctdbd/cmd/,$(CMDS))
	@for d in $(NESTED); do echo "(cd $$d && go build)"; (cd $$d && CGO_ENABLED=0 $(GO) build -trimpath -o $(CURDIR)/$(BIN)/ .) || exit 1; done

## test: lint, then every package's tests
test: lint build unit

unit:
	$(GO) test -count=1 $(PKGS)
	@for d in $(NESTED); do echo "(cd $$d && go test)"; (cd $$d && $(GO) test -count=1 ./...) || exit 1; done

## lint: gofmt, go vet, shellcheck on events.d/ (when installed)
lint: fmt vet shellcheck

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	CGO_ENABLED=0 $(GO) vet $(PKGS)
	@for d in $(NESTED); do (cd $$d && CGO_ENABLED=0 $(GO) vet ./...) || exit 1; done

shellcheck:
	@if command -v shellcheck >/dev/null 2>&1; then \
		files=$$(find events.d -type f ! -name '*.md' 2>/dev/null); \
		if [ -n "$$files" ]; then echo "shellcheck -s sh $$files"; shellcheck -s sh -x $$files; fi; \
	else echo "shellcheck not installed: skipping (apt-get install shellcheck)"; fi

## bench: every benchmark, with allocations
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

## fuzz: every fuzz target for FUZZTIME each (default 60s)
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) ./tests/fuzz-all.sh

## run: a local 3-node example cluster on loopback
run: build
	./tests/local-cluster/run.sh

clean:
	rm -rf $(BIN) dist tmp
