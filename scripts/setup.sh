#!/usr/bin/env bash
# Installs every Debian package the build, the tests and a local run need.
# Idempotent and quiet: when everything is installed it only runs dpkg-query.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libhiredis-dev libsqlite3-dev libpq-dev libssl-dev
  libcurl4-openssl-dev libcsv-dev libspdlog-dev libfmt-dev libcpp-httplib-dev
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  redis-server redis-tools postgresql postgresql-client
  tzdata ca-certificates
  openssl  # the TLS tests generate their certificates with the openssl CLI
  # The fuzz and sanitizer builds: clang with libFuzzer's runtime, llvm-symbolizer.
  clang libclang-rt-14-dev llvm
)

# Node.js and npm run the manifest validator (scripts/validate-manifests.sh).
# Many machines already have them from elsewhere (e.g. NodeSource's nodejs,
# which bundles npm and conflicts with Debian's npm package), so Debian's are
# installed only when the commands are missing.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  PACKAGES+=(nodejs npm)
fi

# One dpkg-query for all packages keeps the everything-installed case instant.
declare -A installed=()
while read -r name state; do
  [[ "$state" == "install ok installed" ]] && installed["${name%%:*}"]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for p in "${PACKAGES[@]}"; do
  [[ -n "${installed[$p]:-}" ]] || missing+=("$p")
done

if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian redis-server package may start a system instance; tests and the
# main job start their own on free loopback ports, so it is harmless.
echo "setup: done"
