# make test runs every check the project has; CI runs exactly this.
# It needs only Go: the tools it uses are installed on first use.

GO            ?= go
BIN           := $(CURDIR)/bin
STATICCHECK   := $(BIN)/staticcheck
# Pinned, so that a new release's checks cannot break an unchanged tree.
STATICCHECK_VERSION := v0.8.2
# Every module of the repository: the library and the nested ones.
MODULES       := $(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path './bin/*' | sort))
# How long each fuzz target runs: briefly in make test, longer in make fuzz.
FUZZTIME      ?= 10s
FUZZTIME_LONG ?= 3m
# The newest Go release, tested beside the installed one: Go supports its
# last two releases, and the library must hold on each. GOTOOLCHAIN fetches
# it through the module proxy, like the tools above.
GO_NEWEST     ?= go1.27.4
CHROMIUM      ?= $(shell command -v chromium chromium-browser google-chrome 2>/dev/null | head -n1)

.PHONY: test fmt vet staticcheck race newest-go fuzz fuzz-short e2e chromium bench

test: fmt vet staticcheck race newest-go fuzz-short

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

staticcheck: $(STATICCHECK)
	@for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...) || exit 1; done

# The e2e module's tests drive Chromium, so make race needs it.
race: chromium
	@for m in $(MODULES); do echo "go test -race $$m"; (cd $$m && $(GO) test -race -count=1 ./...) || exit 1; done

# Every module but the browser tests' (run by make race), on GO_NEWEST.
# From Go 1.27, encoding/json runs on json/v2, and the compiled codec must
# still write and read what it does.
newest-go:
	@for m in $(filter-out ./e2e,$(MODULES)); do echo "go test $$m with $(GO_NEWEST)"; \
	  (cd $$m && GOTOOLCHAIN=$(GO_NEWEST) $(GO) test -count=1 ./...) || exit 1; done

# Installs Debian's chromium package when no Chromium is on PATH, if
# apt-get can run (as root, or through sudo without a password).
chromium:
	@if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then \
	  exit 0; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make chromium: the e2e tests need Chromium; install it with your system's package manager (chromium or chromium-browser), then run make again" >&2; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  sudo -n apt-get update && sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
	  echo "make chromium: the e2e tests need Chromium; install it with: sudo apt-get install chromium, then run make again" >&2; exit 1; \
	fi

# go test -fuzz takes one target of one package at a time.
define run_fuzz
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t ($(1))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(1) $$pkg || exit 1; \
	  done; \
	done
endef

fuzz-short:
	$(call run_fuzz,$(FUZZTIME))

fuzz:
	$(call run_fuzz,$(FUZZTIME_LONG))

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
