#!/usr/bin/env bash
# Java 17+ and Maven are what the Docker-free Neo4j needs; install them with apt when they are missing.
set -euo pipefail
need=()
if ! command -v java >/dev/null 2>&1; then need+=(openjdk-17-jre-headless); fi
if ! command -v mvn >/dev/null 2>&1; then need+=(maven); fi
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "graphrec needs: ${need[*]} (install them, or set NEO4J_URI to an existing Neo4j)" >&2
  exit 1
fi
echo "Installing ${need[*]} with apt-get ..." >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
