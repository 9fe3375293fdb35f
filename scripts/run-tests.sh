#!/usr/bin/env bash
# Runs every test file under test/ with node's test runner (through tsx), and fails when the
# file list is empty or the run executed zero tests (node 20 exits 0 in that case).
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s globstar nullglob
if [ "$#" -gt 0 ]; then files=("$@"); else files=(test/**/*.test.ts); fi
if [ "${#files[@]}" -eq 0 ]; then
  echo "run-tests: no test files found under test/" >&2
  exit 1
fi
tap="$(mktemp)"
trap 'rm -f "$tap"' EXIT
status=0
node --import tsx --test --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter=tap --test-reporter-destination="$tap" "${files[@]}" || status=$?
count="$(grep -E '^# tests [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
pass="$(grep -E '^# pass [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
fail="$(grep -E '^# fail [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
skip="$(grep -E '^# skipped [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
cancelled="$(grep -E '^# cancelled [0-9]+' "$tap" | tail -1 | awk '{print $3}')"
if [ -z "$count" ] || [ "$count" -eq 0 ]; then
  echo "run-tests: the run executed no tests" >&2
  exit 1
fi
echo "${pass:-0} passed, $(( ${fail:-0} + ${cancelled:-0} )) failed, ${skip:-0} skipped"
exit "$status"
