#!/usr/bin/env python3
"""moto_server, with Secrets Manager and SSM reads authorised against their real resource ARNs.

    INITIAL_NO_AUTH_ACTION_COUNT=N python moto_iam.py -H 127.0.0.1 -p PORT

Takes moto_server's own arguments. INITIAL_NO_AUTH_ACTION_COUNT is moto's own setting: the first
N requests (to any service) are free; every later request is authenticated (its SigV4 signature
checked against the caller's IAM access key; unknown keys are rejected) and authorised with moto's
IAM policy evaluator (moto/iam/access_control.py) against the caller's user or role policies.
Unset, nothing is ever checked.

Why the patch: moto 5.2.5 authorises every Secrets Manager and SSM action against resource "*"
(BaseResponse.call_action asks `_determine_resource()` only of the few response classes that
define it: sqs, iam, sts). A policy scoped to `arn:aws:secretsmanager:...:secret:prd/app-??????`
therefore never matches, and moto's matcher reads policy patterns as regular expressions, so a
`??????` suffix (the documented way to match Secrets Manager's 6-character ARN suffix) even
crashes the request with an HTTP 500 (re.error: multiple repeat).

What the patch changes, and nothing else:

1. Policy patterns match as IAM globs (`*` any run of characters, `?` exactly one, everything
   else literal), instead of as regular expressions. For every service.
2. Secrets Manager and SSM requests are authorised as AWS does (the table below), and their
   authentication and authorisation errors are AWS's JSON errors (HTTP 400, `__type` and
   x-amzn-ErrorType AccessDeniedException, UnrecognizedClientException for an unknown key,
   InvalidSignatureException, MissingAuthenticationTokenException for no signature) instead of
   moto's XML `AccessDenied` (HTTP 403), which the JSON-protocol SDKs cannot parse into an error
   code.

   Secrets Manager, action and resource authorised:
     GetSecretValue, DescribeSecret,       secretsmanager:<action> on the secret's full ARN (with
     ListSecretVersionIds,                 moto's 6-character suffix), resolved from SecretId (a
     GetResourcePolicy                     name, a full ARN or a partial ARN) in the request's
                                           account and region. A secret that does not exist: the
                                           ARN as given, or for a name
                                           arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME
                                           (no suffix). AWS authorises before it looks the secret
                                           up: a caller allowed only `...:secret:prd/app-??????`
                                           gets AccessDeniedException for `prd/missing`, never
                                           ResourceNotFoundException, so that a denied caller
                                           learns nothing about which secrets exist; a caller
                                           allowed on "*" gets ResourceNotFoundException.
     BatchGetSecretValue                   secretsmanager:BatchGetSecretValue on "*" (else the
                                           whole call fails), plus secretsmanager:ListSecrets on
                                           "*" if the request uses Filters; then
                                           secretsmanager:GetSecretValue on each secret (resolved
                                           as above): a denied one leaves SecretValues and comes
                                           back in Errors as {SecretId, ErrorCode:
                                           AccessDeniedException, Message}, the call succeeding.
                                           (The API reference: "If Secrets Manager encounters
                                           errors such as AccessDeniedException while attempting
                                           to retrieve any of the secrets, you can see the errors
                                           in Errors in the response"; "Required permissions:
                                           secretsmanager:BatchGetSecretValue, and you must have
                                           secretsmanager:GetSecretValue for each secret. If you
                                           use filters, you must also have
                                           secretsmanager:ListSecrets.")
     everything else (CreateSecret,        unchanged: secretsmanager:<action> on "*"
     PutSecretValue, ListSecrets, ...)

   SSM (Parameter Store), action and resource authorised:
     GetParameter, GetParameterHistory     ssm:<action> on arn:PARTITION:ssm:REGION:ACCOUNT:
                                           parameter/NAME (NAME without its leading "/"; a
                                           ":label" or ":version" selector dropped; a Name given
                                           as an ARN used as is, without its selector)
     GetParameters                         ssm:GetParameters on each name, as above; one denied
                                           name fails the whole call with AccessDeniedException
                                           (the user guide, "How Parameter Store authorizes
                                           parameter retrieval": GetParameters is authorised
                                           against "each requested parameter"; AWS's answer has
                                           no per-name error list, InvalidParameters is for names
                                           that do not exist)
     GetParametersByPath                   ssm:GetParametersByPath on the path itself
                                           (arn:...:parameter/prd/ for Path "/prd/"), not on the
                                           parameters it returns (same user guide page)
     everything else (PutParameter, ...)   unchanged: ssm:<action> on "*"

   Not modelled: kms:Decrypt. moto's Secrets Manager and SSM never call KMS (a SecureString is
   stored in clear; WithDecryption only changes how it is printed), so a kms:Decrypt statement
   can be neither required nor tested here. (On AWS it is only needed for customer-managed keys:
   the AWS-managed aws/ssm and aws/secretsmanager keys' key policies allow every principal of the
   account through the service.)

What moto's evaluator still does not model (not changed here): Condition blocks (moto can only
see request parameters, and returns DENIED for a statement whose condition does not hold, even an
Allow), NotResource (a statement without Resource matches every resource), policy variables
(`${aws:username}` is literal), case-insensitive action names (moto compares them
case-sensitively), resource-based policies (secret resource policies), permission boundaries,
SCPs and session policies.

How the tests use it (scripts/test.sh): one server with INITIAL_NO_AUTH_ACTION_COUNT=3, whose 3
free requests create the user "admin" with the inline policy {Allow "*" on "*"} and its access key,
exported as SECRETS_TEST_MOTO_IAM_URL, SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID and
SECRETS_TEST_MOTO_IAM_ADMIN_SECRET. No request is free after that, and testing/testing is rejected
(UnrecognizedClientException). A test, as the admin: creates its secrets and parameters, an IAM
user, an access key and the policy under test (PutUserPolicy), all under names of its own (a
random prefix), so that any number of tests share the server in parallel; then, with the user's
key, loads and expects success or AccessDeniedException. moto_iam_selftest.py --url does exactly
this. Account 123456789012; ARNs name the region the request is signed for.

Written for moto 5.2.5 (the version scripts/test.sh installs). It refuses to start on any other
version, and if any of the moto internals it replaces or calls is missing: re-read those (named in
`_check_internals`) before changing MOTO_VERSION.
"""

