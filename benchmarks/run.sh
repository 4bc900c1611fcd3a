#!/usr/bin/env bash
# Runs the request benchmarks (the typical session, and the sizes) and the
# load command, and rewrites the generated section of benchmarks/README.md
# (between <!-- benchmarks:start --> and <!-- benchmarks:end -->) with their
# tables and the machine and commit they came from. If the markers are
# missing, it prints the section instead and says so.
#
#   benchmarks/run.sh
#
# Settings, from the environment:
#   COUNT=5          runs of each benchmark (the tables show medians)
#   BENCHTIME=1s     go test -benchtime
#   LOAD_FLAGS="-duration 30s -rounds 60"
#                    flags for the load command. On a machine shared with
#                    other work the ratios drift by several points from one
#                    15 s stretch to the next (0.80, 0.87, 0.84 on /read, in
#                    one process); 30 s per route averages over more of it
#                    than the command's own 5 s
#   NEWEST_GO=go1.27.4
#                    the typical session's cookiesession benchmarks run
#                    again on this Go release (through GOTOOLCHAIN, which
#                    fetches it through the module proxy if it is not
#                    cached), and the section shows the two releases side
#                    by side; empty, or the installed release, skips it.
#                    The default is the Makefile's GO_NEWEST
#   README=benchmarks/README.md
#   OUT=<temp dir>   where the raw outputs are kept
#
# The benchmarks module replaces the library with the working tree (../):
# what is measured is the library as it is on disk, and the section says
# which of its files differ from the commit it names.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
count=${COUNT:-5}
benchtime=${BENCHTIME:-1s}
readme=${README:-$here/README.md}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/cookiesession-bench.XXXXXX")}
mkdir -p "$out"
echo "run.sh: raw outputs go to $out" >&2

# What is measured: the commit, and the files of the library (the root
# package and its go.mod) and of this module that differ from it, read
# before the run starts.
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
changed=$(git -C "$here/.." status --porcelain -- ':(top,glob)*.go' ':(top)go.mod' ':(top)go.sum' \
	':(top)benchmarks' ':(top,exclude)benchmarks/README.md' ':(top,exclude,glob)*_test.go' 2>/dev/null |
	awk '{print $NF}' | sed 's/^/`/; s/$/`/' | paste -sd, - | sed 's/,/, /g')
dirty=""
if [ -n "$changed" ]; then
	dirty=", with uncommitted changes to $changed"
fi

go build -o "$out/benchreport" ./internal/benchreport

# 1. The request benchmarks. The raw output goes to stderr as it comes.
echo "run.sh: go test -bench (count $count, benchtime $benchtime); several minutes" >&2
go test -run '^$' -bench . -benchmem -count "$count" -benchtime "$benchtime" . | tee "$out/bench.txt" >&2
"$out/benchreport" tables "$out/bench.txt" >"$out/bench.md"

# 1b. The typical session's cookiesession benchmarks (each times gorilla,
# the floor and no session in its own rounds) on the newest Go release
# too: from Go 1.27 encoding/json runs on the json/v2 engine.
goversion=$(go env GOVERSION)
newest=${NEWEST_GO-go1.27.4}
if [ -n "$newest" ] && [ "$newest" != "$goversion" ]; then
	echo "run.sh: the typical session's cookiesession benchmarks on $newest (count $count)" >&2
	GOTOOLCHAIN=$newest go test -run '^$' -bench '^Benchmark(Write|Read)$/^cookiesession$' -benchmem \
		-count "$count" -benchtime "$benchtime" . | tee "$out/bench-newest.txt" >&2
	"$out/benchreport" toolchains "$goversion=$out/bench.txt" "$newest=$out/bench-newest.txt" >"$out/toolchains.md"
fi

# 2. The load command: progress on stderr, the table on stdout.
load_flags=${LOAD_FLAGS--duration 30s -rounds 60}
echo "run.sh: go run ./load $load_flags" >&2
# shellcheck disable=SC2086 # a list of flags
go run ./load $load_flags >"$out/load.md"

# 3. The machine, without naming it.
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)
cpu=${cpu:-unknown CPU}
{
	echo "Measured by \`benchmarks/run.sh\` on $(date -u +%Y-%m-%d) at commit \`$commit\`$dirty:"
	echo "$goversion $(go env GOOS)/$(go env GOARCH), $cpu, $(nproc) CPUs;"
	echo "\`COUNT=$count BENCHTIME=$benchtime LOAD_FLAGS=\"$load_flags\" NEWEST_GO=$newest\`."
	echo
	runs="the median of $count runs"
	if [ "$count" = 1 ]; then
		runs="from one run"
	fi
	echo "The machine was shared with other work, so absolute times are noisy: read the ratios, which"
	echo "come from measurements made moments apart in the same process. Each figure is $runs."
	echo "Targets are shown, never asserted: ✓ met, ✗ missed in this run."
	echo
	echo "### One request, in process: the typical session"
	echo
	cat "$out/bench.md"
	echo
	if [ -s "$out/toolchains.md" ]; then
		echo "### The typical session on $goversion and $newest"
		echo
		echo "The cookiesession benchmarks of the typical session run again, in the same run.sh run, on"
		echo "$newest (GOTOOLCHAIN=$newest), whose encoding/json runs on the json/v2 engine; cookiesession"
		echo "and the floor use encoding/json, gorilla/sessions gob. Each column's figures come from the"
		echo "interleaved rounds of its own benchmarks: compare the ratios, not the times across columns."
		echo
		cat "$out/toolchains.md"
		echo
	fi
	echo "### Under load, over loopback"
	echo
	cat "$out/load.md"
} >"$out/section.md"

# 4. Into the README, or onto stdout.
status=0
"$out/benchreport" splice "$readme" "$out/section.md" || status=$?
case $status in
0)
	echo "run.sh: rewrote the generated section of $readme" >&2
	cat "$out/section.md"
	;;
3)
	echo "run.sh: $readme has no <!-- benchmarks:start --> / <!-- benchmarks:end --> markers;" \
		"it was left alone. The section would have been:" >&2
	echo
	cat "$out/section.md"
	;;
*)
	echo "run.sh: could not update $readme" >&2
	exit "$status"
	;;
esac
