# make test runs every check the project has; CI runs exactly this, on a
# fresh Debian machine with only Go installed. The programs the checks need
# are installed on first use, and the first line make test prints says
# which it will install with apt-get and fetch through the Go module proxy.

GO            ?= go
# Each module is built and tested on its own, as its users get it: go.work
# is only there so that `go run ./example` works from the root.
export GOWORK := off
BIN           := $(CURDIR)/bin
STATICCHECK   := $(BIN)/staticcheck
# Pinned, so that a new release's checks cannot break an unchanged tree.
STATICCHECK_VERSION := v0.8.2
# gocyclo keeps every function of the library, revocation/, cmd/,
# internal/, redisstore/ and the example at cyclomatic complexity 15 or
# less (make cyclo).
GOCYCLO       := $(BIN)/gocyclo
GOCYCLO_VERSION := v0.6.0
CYCLO_DIRS    := $(wildcard *.go) ./revocation ./cmd ./internal ./filestore ./redisstore ./example
# Every module of the repository: the library and the nested ones.
MODULES       := $(patsubst %/go.mod,%,$(shell find . -name go.mod -not -path './bin/*' | sort))
# How long each fuzz target runs: briefly in make test, longer in make fuzz.
FUZZTIME      ?= 10s
FUZZTIME_LONG ?= 3m
# The newest Go release, tested beside the installed one: Go supports its
# last two releases, and the library must hold on each. GOTOOLCHAIN fetches
# it through the module proxy, like the tools above.
GO_NEWEST     ?= go1.27.4

# The e2e tests drive Chromium or Chrome, and the Redis store's tests start
# redis-server. CHROMIUM and REDIS_SERVER, set in the environment or on
# make's command line, name the program to use (a path, or a command on
# PATH), and nothing is installed. Unset, the first of the names below found
# on PATH is used, and only if there is none is Debian's package installed.
# The tests get the program chosen in the same variables.
CHROMIUM_NAMES := chromium chromium-browser google-chrome google-chrome-stable
REDIS_NAMES    := redis-server
# The real-client test (e2e) drives curl and Python's http.cookiejar too,
# found on PATH; CURL and PYTHON3 may name others.
CURL_NAMES     := curl
PYTHON3_NAMES  := python3
# The proxy test (e2e) puts nginx in front of the application, as NGINX
# names it; Debian's is in /usr/sbin, on root's PATH only.
NGINX_NAMES    := nginx /usr/sbin/nginx
export CHROMIUM REDIS_SERVER NGINX

