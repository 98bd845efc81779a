#!/usr/bin/env bash
# Runs every test: lint, type-check, unit, integration and end-to-end. Installs the real peers the tests
# drive (softflowd, tshark, nfdump, pmacct from Debian), starts a real Kafka broker unless KAFKA_BROKERS
# names one, and uses PostgreSQL at DATABASE_URL (default: the local server, database `test`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { printf '\n== %s\n' "$*" >&2; }

# Real exporters, independent decoders and the deploy validators (docker-compose config, kubectl
# kustomize) and the browser of the console tests (chromium) from Debian, installed when missing.
missing=()
for pair in softflowd:softflowd tshark:tshark nfcapd:nfdump nfacctd:pmacct tcpreplay:tcpreplay docker-compose:docker-compose kubectl:kubectl chromium:chromium; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if ((${#missing[@]} > 0)); then
  log "installing ${missing[*]} (apt-get)"
  if [[ $(id -u) -ne 0 ]]; then SUDO=sudo; else SUDO=; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# PostgreSQL: the tests use DATABASE_URL, or the local server of these machines.
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
if ! pg_isready -d "$DATABASE_URL" -q 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    log "starting the local PostgreSQL cluster"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do pg_isready -d "$DATABASE_URL" -q 2>/dev/null && break; sleep 1; done
  pg_isready -d "$DATABASE_URL" || { echo "PostgreSQL at $DATABASE_URL does not answer" >&2; exit 1; }
fi

# Kafka: a real broker, started here unless one is named.
if [[ -z "${KAFKA_BROKERS:-}" ]]; then
  log "starting the local Kafka broker"
  bash deploy/kafka-local/kafka.sh start
  export KAFKA_BROKERS=127.0.0.1:9092
fi

# Lint and type errors fail the run, but the tests still run so one report shows everything.
status=0
log "lint (biome)"
pnpm exec biome check . --max-diagnostics=50 || status=1
log "type-check (tsc)"
pnpm exec tsc -p tsconfig.json --noEmit || status=1

log "tests (node:test)"
export KAFKAJS_NO_PARTITIONER_WARNING=1
# Node 20's test runner takes files, not globs: every *.test.ts outside node_modules.
mapfile -t files < <(find packages services cli test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
node --import tsx --test --test-timeout=600000 "${files[@]}" || status=1
if ((status != 0)); then echo "FAILED: see lint, type-check or test output above" >&2; fi
exit "$status"
