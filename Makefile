# The two commands of the README: `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
GOFLAGS_BUILD := -tags nomsgpack
BIN := bin/personas
STATICCHECK_VERSION := v0.8.2
# Redocly's CLI lints docs/openapi.yaml (redocly.yaml: the recommended ruleset); pinned, in a
# project-local directory.
REDOCLY_VERSION := 2.77.0
REDOCLY_DIR := .tools/redocly
REDOCLY := REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true $(REDOCLY_DIR)/node_modules/.bin/redocly

.PHONY: run test test-hosts lint bench build services browser proxies pgautofailover tools clean redocly lint-openapi

# `personas --version` reads these (the go command stamps no VCS information in a git worktree
# or under GOFLAGS=-buildvcs=false); outside a git checkout the version is "devel".
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)
COMMIT_TIME ?= $(shell git log -1 --format=%cI 2>/dev/null)
MODIFIED ?= $(shell git rev-parse HEAD >/dev/null 2>&1 && { test -z "$$(git status --porcelain 2>/dev/null)" && echo false || echo true; })
LDFLAGS_VERSION = -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.commitTime=$(COMMIT_TIME) -X main.modified=$(MODIFIED)

build:
	$(GO) build $(GOFLAGS_BUILD) -ldflags "$(LDFLAGS_VERSION)" -o $(BIN) ./cmd/personas

services:
	@bash scripts/services.sh

# Debian's Chromium drives the browser tests; installed once, idempotently.
browser:
	@command -v chromium >/dev/null || { echo "installing chromium from Debian's packages" >&2; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

# Debian's nginx and Caddy, for the first-party serving tests (internal/e2e/firstparty_test.go);
# installed once, idempotently. The tests run them as private processes on free ports: the
# packages' own services are not used (and not started where policy-rc.d forbids it).
proxies:
	@{ command -v nginx || test -x /usr/sbin/nginx; } >/dev/null && command -v caddy >/dev/null || { \
		echo "installing nginx and caddy from Debian's packages" >&2; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx caddy) >/dev/null; }

# Debian's pg_auto_failover (monitor extension and pg_autoctl) runs the failover tests'
# formations (internal/testenv.NewFormation); installed once, idempotently.
pgautofailover:
	@{ command -v pg_autoctl >/dev/null && ls /usr/lib/postgresql/*/lib/pgautofailover.so >/dev/null 2>&1; } || \
		{ echo "installing pg_auto_failover from Debian's packages" >&2; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-15-auto-failover pg-auto-failover-cli) >/dev/null; }

# The service answers on :8080 at once; the demo fills its project meanwhile (through its own
# in-process API on a loopback port), so the dashboard is up before the demo data is in.
run: services build
	./$(BIN) migrate up
	@./$(BIN) all & pid=$$!; trap 'kill $$pid 2>/dev/null; wait $$pid; exit 0' INT TERM; \
		./$(BIN) demo || echo "demo failed: the service still runs" >&2; wait $$pid

# The ground-truth tests of classifier and internal/quality train fewer seeds under -race (their
# subject is numbers, and -race makes a training about thirty times slower): the last line runs
# them on every seed without it.
test: services browser proxies pgautofailover lint-openapi
	$(GO) vet $(GOFLAGS_BUILD) ./...
	$(GO) test $(GOFLAGS_BUILD) -race -count=1 -timeout 40m ./...
	$(GO) test $(GOFLAGS_BUILD) -count=1 -run '^TestGroundTruth' ./classifier/ ./internal/quality/
	$(MAKE) test-hosts

# The separate-hosts topology of issue 21 (internal/e2e/hosts_test.go): every node in a network
# namespace of its own on a private bridge (testenv.NewNetwork, TestNetwork). Needs root and iproute2;
# about a minute.
test-hosts: services pgautofailover
	@command -v ip >/dev/null || { echo "installing iproute2 from Debian's packages" >&2; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2) >/dev/null; }
	$(GO) test -tags 'nomsgpack hosts' -race -count=1 -timeout 10m -run '^(TestNetwork|TestSeparateHosts)$$' ./internal/testenv/ ./internal/e2e/

# Redocly's CLI from the npm registry, once per version (Node and npm from Debian if missing).
redocly:
	@command -v npm >/dev/null || { echo "installing nodejs and npm from Debian's packages" >&2; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm) >/dev/null; }
	@grep -qs '"version": "$(REDOCLY_VERSION)"' $(REDOCLY_DIR)/node_modules/@redocly/cli/package.json || \
		npm install --prefix $(REDOCLY_DIR) --no-audit --no-fund --silent @redocly/cli@$(REDOCLY_VERSION)

# The OpenAPI document lints clean: no error and no warning (the build fails on either).
lint-openapi: redocly
	@out=$$($(REDOCLY) lint --config redocly.yaml --max-problems 100 2>&1); rc=$$?; \
		out=$$(echo "$$out" | grep -v '[║╔╚]'); echo "$$out"; \
		if [ $$rc -ne 0 ] || echo "$$out" | grep -q 'You have [0-9]* warning'; then \
			echo "docs/openapi.yaml: Redocly reports errors or warnings (make lint-openapi)" >&2; exit 1; fi

tools:
	@test -x "$$($(GO) env GOPATH)/bin/staticcheck" || $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

lint: tools lint-openapi
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(GOFLAGS_BUILD) ./...
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" staticcheck -tags nomsgpack ./...

bench: services
	$(GO) test $(GOFLAGS_BUILD) -run '^$$' -bench . -benchmem -benchtime 3x ./classifier/ ./privacy/
	$(GO) run $(GOFLAGS_BUILD) ./scripts/load-collect

clean:
	rm -rf bin
