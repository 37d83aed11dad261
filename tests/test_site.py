"""The gallery site, built in smoke mode, as a person sees it in a real browser (headless Chromium).

Every page of the landing page, the notebooks and the reference pages must load with no
console error, decode every image and resolve every internal link (and its #anchor); math
must be typeset offline; screenshots of the landing page and the moons page are kept next to
the built site. Needs the Debian packages ``chromium`` and ``chromium-driver`` (``.ci/run``
installs them); the test skips only where ``BNNGALLERY_SKIP_BROWSER=1`` says so.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import pytest

# builds the whole smoke site (every notebook executed, then Sphinx): make test-gallery, not make test
pytestmark = pytest.mark.gallery

SKIP_ENV = "BNNGALLERY_SKIP_BROWSER"


def _chromium() -> tuple[str, str]:
    browsers = ("chromium", "chromium-browser", "google-chrome")
    browser = next((shutil.which(b) for b in browsers if shutil.which(b)), None)
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    if os.environ.get(SKIP_ENV) == "1":
        pytest.skip(f"no Chromium here and {SKIP_ENV}=1")
    pytest.fail(
        "The site's browser test needs Chromium: apt-get install -y chromium chromium-driver "
        f"(or set {SKIP_ENV}=1 to skip it on a machine without a browser)."
    )


@pytest.fixture(scope="module")
def served_site(smoke_site):
    """The smoke-built site served over HTTP on localhost (as a published site is read)."""
    out, index = smoke_site
    html = index.parent
    handler = functools.partial(_QuietHandler, directory=str(html))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield out, html, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class _QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # the browser closing a connection early is not a fault of the site


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = _chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1600"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    yield driver
    driver.quit()


class _Anchors(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("id", "name") and value:
                self.ids.add(value)


def _pages(html: Path) -> list[str]:
    """The landing page, every notebook page and the reference pages (paths relative to the site)."""
    notebooks = sorted(p.relative_to(html).as_posix() for p in (html / "notebooks").glob("*.html"))
    return ["index.html", *notebooks, "results.html", "mnist_scale_mixture.html", "reuse.html", "api.html"]


def _load(driver, url: str) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")
    # MathJax typesets after load; wait until it is done where the page loads it
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script(
            "return !window.MathJax || !MathJax.startup || !MathJax.startup.promise ? true :"
            " (window.__typeset === undefined ? (MathJax.startup.promise.then(() => { window.__typeset = true; }),"
            " false) : window.__typeset)"
        )
    )


def test_every_page_loads_clean_in_chromium(served_site, browser):
    out, html, base = served_site
    pages = _pages(html)
    assert len(pages) >= 5 + len(list((html / "notebooks").glob("*.html"))) - 1
    problems: list[str] = []
    links: set[str] = set()
    for page in pages:
        _load(browser, base + page)
        for entry in browser.get_log("browser"):
            if entry["level"] in ("SEVERE", "ERROR"):
                problems.append(f"{page}: console {entry['message']}")
        broken = browser.execute_script(
            "return Array.from(document.images).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src)"
        )
        problems += [f"{page}: image does not decode: {src}" for src in broken]
        text = browser.execute_script("return document.body.innerText")
        for raw in ("IProgress not found", "\\begin{array}", "$$"):
            if raw in text:
                problems.append(f"{page}: shows raw {raw!r}")
        if browser.find_elements("css selector", ".output.stderr, div.stderr"):
            problems.append(f"{page}: a stderr block")
        links |= {
            href
            for href in browser.execute_script("return Array.from(document.links).map(a => a.href)")
            if href.startswith(base)
        }
    anchors: dict[str, set[str]] = {}
    for link in sorted(links):
        target, _, fragment = link.partition("#")
        path = urllib.parse.urlparse(target).path.lstrip("/") or "index.html"
        if path.endswith("/"):
            path += "index.html"
        file = html / urllib.parse.unquote(path)
        if not file.is_file():
            problems.append(f"link to a missing page: {link}")
            continue
        if fragment and file.suffix == ".html":
            if path not in anchors:
                parser = _Anchors()
                parser.feed(file.read_text(errors="replace"))
                anchors[path] = parser.ids
            if urllib.parse.unquote(fragment) not in anchors[path]:
                problems.append(f"link to a missing anchor: {link}")
    assert not problems, "\n".join(problems)
    assert len(links) > 20  # cards, the table of contents, the API pages


def test_math_and_progress_read_as_a_person_sees_them(served_site, browser):
    """The moons page: the model's LaTeX summary typeset by the bundled MathJax (no network),
    the fits' progress bars as finished text bars, and screenshots kept for a reader."""
    out, html, base = served_site
    with urllib.request.urlopen(base + "_static/mathjax/tex-chtml.js") as response:
        assert response.status == 200  # MathJax is served by the site itself
    _load(browser, base + "notebooks/moons.html")
    assert browser.find_elements("css selector", "mjx-container"), "no typeset math on the moons page"
    text = browser.execute_script("return document.body.innerText")
    assert "ADVI (jax): 100%" in text  # the engine's bar, in its final state
    browser.save_screenshot(str(out / "moons.png"))
    _load(browser, base + "index.html")
    cards = browser.find_elements("css selector", ".sd-card")
    assert len(cards) == len(list((html / "notebooks").glob("*.html")))
    browser.save_screenshot(str(out / "landing.png"))
    import matplotlib.image as mpimg

    for shot in ("landing.png", "moons.png"):
        pixels = mpimg.imread(out / shot)
        assert pixels.shape[0] >= 800 and pixels.std() > 0.05, shot  # a drawn page, not a blank one
