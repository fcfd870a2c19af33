#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for a bounded time (FUZZ_SECONDS each, default 15), starting
# from the corpus kept in fuzz/corpus/<target>. Any crash, hang (an input over 10 s) or memory
# blow-up (over 2 GiB) fails the run; libFuzzer writes the input to fuzz/artifacts/<target>/.
#
#   scripts/fuzz.sh                 # all targets, as the test command runs them
#   scripts/fuzz.sh zip tar         # some targets
#   FUZZ_SECONDS=600 scripts/fuzz.sh --keep yaml
#                                   # longer, and merge what it found into fuzz/corpus
#
# Needs the nightly toolchain and cargo-fuzz (scripts/test.sh installs cargo-fuzz).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

keep=false
if [ "${1:-}" = "--keep" ]; then
  keep=true
  shift
fi
targets=("$@")
seconds=${FUZZ_SECONDS:-15}
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo +nightly fuzz list)
  # Without a sanitizer: the code fuzzed is safe Rust plus C decoders that are fuzzed upstream,
  # and an AddressSanitizer build of this tree costs more time than the runs themselves.
  cargo +nightly fuzz build -s none 2>&1 | tail -n 3
fi

for target in "${targets[@]}"; do
  mkdir -p "corpus/$target"
  found=$(mktemp -d)
  scratch=$(mktemp -d)
  echo "fuzzing $target for ${seconds} s"
  # New inputs go to a scratch directory (the first one), so the kept corpus changes only on --keep.
  if ! TMPDIR="$scratch" cargo +nightly fuzz run -s none "$target" "$found" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$found.log" 2>&1; then
    tail -n 60 "$found.log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units)' "$found.log" | head -n 1
  if $keep; then
    TMPDIR="$scratch" cargo +nightly fuzz run -s none "$target" "corpus/$target" "$found" -- -merge=1 >/dev/null 2>&1
  fi
  rm -rf "$found" "$found.log" "$scratch"
done
