#!/usr/bin/env bash
# Fuzzes the agent's request path (remote-agent/agent/fuzz/): builds the libFuzzer target, replays
# every kept crash (fuzz/regressions/) and the seed corpus, then fuzzes.
#   scripts/fuzz.sh              (npm run fuzz) fuzz for FUZZ_SECONDS, default 600
#   scripts/fuzz.sh --bounded    (the test command) the replay, then FUZZ_SECONDS (default 30) of fuzzing
# New inputs the fuzzer finds go to out/fuzz/corpus (kept between runs), crashes to out/fuzz/ with
# the libFuzzer report; a crash fails the run (exit 1). Runs niced: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=long
[[ "${1:-}" == "--bounded" ]] && mode=bounded
seconds=${FUZZ_SECONDS:-$([[ $mode == bounded ]] && echo 30 || echo 600)}
agent=remote-agent/agent
fuzzer=$agent/build/fuzz/agent-request-fuzz
work=out/fuzz
mkdir -p "$work/corpus"

nice -n 10 make -s -C "$agent" fuzz
# -timeout: one input running this long is a hang. Generous, as the run is niced on shared cores:
# a starved 140 ms input once passed 20 s.
fuzz_args=(-dict="$agent/fuzz/agent.dict" -max_len=65536 -timeout=60 -rss_limit_mb=4096
           -artifact_prefix="$work/" -print_final_stats=1)

# Each kept crash and seed must now run clean (-runs=0 executes the given files and stops).
nice -n 10 "$fuzzer" "${fuzz_args[@]}" -runs=0 "$agent"/fuzz/regressions/* "$agent"/fuzz/corpus/* \
  >"$work/replay.log" 2>&1 || { tail -n 60 "$work/replay.log" >&2; echo "fuzz: a kept crash or seed fails again (log: $work/replay.log)" >&2; exit 1; }
echo "fuzz: replayed $(ls "$agent"/fuzz/regressions | wc -l) regression inputs and $(ls "$agent"/fuzz/corpus | wc -l) seeds: clean"

# libFuzzer writes what it finds into the first corpus directory: the run's own, not the seeds'.
log="$work/fuzz-$mode.log"
if ! nice -n 10 "$fuzzer" "${fuzz_args[@]}" -max_total_time="$seconds" "$work/corpus" "$agent/fuzz/corpus" >"$log" 2>&1; then
  grep -v '^libbpf: ' "$log" | tail -n 80 >&2
  echo "fuzz: the fuzzer found a crash (report in $log, input in $work/crash-*): fix it, and keep the input in $agent/fuzz/regressions/" >&2
  exit 1
fi
echo "fuzz: $seconds s clean: $(grep -E '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE)' "$log" | tail -n 1)"
grep -E '^stat::' "$log" || true