import json
import re
import sys
from urllib.parse import urlparse

MOTO_VERSION = "5.2.5"


def _fail(message):
    sys.stderr.write(f"moto_iam.py: {message}\n")
    raise SystemExit(2)


try:
    import moto
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.exceptions import (
        AccessDeniedError,
        InvalidClientTokenIdError,
        SignatureDoesNotMatchError,
    )
    from moto.core.responses import BaseResponse
    from moto.iam.access_control import IAMPolicyStatement, IAMRequest
    from moto.secretsmanager.responses import SecretsManagerResponse
    from moto.server import main as moto_server_main
    from moto.ssm.responses import SimpleSystemManagerResponse
except ImportError as error:  # pragma: no cover - a start-up failure is the point
    _fail(f"a moto internal this patch needs is missing ({error}); written for moto {MOTO_VERSION}")


def _check_internals():
    """Fails loudly unless every moto internal the patch replaces or calls is where it was."""
    if moto.__version__ != MOTO_VERSION:
        _fail(
            f"written for moto {MOTO_VERSION}, found {moto.__version__}: check the internals "
            "named in _check_internals still behave as described, then update MOTO_VERSION"
        )
    needed = [
        (BaseResponse, "call_action"),
        (BaseResponse, "_get_action"),
        (BaseResponse, "_get_param"),
        (BaseResponse, "_enrich_response"),
        (ActionAuthenticatorMixin, "request_count"),
        (ActionAuthenticatorMixin, "_authenticate_and_authorize_normal_action"),
        (settings, "INITIAL_NO_AUTH_ACTION_COUNT"),
        (IAMRequest, "check_signature"),
        (IAMRequest, "check_action_permitted"),
        (IAMPolicyStatement, "_match"),
        (IAMPolicyStatement, "_check_element_matches"),
        (SecretsManagerResponse, "backend"),
        (SecretsManagerResponse, "batch_get_secret_value"),
        (SimpleSystemManagerResponse, "get_parameters"),
    ]
    for owner, name in needed:
        if not hasattr(owner, name):
            _fail(f"{getattr(owner, '__name__', owner)}.{name} is missing; written for moto {MOTO_VERSION}")
    for cls in (SecretsManagerResponse, SimpleSystemManagerResponse):
        # If moto ever scopes these itself, this patch would fight it.
        if hasattr(cls, "_determine_resource") or "call_action" in vars(cls):
            _fail(f"{cls.__name__} now authorises by itself; re-check this patch")


