# licmesh: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
GO    ?= go
BIN   := $(CURDIR)/bin
PKGS  := ./...
# Release versions are bare semver (1.4.0): a tag v1.4.0 builds as 1.4.0.
VERSION ?= $(patsubst v%,%,$(shell git describe --tags --always --dirty 2>/dev/null || echo dev))
# main.version is collectord's (it links nothing of node/); the linker ignores it elsewhere.
LDFLAGS := -X github.com/licmesh/licmesh/node/version.Version=$(VERSION) -X main.version=$(VERSION)

.PHONY: all build run test unit e2e bench generate lint fuzz deps clean

all: build

## build: compile meshd, collectord (and collectord-full), meshctl and demoproduct into ./bin
# collectord is built without cgo: nothing in it needs cgo, and a static
# binary runs on any Linux host without mapping libc and the dynamic loader
# into every collector (1.2 to 1.8 MiB resident, measured by bench G10 and U2).
# demoproduct, the stand-in product beside it, likewise.
#
# collectord links the SQL drivers of a typical site only: MySQL/MariaDB,
# ProcessMaker's database (seed 000). A collector's resident memory is mostly
# its own code, and the PostgreSQL and SQLite drivers made its image 7.2 MiB
# bigger and it about 2.5 MiB more resident at such a site (bench U2,
# docs/usage.md).
# COLLECTORD_TAGS leaves drivers out (nopostgres, nomysql, nosqlite; empty
# keeps all three). collectord-full has every driver: for a product on
# PostgreSQL or SQLite, such as demoproduct.
COLLECTORD_TAGS ?= nopostgres,nosqlite
STATIC := /cmd/collectord$$|/cmd/demoproduct$$
build:
	@mkdir -p $(BIN)
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ $$($(GO) list ./cmd/... | grep -Ev '$(STATIC)')
	CGO_ENABLED=0 $(GO) build -trimpath -tags '$(COLLECTORD_TAGS)' -ldflags '$(LDFLAGS)' -o $(BIN)/collectord ./cmd/collectord
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/collectord-full ./cmd/collectord
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/ ./cmd/demoproduct

## run: the whole system on one machine, as the real binaries in child
## processes: three masters, collectors and a demo product beside each
run: build
	$(BIN)/meshctl dev

## deps: system packages the tests use (Chromium, iproute2); apt-get when root
deps:
	@bash .ci/deps.sh

## test: every test, race detector on, including the e2e runs of the real binaries
# The second run builds the collector's packages as collectord is built, so
# that a driver left out fails a source clearly (the tests of the drivers
# themselves run in the first, which links every driver).
COLLECTORD_PKGS := ./collectors/sources/... ./cmd/collectord/...
test: deps build lint
	LICMESH_BIN=$(BIN) bash .ci/with-postgres.sh $(GO) test -race -count=1 -timeout 40m $(PKGS)
	$(GO) test -race -count=1 -tags '$(COLLECTORD_TAGS)' $(COLLECTORD_PKGS)

## unit: the fast tests only (no e2e)
unit:
	$(GO) test -race -count=1 $$($(GO) list ./... | grep -v /e2e)
	$(GO) test -race -count=1 -tags '$(COLLECTORD_TAGS)' $(COLLECTORD_PKGS)

## e2e: the fault runs against the real binaries
e2e: build
	LICMESH_BIN=$(BIN) bash .ci/with-postgres.sh $(GO) test -race -count=1 -timeout 30m ./e2e/...

## bench: one table of measurements with ratios against baselines from the same run
bench: build
	LICMESH_BIN=$(BIN) $(GO) run ./e2e/bench/cmd/benchtable

## generate: rebuild the protobuf and ConnectRPC code (tools go to .bin/)
generate:
	@bash .ci/tools.sh gen
	cd mesh/wire && PATH=$(CURDIR)/.bin:$$PATH buf lint && PATH=$(CURDIR)/.bin:$$PATH buf generate

## lint: go vet and staticcheck
lint:
	@bash .ci/tools.sh lint
	$(GO) vet $(PKGS)
	$(GO) vet -tags '$(COLLECTORD_TAGS)' $(COLLECTORD_PKGS)
	$(CURDIR)/.bin/staticcheck $(PKGS)
	$(CURDIR)/.bin/staticcheck -tags '$(COLLECTORD_TAGS)' $(COLLECTORD_PKGS)
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }

## fuzz: a short run of every fuzz target
fuzz:
	@for p in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$p 2>/dev/null | grep ^Fuzz); do \
	    echo "fuzz $$p $$f"; $(GO) test -run=^$$ -fuzz=^$$f$$ -fuzztime=20s -fuzzminimizetime=2s $$p || exit 1; \
	  done; done

clean:
	rm -rf $(BIN)
