#!/usr/bin/env bash
# Counts the functions of cookiesession's root package, and the files they
# are in, that a read-only request, a change and a Destroy pass through
# (see pathcount/main.go): it builds the pathcount command with coverage
# counters for the library and runs it.
#
#   benchmarks/pathcount.sh        the table
#   benchmarks/pathcount.sh -v     and the functions, by file
#
# LIB, from the environment, measures the library checked out in another
# directory instead of this module's ../, through a copy of go.mod whose
# replace points there (-modfile): an older commit, for instance:
#
#   git worktree add /tmp/old 59400e6
#   LIB=/tmp/old benchmarks/pathcount.sh
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
# This module on its own, as run.sh measures it: the repository's go.work
# would put the working tree's library in place of LIB's.
export GOWORK=off
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pathcount.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

lib=$(cd "${LIB:-..}" && pwd)
modflags=()
if [ -n "${LIB:-}" ]; then
	cp go.mod "$tmp/lib.mod"
	cp go.sum "$tmp/lib.sum"
	go mod edit -modfile="$tmp/lib.mod" -replace "github.com/ce967478/cookiesession=$lib"
	# -mod=mod: the other checkout may require other versions, whose
	# checksums go into the copy of go.sum.
	modflags=(-modfile="$tmp/lib.mod" -mod=mod)
fi
commit=$(git -C "$lib" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if [ -n "$(git -C "$lib" status --porcelain -- ':(glob)*.go' ':(exclude,glob)*_test.go' 2>/dev/null)" ]; then
	dirty=", with uncommitted changes"
fi
echo "pathcount: the library at $lib, commit $commit$dirty; $(go env GOVERSION)" >&2

# The command itself is instrumented too (it is not counted): a main
# package left out of -coverpkg does not register the counters' meta-data
# at start, and runtime/coverage then has none to write.
go build "${modflags[@]}" -cover -covermode=atomic \
	-coverpkg=github.com/ce967478/cookiesession,github.com/ce967478/cookiesession/benchmarks/pathcount \
	-o "$tmp/pathcount" ./pathcount
# GOCOVERDIR receives what a -cover binary writes at exit, unused here:
# pathcount writes the counters of each request itself.
mkdir "$tmp/exit"
GOCOVERDIR="$tmp/exit" "$tmp/pathcount" "$@"
