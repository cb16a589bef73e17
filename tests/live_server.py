"""The API served for real: uvicorn on a free loopback port in a daemon thread, for the tests that need a
socket (the reliability tests' abusive clients, the browser tests' Chromium)."""

from __future__ import annotations

import threading
import time

import httpx
import uvicorn
from integration.test_api import API_KEY

from graphrec.api.app import create_app
from graphrec.api.settings import ApiSettings
from graphrec.db.local import free_port


class LiveServer:
    """The app under uvicorn on a free loopback port, in a daemon thread; `client` is an httpx client with
    the service key (or none)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=self.port,
            log_config=None,
            access_log=False,
            lifespan="on",
            timeout_graceful_shutdown=2,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name=f"uvicorn-{self.port}", daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 60 s"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def client(self, key: str | None = API_KEY, timeout: float = 30.0) -> httpx.Client:
        """An HTTP client on the server, sending `key` as the bearer token when given."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)
