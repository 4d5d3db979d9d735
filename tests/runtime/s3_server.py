"""A real S3-speaking server for tests: moto's server mode in a thread, checking every request's
Signature V4 against an IAM user's keys (so a wrong secret is refused as AWS would), and a
flaky front for it that answers 503 SlowDown to the first requests it is told to refuse."""

from __future__ import annotations

import json
import socket
import threading
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

REGION = "us-east-1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class S3Server:
    endpoint: str
    bucket: str
    access_key_id: str
    secret_access_key: str

    def env(self, **overrides: str) -> dict[str, str]:
        """The PyTake settings of a store on this bucket (path-style, as for any self-hosted S3)."""
        return {"PYTAKE_MEDIA_STORE": "s3", "PYTAKE_S3_ENDPOINT": self.endpoint, "PYTAKE_S3_BUCKET": self.bucket,
                "PYTAKE_S3_REGION": REGION, "PYTAKE_S3_ACCESS_KEY_ID": self.access_key_id,
                "PYTAKE_S3_SECRET_ACCESS_KEY": self.secret_access_key, "PYTAKE_S3_ADDRESSING": "path",
                **overrides}

    def client(self) -> Any:
        """A boto3 client with the same keys: an independent reader of what the store wrote."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key)


def start_moto() -> tuple[S3Server, Any]:
    """moto on a free port with a bucket and an IAM user allowed s3:* on it; from then on
    moto authenticates every request (``/moto-api/reset-auth`` 0)."""
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    setup = {"endpoint_url": endpoint, "region_name": REGION, "aws_access_key_id": "setup",
             "aws_secret_access_key": "setup"}
    iam = boto3.client("iam", **setup)
    user = f"pytake-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="media", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    bucket = f"pytake-media-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", **setup).create_bucket(Bucket=bucket)
    answer = httpx.post(endpoint + "/moto-api/reset-auth", content=b"0")
    assert answer.status_code == 200, answer.text
    return S3Server(endpoint, bucket, key["AccessKeyId"], key["SecretAccessKey"]), server


class FlakyFront:
    """An HTTP front for S3 that answers ``503 SlowDown`` (S3's throttling answer) to the
    first ``refuse`` requests, then passes requests through unchanged (Host included, so
    the signature still holds)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.refuse = 0
        self.seen: list[tuple[str, int]] = []  # (method, status answered)
        self._lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with front._lock:
                    refused = front.refuse > 0
                    front.refuse -= 1 if refused else 0
                if refused:
                    payload = (b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code>"
                               b"<Message>Please reduce your request rate.</Message></Error>")
                    status, headers = 503, {"Content-Type": "application/xml"}
                else:
                    answer = httpx.request(self.command, front.upstream + self.path, content=body or None,
                                           headers={k: v for k, v in self.headers.items()
                                                    if k.lower() not in ("connection", "content-length")})
                    status, payload = answer.status_code, answer.content
                    headers = {k: v for k, v in answer.headers.items()
                               if k.lower() in ("content-type", "etag", "last-modified")}
                front.seen.append((self.command, status))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_PUT = do_DELETE = do_HEAD = do_POST = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
