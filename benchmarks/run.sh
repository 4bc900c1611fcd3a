#!/usr/bin/env bash
# Runs the request benchmarks and the load command, and rewrites the
# benchmarks section of the repository's README (between
# <!-- benchmarks:start --> and <!-- benchmarks:end -->) with their tables
# and the machine they came from. If the markers are missing, it prints the
# section instead and says so.
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
#   README=../README.md
#   OUT=<temp dir>   where the raw outputs are kept
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
count=${COUNT:-5}
benchtime=${BENCHTIME:-1s}
readme=${README:-$here/../README.md}
out=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/cookiesession-bench.XXXXXX")}
mkdir -p "$out"
echo "run.sh: raw outputs go to $out" >&2

go build -o "$out/benchreport" ./internal/benchreport

# 1. The request benchmarks. The raw output goes to stderr as it comes.
echo "run.sh: go test -bench (count $count, benchtime $benchtime); a few minutes" >&2
go test -run '^$' -bench . -benchmem -count "$count" -benchtime "$benchtime" . | tee "$out/bench.txt" >&2
"$out/benchreport" tables "$out/bench.txt" >"$out/bench.md"

# 2. The load command: progress on stderr, the table on stdout.
load_flags=${LOAD_FLAGS--duration 30s -rounds 60}
echo "run.sh: go run ./load $load_flags" >&2
# shellcheck disable=SC2086 # a list of flags
go run ./load $load_flags >"$out/load.md"

# 3. The machine, without naming it.
cpu=$(sed -n 's/^model name[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo 2>/dev/null | head -n1)
cpu=${cpu:-unknown CPU}
commit=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=""
if [ -n "$(git -C "$here/.." status --porcelain 2>/dev/null)" ]; then
	dirty=" (with uncommitted changes)"
fi
{
	echo "Measured by \`benchmarks/run.sh\` on $(date -u +%Y-%m-%d) at commit \`$commit\`$dirty:"
	echo "$(go env GOVERSION) $(go env GOOS)/$(go env GOARCH), $cpu, $(nproc) CPUs."
	echo
	echo "**What was measured, and how.** The machine was shared with other work, so absolute times"
	echo "are noisy; the targets are judged on ratios between measurements made in the same process,"
	echo "and are shown, never asserted. *One request, in process*: a request with the typical session"
	echo "(about 200 bytes of JSON) goes through each app's handler into an \`httptest.ResponseRecorder\`,"
	echo "with no network; the changing request toggles the theme and gets a Set-Cookie, the read-only"
	echo "one reads the name. A session's *net* cost is the app's time minus that of the same handler"
	echo "without a session, measured in the same run. After its own timed loop, each cookiesession"
	echo "benchmark times itself, the handler without a session, the floor and gorilla/sessions again"
	echo "in 10 interleaved rounds (twice as long as its loop in all, the order rotating), so that a burst of"
	echo "load from elsewhere weighs on all of them alike, and its ratios come from those rounds."
	echo "Allocations are counted with \`testing.AllocsPerRun\` (200 runs); *extra allocations* are"
	echo "cookiesession's minus the handler's without a session minus the floor's. Each figure is the"
	echo "median of $count runs (\`go test -bench . -count $count -benchtime $benchtime\`). The *floor* is JSON +"
	echo "XChaCha20-Poly1305 + base64url on the same data and nothing else (no header, times, cookie"
	echo "handling), plus the change check every request needs: cookiesession knows whether to write the"
	echo "cookie back by serialising the data at commit and comparing the bytes with the cookie's, so the"
	echo "floor serialises again and compares on the read-only request too; gorilla/sessions is its CookieStore with its defaults (gob, one Values key per field,"
	echo "AES-256 encryption on). The floor's JSON is \`encoding/json\`, as cookiesession's is."
	echo "*Under load*: the load command runs the same small app on loopback"
	echo "HTTP/1.1 and drives it with concurrent keep-alive clients for a fixed time, the clients and the"
	echo "servers in one process sharing the machine's $(nproc) CPUs; its settings are under its table."
	echo "It is a demonstration: its ratios are reported, not judged against targets. On a machine shared"
	echo "with other work they move by a few points from one run to the next, more than the in-process"
	echo "figures do."
	echo
	echo "### One request, in process"
	echo
	cat "$out/bench.md"
	echo
	echo "### Under load, over loopback"
	echo
	cat "$out/load.md"
} >"$out/section.md"

# 4. Into the README, or onto stdout.
status=0
"$out/benchreport" splice "$readme" "$out/section.md" || status=$?
case $status in
0)
	echo "run.sh: rewrote the benchmarks section of $readme" >&2
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