# --- 1. IAM glob matching ------------------------------------------------------------------------


def _glob_match(pattern, string):
    """IAM's wildcard matching: `*` any run of characters (also empty), `?` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, string, re.DOTALL)


# --- 2. Secrets Manager and SSM ------------------------------------------------------------------

# Secrets Manager actions authorised against the secret named by their SecretId.
SECRET_SCOPED_ACTIONS = {"GetSecretValue", "DescribeSecret", "ListSecretVersionIds", "GetResourcePolicy"}
# SSM actions authorised against the parameter named by their Name, or each of their Names.
PARAMETER_SCOPED_ACTIONS = {"GetParameter", "GetParameterHistory", "GetParameters"}


class _AuthError(Exception):
    """An AWS JSON-protocol error: HTTP 400 with `__type` and `Message`."""

    def __init__(self, error_type, message):
        super().__init__(message)
        self.error_type = error_type
        self.message = message


def _secret_arn(response, secret_id):
    """The ARN AWS authorises a request naming `secret_id` against (see the module doc)."""
    if not secret_id:
        return "*"
    secret = response.backend.secrets.get(secret_id)
    if secret is not None:
        return secret.arn
    if secret_id.startswith("arn:"):
        return secret_id
    return f"arn:{response.partition}:secretsmanager:{response.region}:{response.current_account}:secret:{secret_id}"


def _parameter_arn(response, name):
    """The ARN AWS authorises a request naming parameter `name` (or a path) against."""
    if not name:
        return "*"
    if name.startswith("arn:"):
        head, sep, tail = name.partition(":parameter")
        return head + sep + tail.split(":", 1)[0]
    name = name.split(":", 1)[0]
    if not name.startswith("/"):
        name = "/" + name
    return f"arn:{response.partition}:ssm:{response.region}:{response.current_account}:parameter{name}"


def _checks(response, action):
    """[(IAM action without its service prefix, resource)] that the request needs, in order."""
    if isinstance(response, SecretsManagerResponse):
        if action in SECRET_SCOPED_ACTIONS:
            return [(action, _secret_arn(response, response._get_param("SecretId")))]
        if action == "BatchGetSecretValue" and response._get_param("Filters"):
            return [(action, "*"), ("ListSecrets", "*")]
        # BatchGetSecretValue's per-secret GetSecretValue: in _batch_get_secret_value.
        return [(action, "*")]
    if action in PARAMETER_SCOPED_ACTIONS:
        names = response._get_param("Names") if action == "GetParameters" else [response._get_param("Name")]
        return [(action, _parameter_arn(response, name)) for name in names or [None]]
    if action == "GetParametersByPath":
        return [(action, _parameter_arn(response, response._get_param("Path")))]
    return [(action, "*")]


def _iam_request(response, action):
    """moto's IAMRequest for this HTTP request, authorising `action` (authenticates the key)."""
    if "Authorization" not in response.headers:
        raise _AuthError("MissingAuthenticationTokenException", "Missing Authentication Token")
    parsed_url = urlparse(response.uri)
    path = response.raw_path + ("?" + parsed_url.query if parsed_url.query else "")
    try:
        return IAMRequest(
            account_id=response.current_account,
            method=response.method,
            path=path,
            data=response.data,
            body=response.raw_body,
            headers=response.headers,
            action=action,
        )
    except InvalidClientTokenIdError:
        raise _AuthError("UnrecognizedClientException", "The security token included in the request is invalid.")


