#!/usr/bin/env bash
# A short bounded fuzz run of both VyOS parsers, for CI. Needs a nightly toolchain and
# cargo-fuzz; without them it says so and exits 0, since the stable suite already checks
# "no panic" with proptest. Usage: fuzz/ci.sh [SECONDS_PER_TARGET] (default 30).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-30}"
if ! rustup toolchain list 2>/dev/null | grep -q nightly || ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz/ci.sh: nightly or cargo-fuzz missing; skipping the fuzz run" >&2
  exit 0
fi
mkdir -p corpus/boot_parser corpus/commands_parser
cp ../tests/data/vyos/*.boot corpus/boot_parser/
cp ../tests/data/vyos/*.txt corpus/commands_parser/
for target in boot_parser commands_parser; do
  cargo +nightly fuzz run "$target" -- -max_total_time="$secs" -rss_limit_mb=2048
done
