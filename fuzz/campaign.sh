#!/usr/bin/env bash
# A fuzzing campaign over every target, one after another on one core:
#   bash fuzz/campaign.sh [TOTAL_SECONDS]   (default 3600, split evenly over the targets)
# Each target runs in libFuzzer's fork mode with one worker, so a finding is saved to
# artifacts/<target>/ and the run goes on. Prints a line per target: executions,
# coverage (edges), features, corpus size and findings. Logs are in campaign-logs/.
set -euo pipefail
cd "$(dirname "$0")"
total=${1:-3600}
targets=(manifest compile lint render invariants)
per=$(( total / ${#targets[@]} ))
RUSTC_BOOTSTRAP=1 cargo fuzz build -O >/dev/null
bin=target/x86_64-unknown-linux-gnu/release
mkdir -p campaign-logs
printf '%-11s %8s %12s %8s %8s %7s %s\n' target seconds executions cov ft corpus 'oom/timeout/crash'
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  log="campaign-logs/$t.log"
  "$bin/$t" "corpus/$t" -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$per" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
    -artifact_prefix="artifacts/$t/" >"$log" 2>&1 || true
  # The last progress line of fork mode: "#N: cov: C ft: F corp: K exec/s: E oom/timeout/crash: a/b/c time: Ts ..."
  line=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$line")
  cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$line")
  ft=$(sed -E 's/.* ft: ([0-9]+).*/\1/' <<<"$line")
  corp=$(sed -E 's/.* corp: ([0-9]+).*/\1/' <<<"$line")
  found=$(sed -E 's/.* oom\/timeout\/crash: ([0-9]+\/[0-9]+\/[0-9]+).*/\1/' <<<"$line")
  printf '%-11s %8s %12s %8s %8s %7s %s\n' "$t" "$per" "$execs" "$cov" "$ft" "$corp" "$found"
done
