"""Fixtures for the browser tests: Debian's headless Chromium driven by selenium through chromedriver, and the
API served by uvicorn on a free port, on the test Neo4j."""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from starlette.applications import Starlette

from graphrec.db.local import free_port

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
CHROMEDRIVER = ("chromedriver",)


def _find(names: tuple[str, ...], variable: str) -> str | None:
    """The executable `variable` names, else the first of `names` on PATH (Debian: /usr/bin)."""
    given = os.environ.get(variable)
    if given:
        return given if Path(given).is_file() else None
    return next((found for name in names if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def browser() -> Iterator[webdriver.Chrome]:
    """One headless Chromium for the session (GRAPHREC_CHROMIUM / GRAPHREC_CHROMEDRIVER override the paths).
    Missing, it fails the tests under CI and skips them elsewhere: `make system-deps` installs it."""
    binary = _find(CHROMIUM, "GRAPHREC_CHROMIUM")
    driver_path = _find(CHROMEDRIVER, "GRAPHREC_CHROMEDRIVER")
    if binary is None or driver_path is None:
        reason = "Chromium and chromedriver not found (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # a given chromedriver: selenium's manager never goes looking for (or downloading) one
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


class ServedApp:
    """An ASGI app served by uvicorn on a loopback port from a background thread, until `stop`."""

    def __init__(self, app: Starlette) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self._server.started:
            assert self._thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start within 60 s"
            time.sleep(0.05)

    @property
    def url(self) -> str:
        """The app's base URL."""
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Let uvicorn finish in-flight requests and run the app's shutdown."""
        self._server.should_exit = True
        self._thread.join(timeout=30)