# PICK defines a shell function for recipes: pick VALUE NAME... prints the
# absolute path of the program VALUE names, or when VALUE is empty of the
# first NAME on PATH. Its status is 1 when VALUE is empty and no NAME is
# found, 2 when VALUE names no executable file.
PICK = pick() { \
	  v="$$1"; shift; p=; \
	  if [ -n "$$v" ]; then \
	    case "$$v" in */*) p="$$v" ;; *) p="$$(command -v "$$v" 2>/dev/null)" ;; esac; \
	    [ -f "$$p" ] && [ -x "$$p" ] || return 2; \
	  else \
	    for n in "$$@"; do p="$$(command -v "$$n" 2>/dev/null)" && [ -n "$$p" ] && break; p=; done; \
	    [ -n "$$p" ] || return 1; \
	  fi; \
	  case "$$p" in /*) ;; *) p="$$PWD/$$p" ;; esac; \
	  echo "$$p"; \
	}

# APT_INSTALL is a shell script, run as root with the packages as its
# arguments: it installs them and what they depend on, not what they merely
# recommend (for chromium on Debian 12, 90 packages more, and upgrades of
# systemd, udev and perl); nothing is upgraded beyond what they need. While
# it runs, a policy-rc.d, unless the machine has its own, forbids packages
# to start services: redis-server's would start a daemon on port 6379 (or,
# on a machine whose init cannot start it, fail the install), and the tests
# start their own.
APT_INSTALL = set -e; \
	if [ ! -e /usr/sbin/policy-rc.d ]; then \
	  trap "rm -f /usr/sbin/policy-rc.d" EXIT; trap "exit 130" HUP INT TERM; \
	  printf "\#!/bin/sh\n\# make: no service starts while the tests install their programs.\nexit 101\n" >/usr/sbin/policy-rc.d; \
	  chmod 755 /usr/sbin/policy-rc.d; \
	fi; \
	apt-get update; \
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 "$$@"

comma := ,
empty :=
space := $(empty) $(empty)
# $(call either,A B C) is "A, B or C".
either = $(if $(word 2,$(1)),$(subst $(space),$(comma) ,$(wordlist 2,$(words $(1)),x $(1))) or $(lastword $(1)),$(1))

# $(call install_program,TARGET,VARIABLE,NAMES,PACKAGE,WHAT): the recipe of
# the target that provides a program: nothing if VARIABLE or NAMES find it,
# else Debian's PACKAGE if apt-get can run (as root, or through sudo without
# a password), else an error saying how to install it.
define install_program
@$(PICK); pick "$$$(2)" $(3) >/dev/null; found=$$?; \
	notfound="no $(call either,$(3)) on PATH, and $(2) is unset"; \
	if [ $$found = 0 ]; then \
	  exit 0; \
	elif [ $$found = 2 ]; then \
	  echo "make $(1): $(2)=$$$(2) is not an executable file; set it to $(5)'s path, or unset it to look for $(call either,$(3)) on PATH" >&2; exit 1; \
	elif ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make $(1): $$notfound; install $(5) with your system's package manager, or set $(2) to its path, then run make again" >&2; exit 1; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "make $(1): $$notfound: installing Debian's $(4) with apt-get install --no-install-recommends"; \
	  sh -c '$(APT_INSTALL)' sh $(4); \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  echo "make $(1): $$notfound: installing Debian's $(4) with sudo apt-get install --no-install-recommends"; \
	  sudo -n sh -c '$(APT_INSTALL)' sh $(4); \
	else \
	  echo "make $(1): $$notfound; install it with: sudo apt-get install --no-install-recommends $(4), or set $(2) to its path, then run make again" >&2; exit 1; \
	fi
endef

# TEST_PROGRAMS sets the shell variables chromium and redis to the programs
# the tests use, for recipes that run after make chromium and make redis.
TEST_PROGRAMS = $(PICK); chromium="$$(pick "$$CHROMIUM" $(CHROMIUM_NAMES))"; redis="$$(pick "$$REDIS_SERVER" $(REDIS_NAMES))"; \
	nginx="$$(pick "$$NGINX" $(NGINX_NAMES))"

# One step at a time: plan's line must come first, and two apt-get cannot
# run at once.
.NOTPARALLEL:

.PHONY: test plan fmt vet staticcheck cyclo filedeps race newest-go fuzz fuzz-short e2e chromium redis clients nginx bench

test: plan fmt vet staticcheck cyclo filedeps race newest-go fuzz-short

# plan says, first, what make test is about to install and fetch, and
# which programs it found.
plan:
	@$(PICK); apt=; uses=; fetch=; \
	if p="$$(pick "$$CHROMIUM" $(CHROMIUM_NAMES))"; then uses="$$p"; \
	elif [ -z "$$CHROMIUM" ]; then apt="chromium"; \
	else uses="CHROMIUM=$$CHROMIUM (not an executable file)"; fi; \
	if p="$$(pick "$$REDIS_SERVER" $(REDIS_NAMES))"; then uses="$${uses:+$$uses and }$$p"; \
	elif [ -z "$$REDIS_SERVER" ]; then apt="$${apt:+$$apt and }redis-server"; \
	else uses="$${uses:+$$uses and }REDIS_SERVER=$$REDIS_SERVER (not an executable file)"; fi; \
	pick "$$CURL" $(CURL_NAMES) >/dev/null || apt="$${apt:+$$apt and }curl"; \
	pick "$$PYTHON3" $(PYTHON3_NAMES) >/dev/null || apt="$${apt:+$$apt and }python3"; \
	pick "$$NGINX" $(NGINX_NAMES) >/dev/null || apt="$${apt:+$$apt and }nginx"; \
	[ -x "$(STATICCHECK)" ] || fetch="staticcheck $(STATICCHECK_VERSION)"; \
	[ -x "$(GOCYCLO)" ] || fetch="$${fetch:+$$fetch and }gocyclo $(GOCYCLO_VERSION)"; \
	if [ "$$($(GO) env GOVERSION)" != "$(GO_NEWEST)" ] && ! [ -d "$$($(GO) env GOMODCACHE)/golang.org/toolchain@v0.0.1-$(GO_NEWEST).$$($(GO) env GOOS)-$$($(GO) env GOARCH)" ]; then \
	  fetch="$${fetch:+$$fetch and }the $(GO_NEWEST) toolchain (the tests run on it too)"; fi; \
	echo "make test: installs $${apt:+Debian's }$${apt:-nothing}$${apt:+ (apt-get install --no-install-recommends, as none is on PATH)}$${uses:+, uses $$uses};" \
	  "fetches $${fetch:-nothing}$${fetch:+ through the Go module proxy}"

fmt:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting:"; echo "$$out"; exit 1; fi

vet:
	@for m in $(MODULES); do echo "go vet $$m"; (cd $$m && $(GO) vet ./...) || exit 1; done

$(STATICCHECK):
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(GOCYCLO):
	GOBIN=$(BIN) $(GO) install github.com/fzipp/gocyclo/cmd/gocyclo@$(GOCYCLO_VERSION)

cyclo: $(GOCYCLO)
	@out="$$($(GOCYCLO) -over 15 -ignore '_test' $(CYCLO_DIRS))"; \
	if [ -n "$$out" ]; then echo "gocyclo: over 15, split them:"; echo "$$out"; exit 1; fi

staticcheck: $(STATICCHECK)
	@for m in $(MODULES); do echo "staticcheck $$m"; (cd $$m && $(STATICCHECK) ./...) || exit 1; done

# filedeps lists the files of the root package that depend on each other
# both ways (one uses a type, function, method, field, variable or constant
# the other declares, and the other way round), and fails if there is any:
# DESIGN.md asks for none. Its checker, internal/filedeps, uses only the
# standard library and the go command, so it installs and fetches nothing.
filedeps:
	@$(GO) build -o $(BIN)/filedeps ./internal/filedeps && $(BIN)/filedeps .

# The e2e module's tests drive Chromium, curl, Python and nginx, and the
# Redis store's start redis-server, so make race needs them all.
race: chromium redis clients nginx
	@$(TEST_PROGRAMS); \
	for m in $(MODULES); do echo "go test -race $$m"; \
	  (cd $$m && CHROMIUM="$$chromium" REDIS_SERVER="$$redis" NGINX="$$nginx" $(GO) test -race -count=1 ./...) || exit 1; done

# Every module but the browser tests' (run by make race), on GO_NEWEST.
# From Go 1.27, encoding/json runs on json/v2: sessions written by one
# must still open on the other. The Redis store's tests run here too.
newest-go: redis
	@$(TEST_PROGRAMS); \
	for m in $(filter-out ./e2e,$(MODULES)); do echo "go test $$m with $(GO_NEWEST)"; \
	  (cd $$m && REDIS_SERVER="$$redis" GOTOOLCHAIN=$(GO_NEWEST) $(GO) test -count=1 ./...) || exit 1; done

# make chromium and make redis provide the programs the tests need; see
# CHROMIUM and REDIS_SERVER above.
chromium:
	$(call install_program,chromium,CHROMIUM,$(CHROMIUM_NAMES),chromium,Chromium)

redis:
	$(call install_program,redis,REDIS_SERVER,$(REDIS_NAMES),redis-server,redis-server)

clients:
	$(call install_program,clients,CURL,$(CURL_NAMES),curl,curl)
	$(call install_program,clients,PYTHON3,$(PYTHON3_NAMES),python3,Python 3)

nginx:
	$(call install_program,nginx,NGINX,$(NGINX_NAMES),nginx,nginx)

# go test -fuzz takes one target of one package at a time.
# The fuzz targets run on GO_NEWEST: up to Go 1.26, the fuzzing
# coordinator can fail a target with "context deadline exceeded" at the
# end of -fuzztime, having found nothing, when the machine is busy
# (go.dev/issue/75804, fixed in Go 1.27).
define run_fuzz
	@for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "fuzz $$pkg $$t ($(1), $(GO_NEWEST))"; \
	    GOTOOLCHAIN=$(GO_NEWEST) $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(1) $$pkg || exit 1; \
	  done; \
	done
endef

fuzz-short:
	$(call run_fuzz,$(FUZZTIME))

fuzz:
	$(call run_fuzz,$(FUZZTIME_LONG))

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
