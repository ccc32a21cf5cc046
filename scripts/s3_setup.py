"""Prepares a fresh moto server for Knit's S3 tests and prints the env to use it.

usage: s3_setup.py ENDPOINT BUCKET

Creates an IAM user with an allow-all policy and an access key, and the bucket, then
prints `export KNIT_TEST_S3_*=...` lines. Waits for the server by TCP connect only:
every HTTP request counts against moto's unauthenticated allowance.
"""

import re
import socket
import sys
import time
import urllib.parse
import urllib.request

AUTH = "AWS4-HMAC-SHA256 Credential=AKIASETUP/20260101/us-east-1/{}/aws4_request"


def wait_for(endpoint: str, seconds: float = 30.0) -> None:
    url = urllib.parse.urlparse(endpoint)
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection((url.hostname, url.port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                sys.exit(f"moto did not start on {endpoint}")
            time.sleep(0.2)


def call(endpoint: str, service: str, method: str, path: str = "/", form=None) -> str:
    data = urllib.parse.urlencode(form).encode() if form else None
    request = urllib.request.Request(endpoint + path, data=data, method=method)
    request.add_header("Authorization", AUTH.format(service))
    if data:
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.read().decode()


def main() -> None:
    endpoint, bucket = sys.argv[1], sys.argv[2]
    wait_for(endpoint)
    iam = {"Version": "2010-05-08", "UserName": "knit"}
    call(endpoint, "iam", "POST", form={**iam, "Action": "CreateUser"})
    policy = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'
    call(endpoint, "iam", "POST",
         form={**iam, "Action": "PutUserPolicy", "PolicyName": "all", "PolicyDocument": policy})
    keys = call(endpoint, "iam", "POST", form={**iam, "Action": "CreateAccessKey"})
    key_id = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", keys).group(1)
    secret = re.search(r"<SecretAccessKey>([^<]+)</SecretAccessKey>", keys).group(1)
    call(endpoint, "s3", "PUT", path=f"/{bucket}")
    print(f"export KNIT_TEST_S3_ENDPOINT={endpoint}")
    print(f"export KNIT_TEST_S3_BUCKET={bucket}")
    print(f"export KNIT_TEST_S3_ACCESS_KEY_ID={key_id}")
    print(f"export KNIT_TEST_S3_SECRET_ACCESS_KEY={secret}")


if __name__ == "__main__":
    main()
