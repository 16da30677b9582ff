#!/usr/bin/env bash
# need.sh COMMAND PACKAGE: make sure COMMAND is installed, installing Debian's
# PACKAGE with apt-get when we run as root; otherwise say exactly what to run.
set -euo pipefail
cmd=$1 pkg=$2
if command -v "$cmd" >/dev/null 2>&1 || [[ -x /usr/sbin/$cmd ]]; then
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo ">> installing $pkg (for $cmd)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "$pkg" >/dev/null 2>&1 || {
    apt-get update >/dev/null && apt-get install -y --no-install-recommends "$pkg" >/dev/null
  }
  exit 0
fi
echo "$cmd is missing. Install it with:  sudo apt-get install -y $pkg" >&2
exit 1
