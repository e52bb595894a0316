#!/usr/bin/env bash
# Installs the Debian packages the test suite drives for real (curl, chromium,
# PostgreSQL, nginx, systemd's socket activation), only when missing. Runs
# `apt-get update` at most once.
set -euo pipefail
need=()
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The storage tests start a throwaway PostgreSQL server (initdb + pg_ctl).
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
# ...and nginx in front of several app instances (tests and `make cluster`).
[ -x /usr/sbin/nginx ] || need+=(nginx)
command -v systemd-socket-activate >/dev/null 2>&1 || need+=(systemd)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${need[*]} (run as root to install)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
