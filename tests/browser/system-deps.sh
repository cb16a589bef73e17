#!/usr/bin/env bash
# Debian's Chromium and its chromedriver, for the page's browser tests: installed with apt when missing and
# possible. Otherwise a warning only: the tests then skip (and fail under CI, where they must run).
set -euo pipefail
need=()
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then need+=(chromium); fi
if ! command -v chromedriver >/dev/null 2>&1; then need+=(chromium-driver); fi
if [ ${#need[@]} -eq 0 ] || [ -n "${GRAPHREC_CHROMIUM:-}" ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "warning: the browser tests need ${need[*]} (or GRAPHREC_CHROMIUM and GRAPHREC_CHROMEDRIVER);" \
    "without them they are skipped, and fail under CI" >&2
  exit 0
fi
echo "Installing ${need[*]} with apt-get (for the browser tests) ..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
