#!/usr/bin/env python3
"""Creates an IAM user whose only policy is the given document, on the IAM-enforcing moto.

    python iam_user.py POLICY_FILE
        Prints the new user's access key id and secret, separated by a space.

Acts as the admin of scripts/test.sh (SECRETS_TEST_MOTO_IAM_URL, SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID,
SECRETS_TEST_MOTO_IAM_ADMIN_SECRET). Each call makes a user of its own (a random name), so that
tests running at once never share one. Run it with the Python of the moto venv (boto3).
"""

import os
import secrets
import sys

import boto3


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with open(sys.argv[1], encoding="utf-8") as file:
        document = file.read()
    iam = boto3.client(
        "iam",
        endpoint_url=os.environ["SECRETS_TEST_MOTO_IAM_URL"],
        region_name="us-east-1",
        aws_access_key_id=os.environ["SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID"],
        aws_secret_access_key=os.environ["SECRETS_TEST_MOTO_IAM_ADMIN_SECRET"],
    )
    name = "user-" + secrets.token_hex(8)
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="generated", PolicyDocument=document)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    print(key["AccessKeyId"], key["SecretAccessKey"])


if __name__ == "__main__":
    main()
