#!/usr/bin/env python3
"""Checks that moto_iam.py authorises Secrets Manager and SSM reads as AWS does.

    python moto_iam_selftest.py
        Starts moto_iam.py on a free loopback port with INITIAL_NO_AUTH_ACTION_COUNT set to
        exactly the number of set-up requests, and sets up with those free requests.
    python moto_iam_selftest.py --url URL
        Uses a running moto_iam.py (scripts/test.sh's SECRETS_TEST_MOTO_IAM_URL) and sets up as
        the admin user in SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID / SECRETS_TEST_MOTO_IAM_ADMIN_SECRET,
        under names of its own, as a Rust test would.

Run it with the Python of the moto venv (boto3 comes with moto[server]). Prints one line per
check and exits 1 if any failed.
"""

import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
REGION = "us-east-1"
# One request per call, so that the set-up uses exactly SETUP_CALLS free requests.
CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)

# The policy under test, one statement per permission the "load" below needs; {sm} and {ssm} are
# the ARN prefixes of this run's secrets and parameters.
STATEMENTS = [
    ("GetA", "secretsmanager:GetSecretValue", "{sm}:secret:{prefix}/a-??????"),
    ("Batch", "secretsmanager:BatchGetSecretValue", "*"),
    ("Params", "ssm:GetParameters", "{ssm}:parameter/{prefix}/secure"),
    ("Param", "ssm:GetParameter", "{ssm}:parameter/{prefix}/secure"),
    ("Path", "ssm:GetParametersByPath", "{ssm}:parameter/{prefix}/*"),
]
# 2 secrets + 2 parameters, then per user (full policy, Resource "*", and the full policy without
# each statement in turn): CreateUser, CreateAccessKey, PutUserPolicy.
SETUP_CALLS = 4 + 3 * (2 + len(STATEMENTS))


def policy(statements, sm, ssm, prefix, star=False):
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": sid,
                    "Effect": "Allow",
                    "Action": action,
                    "Resource": "*" if star else resource.format(sm=sm, ssm=ssm, prefix=prefix),
                }
                for sid, action, resource in statements
            ],
        }
    )


class Clients:
    def __init__(self, url, key_id, secret, counter=None):
        kw = dict(
            endpoint_url=url,
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=CONFIG,
        )
        self.sm = boto3.client("secretsmanager", **kw)
        self.ssm = boto3.client("ssm", **kw)
        self.iam = boto3.client("iam", **kw)
        if counter is not None:
            for client in (self.sm, self.ssm, self.iam):
                client.meta.events.register("before-send", counter)


def setup(admin, prefix):
    """Creates this run's secrets, parameters and users; {user label: Clients} and the ARNs."""
    a = admin.sm.create_secret(Name=f"{prefix}/a", SecretString='{"v":"a"}')["ARN"]
    b = admin.sm.create_secret(Name=f"{prefix}/b", SecretString='{"v":"b"}')["ARN"]
    admin.ssm.put_parameter(Name=f"/{prefix}/plain", Value="plain-value", Type="String")
    admin.ssm.put_parameter(Name=f"/{prefix}/secure", Value="secure-value", Type="SecureString")
    partition, _, region, account = a.split(":")[1:5]
    sm = f"arn:{partition}:secretsmanager:{region}:{account}"
    ssm = f"arn:{partition}:ssm:{region}:{account}"
    policies = {
        "full": policy(STATEMENTS, sm, ssm, prefix),
        "star": policy(STATEMENTS, sm, ssm, prefix, star=True),
    }
    for i, (sid, _, _) in enumerate(STATEMENTS):
        policies[f"no-{sid}"] = policy(STATEMENTS[:i] + STATEMENTS[i + 1 :], sm, ssm, prefix)
    users = {}
    for label, document in policies.items():
        name = f"{prefix}-{label}"
        admin.iam.create_user(UserName=name)
        key = admin.iam.create_access_key(UserName=name)["AccessKey"]
        admin.iam.put_user_policy(UserName=name, PolicyName="load", PolicyDocument=document)
        users[label] = (key["AccessKeyId"], key["SecretAccessKey"])
    return users, {"a": a, "b": b, "sm": sm}


def error_code(call):
    try:
        call()
    except ClientError as error:
        return error.response["Error"]["Code"]
    return None