def _check(response, action, resource):
    """Raises _AuthError(AccessDeniedException) unless the caller may do `action` on `resource`."""
    request = response._moto_iam_requests.get(action)
    if request is None:
        request = response._moto_iam_requests[action] = _iam_request(response, action)
    try:
        request.check_action_permitted(resource)
    except AccessDeniedError as denied:
        # moto's message is "User: <arn> is not authorized to perform: <service>:<action>".
        raise _AuthError("AccessDeniedException", f"{denied.message} on resource: {resource}")


def _allowed(response, action, resource):
    if response._moto_iam_requests is None:  # a free request
        return True
    try:
        _check(response, action, resource)
        return True
    except _AuthError:
        return False


def _authorize(response):
    """Authenticates and authorises a Secrets Manager or SSM request, or raises _AuthError.

    Counts free requests exactly as ActionAuthenticatorMixin._authenticate_and_authorize_action
    does (one per request, whatever the service), so that INITIAL_NO_AUTH_ACTION_COUNT keeps its
    meaning across services.
    """
    response._moto_iam_requests = None
    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    action = response._get_action()
    request = _iam_request(response, action)
    try:
        request.check_signature()
    except SignatureDoesNotMatchError as error:
        raise _AuthError("InvalidSignatureException", error.message)
    response._moto_iam_requests = {action: request}
    for needed_action, resource in _checks(response, action):
        _check(response, needed_action, resource)


def _call_action(original):
    def call_action(self):
        try:
            _authorize(self)
        except _AuthError as error:
            headers = dict(self.response_headers)
            headers.update(
                {"Content-Type": "application/x-amz-json-1.1", "x-amzn-ErrorType": error.error_type}
            )
            body = json.dumps({"__type": error.error_type, "Message": error.message})
            headers, body = self._enrich_response(headers, body)
            return 400, headers, body
        return original(self)

    return call_action


def _already_authorized(self, resource="*"):
    """Replaces moto's check inside call_action: _authorize did it, against the real ARNs."""


def _batch_get_secret_value(original):
    def batch_get_secret_value(self):
        answer = json.loads(original(self))
        if self._moto_iam_requests is None:  # a free request
            return json.dumps(answer)
        requested = {}  # secret ARN -> the SecretId it was asked for as
        for secret_id in self._get_param("SecretIdList") or []:
            requested.setdefault(_secret_arn(self, secret_id), secret_id)
        values, errors = [], []
        for value in answer.get("SecretValues") or []:
            if _allowed(self, "GetSecretValue", value["ARN"]):
                values.append(value)
            else:
                errors.append(_denied_entry(self, requested.get(value["ARN"], value["Name"]), value["ARN"]))
        for error in answer.get("Errors") or []:
            # moto's ResourceNotFoundException for a missing secret: AWS authorises first.
            resource = _secret_arn(self, error["SecretId"])
            if _allowed(self, "GetSecretValue", resource):
                errors.append(error)
            else:
                errors.append(_denied_entry(self, error["SecretId"], resource))
        answer["SecretValues"], answer["Errors"] = values, errors
        return json.dumps(answer)

    return batch_get_secret_value


def _denied_entry(response, secret_id, resource):
    try:
        _check(response, "GetSecretValue", resource)
        message = "Access denied"
    except _AuthError as error:
        message = error.message
    return {"SecretId": secret_id, "ErrorCode": "AccessDeniedException", "Message": message}


def install():
    _check_internals()
    IAMPolicyStatement._match = staticmethod(_glob_match)
    for cls in (SecretsManagerResponse, SimpleSystemManagerResponse):
        cls.call_action = _call_action(BaseResponse.call_action)
        cls._authenticate_and_authorize_normal_action = _already_authorized
    SecretsManagerResponse.batch_get_secret_value = _batch_get_secret_value(
        SecretsManagerResponse.batch_get_secret_value
    )


if __name__ == "__main__":
    install()
    moto_server_main(sys.argv[1:])
