"""A real headless Chromium for the page tests (docs and studio), driven by Selenium.

Debian's chromium and chromium-driver (scripts/install.sh installs them) are used with the
driver path given, so nothing is ever downloaded. Every host other than 127.0.0.1 resolves
to nothing, and the tests check from Chromium's network log that no request tried to leave
the machine. A failing test saves a screenshot and names it.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.support.server import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
SCREENSHOTS = Path(os.environ.get("TTS_TEST_SCREENSHOTS", ROOT / "var" / "test-screenshots"))
#: axe-core, fetched from the npm registry when first needed (never committed).
AXE_DIR = ROOT / "var" / "axe-core"
AXE_VERSION = "4"
WAIT_SECONDS = 60


def chromium(profile: Path, flags: Iterable[str] = (), width: int = 1400) -> webdriver.Chrome:
    """Headless Chromium with its own profile, its console and network logged."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.skip("Chromium is not installed: scripts/install.sh installs Debian's chromium "
                    "and chromium-driver for these tests")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--window-size={width},1800",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
                 f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_script_timeout(WAIT_SECONDS)
    return driver


class Page:
    """The browser on one page, with what it logged since the page was opened."""

    def __init__(self, driver: webdriver.Chrome, name: str):
        self.driver = driver
        self.name = name

    def open(self, url: str) -> Page:
        self.driver.get("about:blank")
        self.driver.get_log("browser"), self.driver.get_log("performance")  # forget earlier pages
        self.driver.get(url)
        return self

    def find(self, css: str, within=None):
        """The first element matching ``css``, once there is one."""
        return self.wait_for(lambda: (within or self.driver).find_element(By.CSS_SELECTOR, css),
                             css)

    def find_all(self, css: str, within=None) -> list:
        return (within or self.driver).find_elements(By.CSS_SELECTOR, css)

    def wait_for(self, condition, message: str = "", timeout: float = WAIT_SECONDS):
        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=(
                NoSuchElementException, StaleElementReferenceException)).until(
                lambda _: condition())
        except TimeoutException:
            raise AssertionError(f"timed out waiting: {message or condition}") from None

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def console_problems(self) -> list[str]:
        return [f"{entry['level']}: {entry['message']}" for entry in self.driver.get_log("browser")
                if entry["level"] in ("SEVERE", "WARNING")]

    def requested_urls(self) -> list[str]:
        urls = []
        for entry in self.driver.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                urls.append(message["params"]["request"]["url"])
            elif message["method"] == "Network.webSocketCreated":
                urls.append(message["params"]["url"])
        return urls

    def horizontal_overflow(self, width: int = 420) -> list[str]:
        """At ``width`` CSS pixels: whether the page scrolls sideways, and what sticks out."""
        self.driver.set_window_size(width, 1200)
        self.wait_for(lambda: self.js("return window.innerWidth") <= width, "narrow window")
        return self.js("""
            const root = document.documentElement;
            if (root.scrollWidth <= root.clientWidth) return [];
            const out = [`page ${root.scrollWidth} px wide in ${root.clientWidth} px`];
            const clipped = (el) => {  // inside a box that scrolls or clips it
              for (let up = el.parentElement; up && up !== document.body; up = up.parentElement)
                if (getComputedStyle(up).overflowX !== 'visible') return true;
              return false;
            };
            for (const el of document.querySelectorAll('body *')) {
              const box = el.getBoundingClientRect();
              if (box.width && box.right > root.clientWidth + 1 && out.length < 8
                  && !clipped(el))
                out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.` +
                         `${el.className} right=${Math.round(box.right)}`);
            }
            return out;""")

    def axe_violations(self, impacts=("serious", "critical")) -> list[str]:
        """axe-core run in the page: the violations of the given impact."""
        self.js(axe_source())
        result = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            axe.run(document, {resultTypes: ['violations']})
              .then((r) => done(r.violations)).catch((e) => done(String(e)));""")
        assert isinstance(result, list), result
        return [f"{v['id']} ({v['impact']}): {v['help']}: "
                f"{[node['target'] for node in v['nodes']][:5]}"
                for v in result if v["impact"] in impacts]

    def screenshot(self) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{self.name}.png"
        self.driver.save_screenshot(str(path))
        return path


def screenshot_on_failure(test):
    """A failing browser test saves what the page looked like and says where."""

    @functools.wraps(test)
    def run(**fixtures):
        try:
            return test(**fixtures)
        except Exception as exc:
            path = fixtures["page"].screenshot()
            raise AssertionError(f"{exc}\nScreenshot of the page: {path}") from exc

    return run


def off_machine(urls: list[str]) -> list[str]:
    """Requests to any host but this one (blob: and data: URLs never leave the browser)."""
    return [url for url in urls if urlsplit(url).scheme in ("http", "https", "ws", "wss")
            and urlsplit(url).hostname != "127.0.0.1"]


@functools.cache
def axe_source() -> str:
    """axe.min.js from the npm registry (``npm pack axe-core@4``), kept under var/."""
    script = AXE_DIR / "package" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("npm is needed to fetch axe-core for the accessibility check")
        AXE_DIR.mkdir(parents=True, exist_ok=True)
        packed = subprocess.run([npm, "pack", f"axe-core@{AXE_VERSION}", "--silent",
                                 "--pack-destination", str(AXE_DIR)], capture_output=True,
                                text=True, timeout=180)
        if packed.returncode != 0:
            pytest.skip(f"could not fetch axe-core from the npm registry: {packed.stderr[-300:]}")
        archive = AXE_DIR / packed.stdout.strip().splitlines()[-1]
        with tarfile.open(archive) as tar:
            tar.extract("package/axe.min.js", AXE_DIR, filter="data")
    return script.read_text(encoding="utf-8")
