#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# CI checks of the operator's kit in contrib/ (ctest runs each, label unit):
#   scripts/check_contrib.sh rules-check   promtool check rules on the alert rules
#   scripts/check_contrib.sh rules-test    promtool test rules: each alert fires on synthetic series
#   scripts/check_contrib.sh grafana       the Grafana dashboard against contrib/grafana/dashboard.schema.json,
#                                          and every one of its queries parses (promtool)
# A missing tool is a failure, not a skip: scripts/setup.sh installs them
# (Debian packages prometheus, for promtool, and python3-jsonschema).
set -euo pipefail
cd "$(dirname "$0")/.."

need_promtool() {
  PROMTOOL=${PROMTOOL:-$(command -v promtool || true)}
  if [ -z "$PROMTOOL" ] || [ ! -x "$PROMTOOL" ]; then
    echo "check_contrib: promtool not found: run scripts/setup.sh (Debian package 'prometheus')," \
         "or point PROMTOOL at a promtool binary" >&2
    exit 1
  fi
}

# The system interpreter: a python3 earlier on PATH (pyenv, venv) may lack jsonschema.
PYTHON=${SHARDWAL_PYTHON:-/usr/bin/python3}

case ${1:-} in
  rules-check)
    need_promtool
    "$PROMTOOL" check rules contrib/prometheus/shardwal-alerts.yml
    ;;
  rules-test)
    need_promtool
    "$PROMTOOL" test rules contrib/prometheus/shardwal-alerts_test.yml
    ;;
  grafana)
    need_promtool
    if [ ! -x "$PYTHON" ] || ! "$PYTHON" -c 'import jsonschema' 2>/dev/null; then
      echo "check_contrib: $PYTHON cannot import jsonschema: run scripts/setup.sh" \
           "(Debian package 'python3-jsonschema'), or point SHARDWAL_PYTHON at a python3 that has it" >&2
      exit 1
    fi
    "$PYTHON" contrib/grafana/check_dashboard.py --promql "$PROMTOOL" \
      contrib/grafana/shardwal.json contrib/grafana/dashboard.schema.json
    ;;
  *)
    echo "usage: $0 rules-check|rules-test|grafana" >&2
    exit 2
    ;;
esac
