#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need when it is missing,
# then checks formatting, lints and every test. Used by `.ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v openssl >/dev/null || need_apt+=(openssl)
command -v curl >/dev/null || need_apt+=(curl)
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
command -v unar >/dev/null || need_apt+=(unar)
# The container tests build cabinets, cpio archives, ISO and WIM images, ARJ archives, rpm and deb
# packages, lzip, zstd, lz4, compress and SZDD streams, msi databases and NSIS installers with
# the real tools.
command -v gcab >/dev/null || need_apt+=(gcab)
command -v cpio >/dev/null || need_apt+=(cpio)
command -v xorriso >/dev/null || need_apt+=(xorriso)
command -v arj >/dev/null || need_apt+=(arj)
# lhasa checks the LHA archives test-support writes (no free tool in Debian writes them).
command -v lha >/dev/null || need_apt+=(lhasa)
command -v lzip >/dev/null || need_apt+=(lzip)
command -v zstd >/dev/null || need_apt+=(zstd)
command -v lz4 >/dev/null || need_apt+=(lz4)
command -v compress >/dev/null || need_apt+=(ncompress)
command -v mscompress >/dev/null || need_apt+=(mscompress)
command -v msibuild >/dev/null || need_apt+=(msitools)
command -v makensis >/dev/null || need_apt+=(nsis)
command -v dpkg-deb >/dev/null || need_apt+=(dpkg)
command -v rpmbuild >/dev/null || need_apt+=(rpm)
command -v wimcapture >/dev/null || need_apt+=(wimtools)
# msgconvert reads the Outlook messages the tests write, as a check that they are real ones.
command -v msgconvert >/dev/null || need_apt+=(libemail-outlook-message-perl)
command -v qpdf >/dev/null || need_apt+=(qpdf)
# pdfinfo judges the page count of sanitized PDFs (Deep CDR tests); pdftotext reads redacted
# PDFs (Proactive DLP tests).
command -v pdfinfo >/dev/null || need_apt+=(poppler-utils)
# strings (binutils) reads what is left in redacted copies (Proactive DLP tests).
command -v strings >/dev/null || need_apt+=(binutils)
# exiftool writes metadata into test images and judges that sanitized copies have none.
command -v exiftool >/dev/null || need_apt+=(libimage-exiftool-perl)
# rsvg-convert renders sanitized SVG drawings (Deep CDR tests).
command -v rsvg-convert >/dev/null || need_apt+=(librsvg2-bin)
# sqlite3 reads a copy of the metastore the way a local attacker would (hashed sessions test).
command -v sqlite3 >/dev/null || need_apt+=(sqlite3)
# prlimit starts the server under a small open-file limit (connection flood test).
command -v prlimit >/dev/null || need_apt+=(util-linux)
# strace shows which writes are synced before an upload is answered (durability test).
command -v strace >/dev/null || need_apt+=(strace)
# mount/umount put a small tmpfs under the server for the full-disk readiness test (run as root).
command -v mount >/dev/null || need_apt+=(mount)
# PostgreSQL for the cluster metastore tests (each test runs its own server; Debian keeps the
# server programs under /usr/lib/postgresql/N/bin) and runuser to start it as `postgres`.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v runuser >/dev/null || need_apt+=(util-linux)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing: ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"
fi
# Headless LibreOffice converts sanitized Office documents to PDF, which shows they still open
# (Deep CDR tests). Without recommends: the converters need no Java, desktop or extra fonts.
if ! command -v soffice >/dev/null; then
  echo "installing: LibreOffice (writer, calc, impress; no GUI)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libreoffice-writer-nogui libreoffice-calc-nogui libreoffice-impress-nogui
fi
# Debian's Chromium and its driver run the web console tests headless (Selenium drives them and
# downloads no browser of its own). Without recommends: no desktop pieces are needed.
if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
  echo "installing: Chromium and chromium-driver"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver
