#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need when it is missing,
# then checks formatting, lints and every test. Used by `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v gzip >/dev/null || need_apt+=(gzip)
command -v clamd >/dev/null || need_apt+=(clamav-daemon)
[ -d /usr/share/clamav-testfiles ] || need_apt+=(clamav-testfiles)
command -v clamscan >/dev/null || need_apt+=(clamav)
command -v clamdscan >/dev/null || need_apt+=(clamdscan)
command -v c-icap >/dev/null || need_apt+=(c-icap)
[ -f /usr/lib/x86_64-linux-gnu/c_icap/virus_scan.so ] || need_apt+=(libc-icap-mod-virus-scan)
command -v pgrep >/dev/null || need_apt+=(procps)
command -v zip >/dev/null || need_apt+=(zip)
command -v 7zz >/dev/null || need_apt+=(7zip)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast
