#!/bin/sh
# HTTP benchmarks drive the server with Debian's wrk (a native load generator).
set -e
if command -v wrk >/dev/null 2>&1; then exit 0; fi
echo "wrk is missing; installing Debian's package for the benchmarks" >&2
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
$SUDO apt-get install -y --no-install-recommends wrk >/dev/null 2>&1 || {
  $SUDO apt-get update >/dev/null && $SUDO apt-get install -y --no-install-recommends wrk >/dev/null
}
