"""A real S3/SageMaker HTTP endpoint for tests: moto's server mode on 127.0.0.1."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

REGION = "us-east-1"


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's threaded server on a free port of 127.0.0.1; yield its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{server._server.server_port}"
    finally:
        server.stop()


def reset(endpoint: str) -> None:
    """Forget every bucket, object and job moto holds."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    urllib.request.urlopen(request, timeout=10).close()
