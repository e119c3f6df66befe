"""moto in server mode, in a thread: the AWS tests talk to it over real HTTP through boto3.

One server per test process (started on first use, stopped at exit); tests keep apart by using their
own bucket names and account ids. Test modules wrap `endpoint()` in a session-scoped fixture.
"""

from __future__ import annotations

import atexit
import logging
from functools import cache

import boto3
from moto.server import ThreadedMotoServer

REGION = "us-east-1"


@cache
def endpoint() -> str:
    """Start the server once and return its URL (`http://127.0.0.1:PORT`, a free port)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no request log lines in test output
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    atexit.register(server.stop)
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def session(region: str = REGION) -> boto3.Session:
    """A session with moto's dummy keys, so nothing can reach real AWS or read a real profile."""
    return boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=region)
