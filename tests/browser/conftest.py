"""The browser the page's tests drive: Debian's headless Chromium, through its chromedriver, with selenium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

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
