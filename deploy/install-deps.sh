#!/usr/bin/env bash
# Installs every Debian bookworm package that Wharf's build, tests and benchmarks need.
# Idempotent: when everything is present it does nothing (no apt-get update, no network).
set -euo pipefail

packages=(
  # toolchain
  build-essential g++ cmake ninja-build pkg-config make git
  # runtime libraries (DESIGN.md: io_uring, placement, checksums, compression, logging)
  liburing-dev libhwloc-dev libnuma-dev libxxhash-dev libspdlog-dev libfmt-dev
  # record-batch codecs: Kafka's zstd, gzip (zlib), lz4 (frame format) and snappy
  libzstd-dev zlib1g-dev liblz4-dev libsnappy-dev
  # flag parsing
  libcli11-dev
  # tests and micro-benchmarks; clang and its libFuzzer runtime for the fuzz targets
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  # tools used by tests and scripts
  python3 procps
  # real Kafka clients for the integration tests (tests/kafka/), with the codecs kafka-python
  # needs, and librdkafka for the produce load generator in perf/
  kcat python3-confluent-kafka python3-kafka python3-lz4 python3-snappy python3-zstandard
  librdkafka-dev
  # wharf bench: JSON result files (nlohmann-json), and iperf3 for the loopback TCP reference
  nlohmann-json3-dev iperf3
  # config files (toml++, header-only); the Debian package (dpkg-shlibdeps) and the systemd
  # unit check (systemd-analyze; systemd need not run); file: CPack finds the ELF files with it
  libtomlplusplus-dev dpkg-dev file systemd
  # the admin HTTP API: http-parser; its test checks /metrics with promtool (package prometheus)
  # and perf/metrics_overhead.py scrapes with curl
  libhttp-parser-dev prometheus curl
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them with apt-get) and try again" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
