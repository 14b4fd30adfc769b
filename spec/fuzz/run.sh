#!/bin/sh
# run.sh BINARY [SECONDS] [CORPUS] — runs the libFuzzer target on a copy of CORPUS
# (default spec/fuzz/corpus) for
# SECONDS (default 30), prints the number of executions, and exits non-zero on a crash,
# a leak, a timeout or a failed check, naming the input that caused it.
#
# New corpus entries go to a temporary copy, never into the committed seeds. A crashing
# input is kept in $(dirname BINARY)/artifacts/; replay it with `BINARY FILE`.
bin=${1:?usage: run.sh BINARY [SECONDS]}
secs=${2:-30}
[ -x "$bin" ] || { echo "fuzz: $bin not built"; exit 2; }
seeds=${3:-$(dirname "$0")/corpus}
art=$(cd "$(dirname "$bin")" && pwd)/artifacts
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$art"
cp "$seeds"/* "$work/corpus/"

# TMPDIR: the target's shard directory goes into the work dir too, even after a crash
TMPDIR="$work" UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
"$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
  -artifact_prefix="$art/" "$work/corpus" >"$work/log" 2>&1
rc=$?

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -1)
echo "fuzz: ${runs:-?} executions in ${secs}s (${rate:-?} exec/s), exit $rc"
if [ $rc -ne 0 ]; then
  # the report: from the first sanitizer or check message, its stack
  sed -n '/ERROR: \|runtime error\|check failed\|ERROR: libFuzzer/,$p' "$work/log" | head -40
  crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$work/log" | tail -1)
  echo "fuzz: FAILED; crash input: ${crash:-none written (see the log above)}"
  [ -n "$crash" ] && echo "fuzz: replay with: $bin $crash"
  exit 1
fi
exit 0
