"""A screenshot of the recommendations page, as the README shows it, from a running `graphrec serve`.

Opens `--url` (e.g. a user's shared link) in Debian's headless Chromium, waits until the recommendations and
their explanations are on the page, clicks the first recommended item so its similar items show, and saves
the window as a PNG. It also prints how long the page took to show the recommendations.

    .venv/bin/graphrec serve &        # on a graph with a written-back model (e.g. after `make demo`)
    .venv/bin/python benchmarks/page_screenshot.py --url 'http://127.0.0.1:8000/?user=1' --out page.png
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def explained(browser: webdriver.Chrome) -> bool:
    """Recommendations are listed and every one has its explanation line."""
    whys = browser.find_elements(By.CSS_SELECTOR, "#recommendations li .why")
    return bool(whys) and all(w.text and w.text != "…" for w in whys)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000/?user=1")
    parser.add_argument("--out", type=Path, default=Path("page.png"))
    parser.add_argument("--size", default="1400,1000", help="window width,height in CSS pixels")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--chromedriver", default=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    args = parser.parse_args()

    options = webdriver.ChromeOptions()
    options.binary_location = args.chromium
    flags = ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", f"--window-size={args.size}")
    for flag in flags:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(args.chromedriver), options=options)
    try:
        started = time.perf_counter()
        browser.get(args.url)
        WebDriverWait(browser, 60).until(explained, message="no explained recommendations within 60 s")
        shown = time.perf_counter() - started
        first = browser.find_elements(By.CSS_SELECTOR, "#recommendations button.item")
        if first:
            first[0].click()
            WebDriverWait(browser, 60).until(
                lambda b: b.find_elements(By.CSS_SELECTOR, "#similar li .score"), message="no similar items"
            )
        browser.save_screenshot(str(args.out))
    finally:
        browser.quit()
    print(f"recommendations with explanations shown {shown:.2f} s after navigation; wrote {args.out}")


if __name__ == "__main__":
    main()
