#!/usr/bin/env bash
# Runs the benchmarks of the README's tables, each in one process with its baselines beside it:
# starts moto and the Secrets Manager Agent (through scripts/test.sh), then
# `cargo bench -p secrets-tests --bench compare` (extra arguments go to criterion),
# `cargo bench -p secrets-tests --bench lambda` (the simulated Lambda) and
# `cargo bench -p secrets-tests --bench reads` (the hot-path read against other designs; it
# needs no peer, so it also runs alone).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec ./scripts/test.sh bash -c '
  cargo bench -p secrets-tests --bench compare -- "$@" &&
  cargo bench -p secrets-tests --bench lambda &&
  cargo bench -p secrets-tests --bench reads
' bench "$@"