def run_checks(url, users, arns, prefix):
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'ok  ' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}", flush=True)

    def expect_error(name, expected, call):
        got = error_code(call)
        check(name, got == expected, f"expected {expected}, got {got or 'success'}")

    def expect_ok(name, call, verify=lambda answer: (True, "")):
        try:
            answer = call()
        except ClientError as error:
            check(name, False, f"{error.response['Error']['Code']}: {error}")
            return
        ok, detail = verify(answer)
        check(name, ok, detail)

    c = {label: Clients(url, *key) for label, key in users.items()}
    a, b = f"{prefix}/a", f"{prefix}/b"
    missing = f"{prefix}/missing"
    plain, secure = f"/{prefix}/plain", f"/{prefix}/secure"
    partial_a = f"{arns['sm']}:secret:{a}"

    # Enforcement is on: no free requests left, unknown keys and bad signatures rejected.
    unknown = Clients(url, "testing", "testing")
    expect_error("unknown access key: UnrecognizedClientException", "UnrecognizedClientException",
                 lambda: unknown.sm.get_secret_value(SecretId=a))
    wrong = Clients(url, users["full"][0], "not-the-secret")
    expect_error("wrong secret key: InvalidSignatureException", "InvalidSignatureException",
                 lambda: wrong.sm.get_secret_value(SecretId=a))

    full = c["full"]
    value_is = lambda v: lambda r: (r.get("SecretString") == v, f"SecretString {r.get('SecretString')!r}")
    expect_ok("full policy: GetSecretValue A by name", lambda: full.sm.get_secret_value(SecretId=a),
              value_is('{"v":"a"}'))
    expect_ok("full policy: GetSecretValue A by full ARN",
              lambda: full.sm.get_secret_value(SecretId=arns["a"]), value_is('{"v":"a"}'))
    expect_ok("full policy: GetSecretValue A by partial ARN",
              lambda: full.sm.get_secret_value(SecretId=partial_a), value_is('{"v":"a"}'))
    expect_error("full policy: GetSecretValue B: AccessDeniedException", "AccessDeniedException",
                 lambda: full.sm.get_secret_value(SecretId=b))
    expect_error("full policy: GetSecretValue of a missing secret: AccessDeniedException",
                 "AccessDeniedException", lambda: full.sm.get_secret_value(SecretId=missing))
    expect_error("full policy: DescribeSecret A (no statement): AccessDeniedException",
                 "AccessDeniedException", lambda: full.sm.describe_secret(SecretId=a))

    def batch_is(values, errors):
        def verify(r):
            got_values = sorted(v["Name"] for v in r.get("SecretValues", []))
            got_errors = sorted((e["SecretId"], e["ErrorCode"]) for e in r.get("Errors", []))
            ok = got_values == sorted(values) and got_errors == sorted(errors)
            return ok, f"SecretValues {got_values}, Errors {got_errors}"
        return verify

    expect_ok("full policy: BatchGetSecretValue [A, B, missing]: A, B and missing in Errors as AccessDeniedException",
              lambda: full.sm.batch_get_secret_value(SecretIdList=[a, b, missing]),
              batch_is([a], [(b, "AccessDeniedException"), (missing, "AccessDeniedException")]))

    def params_are(expected):
        def verify(r):
            got = sorted((p["Name"], p["Value"]) for p in r.get("Parameters", []))
            return got == sorted(expected), f"Parameters {got}, InvalidParameters {r.get('InvalidParameters')}"
        return verify

    expect_ok("full policy: GetParameters [secure] with decryption",
              lambda: full.ssm.get_parameters(Names=[secure], WithDecryption=True),
              params_are([(secure, "secure-value")]))
    expect_error("full policy: GetParameters [plain]: AccessDeniedException", "AccessDeniedException",
                 lambda: full.ssm.get_parameters(Names=[plain]))
    expect_error("full policy: GetParameters [secure, plain]: the whole call AccessDeniedException",
                 "AccessDeniedException", lambda: full.ssm.get_parameters(Names=[secure, plain], WithDecryption=True))
    expect_ok("full policy: GetParameter secure:1 (version selector)",
              lambda: full.ssm.get_parameter(Name=f"{secure}:1", WithDecryption=True),
              lambda r: (r["Parameter"]["Value"] == "secure-value", f"Parameter {r['Parameter']}"))
    expect_error("full policy: GetParameter plain: AccessDeniedException", "AccessDeniedException",
                 lambda: full.ssm.get_parameter(Name=plain))
    expect_ok("full policy: GetParametersByPath on the path returns plain too (authorised on the path)",
              lambda: full.ssm.get_parameters_by_path(Path=f"/{prefix}/", WithDecryption=True),
              params_are([(plain, "plain-value"), (secure, "secure-value")]))

    star = c["star"]
    expect_ok('Resource "*": GetSecretValue B', lambda: star.sm.get_secret_value(SecretId=b),
              value_is('{"v":"b"}'))
    expect_error('Resource "*": GetSecretValue of a missing secret: ResourceNotFoundException',
                 "ResourceNotFoundException", lambda: star.sm.get_secret_value(SecretId=missing))
    expect_ok('Resource "*": BatchGetSecretValue [A, B, missing]: A, B, missing as ResourceNotFoundException',
              lambda: star.sm.batch_get_secret_value(SecretIdList=[a, b, missing]),
              batch_is([a, b], [(missing, "ResourceNotFoundException")]))
    expect_ok('Resource "*": GetParameters [secure, plain]',
              lambda: star.ssm.get_parameters(Names=[secure, plain], WithDecryption=True),
              params_are([(plain, "plain-value"), (secure, "secure-value")]))

    # Each statement is needed: without it, the call it allows fails.
    probes = {
        "GetA": lambda u: u.sm.get_secret_value(SecretId=a),
        "Batch": lambda u: u.sm.batch_get_secret_value(SecretIdList=[a]),
        "Params": lambda u: u.ssm.get_parameters(Names=[secure], WithDecryption=True),
        "Param": lambda u: u.ssm.get_parameter(Name=secure, WithDecryption=True),
        "Path": lambda u: u.ssm.get_parameters_by_path(Path=f"/{prefix}/"),
    }
    for sid, _, _ in STATEMENTS:
        expect_error(f"without statement {sid}: its call AccessDeniedException", "AccessDeniedException",
                     lambda: probes[sid](c[f"no-{sid}"]))
    expect_ok("without statement Batch: GetSecretValue A still allowed",
              lambda: c["no-Batch"].sm.get_secret_value(SecretId=a), value_is('{"v":"a"}'))
    return results


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, process, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_iam.py exited with {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"moto_iam.py did not listen on port {port} within {seconds} s")


