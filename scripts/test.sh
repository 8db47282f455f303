#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine.
#
# Installs into a cache folder that later runs reuse (SECRETS_TEST_CACHE, default
# ~/.cache/secrets-rs-test): moto[server] 5.x in a Python virtual environment, and the AWS
# Secrets Manager Agent (cargo install, ~10 minutes the first time). Starts moto, a second moto
# that enforces IAM (tests/support/moto_iam.py, checked by its self-test) and the agent
# (pointed at moto) on free loopback ports, seeds the example secrets, builds the Lambda
# example for the lifecycle tests (which start their own simulated Lambda), runs
# `cargo test --workspace --all-features`, runs the benchmarks once in their test mode
# (no timings), then runs the quickstart against the agent.
# Stops exactly the processes it started (by pid) when it exits, even on failure.
#
# With arguments, runs them instead, with the peers up and the environment set:
#   ./scripts/test.sh cargo test -p secrets-tests --test extension
set -euo pipefail

MOTO_VERSION="5.2.5"
AGENT_VERSION="2.1.0"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
cache="${SECRETS_TEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/secrets-rs-test}"
mkdir -p "$cache"

log() { printf '==> %s\n' "$*" >&2; }

# --- install (cached) ------------------------------------------------------------------------
venv="$cache/moto-$MOTO_VERSION"
if ! "$venv/bin/python" -c 'import moto.server' 2>/dev/null; then
  log "installing moto[server]==$MOTO_VERSION into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

agent_root="$cache/agent-$AGENT_VERSION"
agent_bin="$agent_root/bin/aws_secretsmanager_agent"
if [ ! -x "$agent_bin" ]; then
  log "installing aws_secretsmanager_agent $AGENT_VERSION into $agent_root (about 10 minutes once)"
  cargo install aws_secretsmanager_agent --version "$AGENT_VERSION" --locked --root "$agent_root"
fi

