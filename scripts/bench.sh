#!/usr/bin/env bash
# Runs the benchmark of the README's table, in one process, with its baselines beside it:
# starts moto and the Secrets Manager Agent (through scripts/test.sh), then
# `cargo bench -p secrets-tests --bench compare`. Extra arguments go to criterion.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec ./scripts/test.sh cargo bench -p secrets-tests --bench compare -- "$@"
