#!/bin/bash
# Issue 17, "a richer state": the stop-gain replay of ../2026-12-02-stop-gain on traces that now
# carry the queued frontier (candidates still queued nearer than the k-th result), with the
# predictors that use it (bench/stop_gain_gbdt.py's "+frontier" arms). Same data split, index,
# model and traces as that run. Usage: commands.sh WORK (from the repository root).
set -e
OUT=$(dirname "$0") "$(dirname "$0")/../2026-12-02-stop-gain/commands.sh" "$@"