# --- start the peers -------------------------------------------------------------------------
work="$(mktemp -d "${TMPDIR:-/tmp}/secrets-rs-test.XXXXXX")"
pids=()
cleanup() {
  local status=$?
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  # Up to 5 s for a clean exit, then SIGKILL: a stuck peer must not hang CI.
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ "$status" -ne 0 ]; then
    for logfile in "$work"/*.log; do
      [ -f "$logfile" ] || continue
      log "last lines of $(basename "$logfile")"
      tail -n 30 "$logfile" >&2 || true
    done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  "$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for_port PORT PID NAME: until something listens on PORT, failing if PID exits first.
wait_for_port() {
  local port=$1 pid=$2 name=$3
  for _ in $(seq 1 300); do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "$name exited before listening on port $port"
      return 1
    fi
    if "$venv/bin/python" -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  log "$name did not listen on port $port within 30 s"
  return 1
}

moto_port="$(free_port)"
"$venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
wait_for_port "$moto_port" "${pids[-1]}" moto_server
log "moto_server listening on 127.0.0.1:$moto_port (pid ${pids[-1]})"

# The SDK, the agent and the tests all reach moto through the standard variables.
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONTAINER_AUTHORIZATION_TOKEN AWS_LAMBDA_FUNCTION_NAME
unset AWS_ENDPOINT_URL_SECRETS_MANAGER AWS_ENDPOINT_URL_STS AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE
unset SECRETS_SOURCE SECRETS_LOCAL_PATH SECRETS_EXTENSION_DEADLINE_MILLIS SECRETS_MANAGER_TIMEOUT_MILLIS
unset PARAMETERS_SECRETS_EXTENSION_HTTP_PORT STAGE
# Leftover local secrets would shadow the tests' own.
while IFS= read -r var; do unset "$var"; done < <(compgen -e | grep '^SECRETS_LOCAL_' || true)
AWS_TOKEN="$("$venv/bin/python" -c 'import secrets; print(secrets.token_hex(16))')"
export AWS_TOKEN

# A second moto that enforces IAM (tests/support/moto_iam.py: moto_server with Secrets Manager and
# SSM reads authorised against their real ARNs), for the tests of generated IAM policies. Its
# first 3 requests are free: they create an admin user (Action "*" on Resource "*") and its key.
# Every later request is authenticated and authorised, so a test sets up as that admin (its own
# user, key, policy, secrets, parameters, under names of its own) and then acts as its user; many
# tests share this one server in parallel. The default testing/testing key is rejected there.
moto_iam_port="$(free_port)"
INITIAL_NO_AUTH_ACTION_COUNT=3 "$venv/bin/python" "$root/tests/support/moto_iam.py" \
  -H 127.0.0.1 -p "$moto_iam_port" >"$work/moto-iam.log" 2>&1 &
pids+=($!)
wait_for_port "$moto_iam_port" "${pids[-1]}" "moto_server (IAM enforced)"
export SECRETS_TEST_MOTO_IAM_URL="http://127.0.0.1:$moto_iam_port"
admin_key="$("$venv/bin/python" - "$SECRETS_TEST_MOTO_IAM_URL" <<'PY'
import json, sys
import boto3
from botocore.config import Config
iam = boto3.client("iam", endpoint_url=sys.argv[1], region_name="us-east-1",
                   aws_access_key_id="testing", aws_secret_access_key="testing",
                   config=Config(retries={"total_max_attempts": 1}))
# Exactly the 3 free requests.
iam.create_user(UserName="admin")
iam.put_user_policy(UserName="admin", PolicyName="admin", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
key = iam.create_access_key(UserName="admin")["AccessKey"]
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
)"
read -r SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID SECRETS_TEST_MOTO_IAM_ADMIN_SECRET <<<"$admin_key"
export SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID SECRETS_TEST_MOTO_IAM_ADMIN_SECRET
log "moto_server with IAM enforced listening on 127.0.0.1:$moto_iam_port (pid ${pids[-1]})"
if ! "$venv/bin/python" "$root/tests/support/moto_iam_selftest.py" --url "$SECRETS_TEST_MOTO_IAM_URL" \
  >"$work/moto-iam-selftest.log" 2>&1; then
  log "the IAM-enforcing moto failed its self-test"
  exit 1
fi
log "IAM-enforcing moto passed its self-test ($(tail -n 1 "$work/moto-iam-selftest.log"))"

agent_port="$(free_port)"
cat >"$work/agent.toml" <<TOML
http_port = "$agent_port"
ttl_seconds = "300"
region = "us-east-1"
log_to_file = false
log_level = "info"
validate_credentials = false
TOML
"$agent_bin" --config "$work/agent.toml" >"$work/agent.log" 2>&1 &
pids+=($!)
wait_for_port "$agent_port" "${pids[-1]}" aws_secretsmanager_agent
log "Secrets Manager Agent listening on 127.0.0.1:$agent_port (pid ${pids[-1]})"

# Seed the quickstart's secrets, so that the same example also runs through the agent.
"$venv/bin/python" - "$root/examples/secrets.local.json" <<'PY'
import json, sys
import boto3
client = boto3.client("secretsmanager")
for name, value in json.load(open(sys.argv[1])).items():
    client.create_secret(Name=name, SecretString=json.dumps(value))
PY
log "seeded the example secrets into moto"

# The Lambda lifecycle tests (tests/lambda.rs) run the real examples/lambda.rs on a simulated
# Lambda: built here with a 2 s TTL, with and without the sdk feature.
log "building examples/lambda.rs for the Lambda lifecycle tests"
target_dir="$(cargo metadata --format-version 1 --no-deps \
  | "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
mkdir -p "$work/bin"
cargo build --quiet -p secrets-examples --example lambda --features lambda,short-ttl
cp "$target_dir/debug/examples/lambda" "$work/bin/lambda-no-sdk"
cargo build --quiet -p secrets-examples --example lambda --features lambda,sdk,short-ttl
cp "$target_dir/debug/examples/lambda" "$work/bin/lambda"
export SECRETS_TEST_LAMBDA_BIN="$work/bin/lambda"
export SECRETS_TEST_LAMBDA_BIN_NO_SDK="$work/bin/lambda-no-sdk"

export SECRETS_TEST_MOTO_URL="$AWS_ENDPOINT_URL"
# The Python of the moto venv (boto3), for tests that set up IAM users (tests/support/iam_user.py).
export SECRETS_TEST_PYTHON="$venv/bin/python"
export SECRETS_TEST_AGENT_PORT="$agent_port"
export SECRETS_TEST_AGENT_BIN="$agent_bin"

# --- test ------------------------------------------------------------------------------------
if [ "$#" -gt 0 ]; then
  # `./scripts/test.sh cargo test --test sdk`: any command, with the peers up.
  log "$*"
  "$@"
  exit
fi

log "cargo test --workspace --all-features"
cargo test --workspace --all-features --no-fail-fast

# The benchmarks in their quick test mode (each benchmark once, no timings), so that they
# cannot rot.
log "benchmark check: cargo test -p secrets-tests --bench compare --bench lambda --bench reads"
cargo test -p secrets-tests --bench compare --bench lambda --bench reads

log "quickstart through the agent with STAGE=prd"
output="$(SECRETS_SOURCE=extension PARAMETERS_SECRETS_EXTENSION_HTTP_PORT="$agent_port" STAGE=prd \
  cargo run --quiet --example quickstart)"
printf '%s\n' "$output"
grep -q 'db_host *= jay.cluster-abc123.eu-west-1.rds.amazonaws.com' <<<"$output" \
  || { log "the quickstart did not load prd/lambda/jay through the agent"; exit 1; }
if grep -q 'prd-key-not-a-real-secret' <<<"$output"; then
  log "the quickstart printed a secret value"
  exit 1
fi
log "all tests passed"