def main(argv):
    started = time.monotonic()
    prefix = f"selftest-{secrets.token_hex(4)}"
    process = log = None
    try:
        if argv[:1] == ["--url"] and len(argv) == 2:
            url = argv[1]
            admin = Clients(url, os.environ["SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID"],
                            os.environ["SECRETS_TEST_MOTO_IAM_ADMIN_SECRET"])
            users, arns = setup(admin, prefix)
        elif not argv:
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            log = tempfile.TemporaryFile()
            env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(SETUP_CALLS))
            process = subprocess.Popen(
                [sys.executable, os.path.join(HERE, "moto_iam.py"), "-H", "127.0.0.1", "-p", str(port)],
                env=env, stdout=log, stderr=subprocess.STDOUT,
            )
            wait_for_port(port, process)
            sent = []
            admin = Clients(url, "testing", "testing", counter=lambda **_: sent.append(1))
            users, arns = setup(admin, prefix)
            if len(sent) != SETUP_CALLS:
                raise RuntimeError(f"set-up sent {len(sent)} requests, not SETUP_CALLS={SETUP_CALLS}")
        else:
            sys.stderr.write(__doc__)
            return 2
        print(f"moto_iam self-test against {url}, names under {prefix}", flush=True)
        results = run_checks(url, users, arns, prefix)
    except Exception as error:
        print(f"FAIL set-up: {type(error).__name__}: {error}", flush=True)
        results = [False]
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    failed = results.count(False)
    if failed and log is not None:
        log.seek(0)
        print("--- moto_iam.py output (last 40 lines) ---")
        print("\n".join(log.read().decode(errors="replace").splitlines()[-40:]))
    print(f"{len(results) - failed} of {len(results)} checks passed in {time.monotonic() - started:.1f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