fi
# python-docx, openpyxl and python-pptx (PyPI) open sanitized Office documents (Deep CDR tests).
python3 -c 'import docx, openpyxl, pptx' 2>/dev/null || python3 -m pip install -q python-docx openpyxl python-pptx
# msoffcrypto-tool (PyPI) encrypts Office documents for the password-protected document test.
python3 -c 'import msoffcrypto' 2>/dev/null || python3 -m pip install -q msoffcrypto-tool
# pdfid (PyPI) counts the active-content keywords left in sanitized PDFs (Deep CDR tests).
python3 -c 'import pdfid' 2>/dev/null || python3 -m pip install -q pdfid
# Pillow (PyPI) decodes sanitized images independently of the image crate (Deep CDR tests).
python3 -c 'import PIL' 2>/dev/null || python3 -m pip install -q pillow
# prometheus-client (PyPI): the Prometheus project's own parser reads /metrics in the tests.
python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install -q prometheus-client
# openapi-spec-validator (PyPI, with jsonschema): the OpenAPI document and the answers checked against it.
python3 -c 'import openapi_spec_validator, jsonschema' 2>/dev/null || python3 -m pip install -q openapi-spec-validator
# Selenium (PyPI) drives Chromium through the web console in the tests.
python3 -c 'import selenium' 2>/dev/null || python3 -m pip install -q selenium
# Schemathesis (PyPI) runs generated requests against the server with its own OpenAPI document.
command -v st >/dev/null || python3 -m pip install -q schemathesis
# oletools (PyPI): rtfobj and olevba judge that sanitized documents carry no objects or macros.
command -v rtfobj >/dev/null || python3 -m pip install -q oletools
# The benign test documents of oletools' source distribution (tests/test-data: macros, DDE,
# OLE objects, Excel 4 macros) for the Deep CDR tests, kept in target/test-data.
oletools_data=target/test-data/oletools-0.60.2/tests/test-data
if [ ! -d "$oletools_data" ]; then
  mkdir -p target/test-data
  python3 -m pip download -q oletools==0.60.2 --no-binary :all: --no-deps -d target/test-data
  python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for name in z.namelist():
    if "/tests/test-data/" in name:
        z.extract(name, sys.argv[2])' target/test-data/oletools-0.60.2.zip target/test-data
fi
if ! command -v rar >/dev/null; then
  # RARLAB's rar (Debian non-free) builds the RAR test archives. It is fetched from a private
  # package list, so non-free is not enabled system-wide.
  echo "installing: rar (non-free, for building test archives)"
  nf=$(mktemp -d) && chmod 755 "$nf"
  mkdir -p "$nf/lists/partial"
  codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian $codename non-free" >"$nf/sources.list"
  apt_nf=(-o Dir::Etc::sourcelist="$nf/sources.list" -o Dir::Etc::sourceparts=- -o Dir::State::Lists="$nf/lists")
  apt-get "${apt_nf[@]}" update -qq
  (cd "$nf" && apt-get "${apt_nf[@]}" download -qq rar)
  dpkg -i "$nf"/rar_*.deb >/dev/null
  rm -rf "$nf"
fi
rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
command -v cargo-nextest >/dev/null || cargo install cargo-nextest --locked
# s3s-fs is the S3-compatible server of the blob-store and cluster tests (0.14.1 is the newest
# that builds on this toolchain).
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
command -v s3s-fs >/dev/null || cargo install s3s-fs@0.14.1 --features binary --locked

# cargo-fuzz runs the fuzz targets (fuzz/) on the nightly toolchain, which this machine has.
if ! rustup toolchain list | grep '^nightly' >/dev/null; then
  echo "the fuzz targets need the nightly toolchain (rustup toolchain install nightly)" >&2
  exit 1
fi
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz@0.13.2 --locked

cargo fmt --all -- --check
(cd fuzz && cargo fmt -- --check)
# The fault-engines feature builds the test engines that crash on purpose into the binary, for
# the parser-process tests (crates/palisade/tests/it/isolation.rs); releases never have it.
cargo clippy --workspace --all-targets --locked --features palisade/fault-engines -- -D warnings
cargo nextest run --workspace --locked --no-fail-fast --features palisade/fault-engines
# A short run of every fuzz target from the kept corpus; any crash fails the suite.
scripts/fuzz.sh
