"""The built book in a real (headless) browser.

Builds the book with the command of ``python tasks.py book``, serves ``_build/html``
on 127.0.0.1 and opens every page in Debian's Chromium through Selenium (with an
explicit chromedriver path, so nothing is ever downloaded). Checks:

* no severe console message on any page (JavaScript errors, failed loads; the
  site is self-contained, so an attempt to reach the internet fails here too);
* every ``<img>`` loaded (``naturalWidth > 0``);
* every exercise solution on the solution pages is folded and opens when its
  toggle is clicked;
* every Colab link points at an exercise notebook ``notebooks/<name>.ipynb`` that
  exists, in the repository named by ``_config.yml``, and every solution page
  launches its own exercise;
* no page shows an authoring marker (``### BEGIN SOLUTION``, ``### END SOLUTION``).

Screenshots of a few pages go to ``_build/screenshots/``. Without Chromium the
tests skip, unless ``ECG_COURSE_REQUIRE_BROWSER=1`` (CI), where they fail.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import book_site
import pytest
import yaml

PAGE_TIMEOUT_S = 20
COLAB_PREFIX = "https://colab.research.google.com/github/"
SCREENSHOT_PAGES = {
    "book/intro.html": "intro.png",
    "book/ecg_primer.html": "ecg_primer.png",
    "book/datasets.html": "datasets.png",
    "book/rnn_lstm.html": "rnn_lstm.png",
    "book/new_patients.html": "new_patients.png",
    "book/grading.html": "grading.png",
}
CHAPTER_PAGES = (
    "solutions/01_ecg5000_lstm.html",
    "solutions/02_mitbih_lstm_fcn.html",
    "book/new_patients.html",
    "solutions/03_new_patients.html",
    "book/grading.html",  # the instructors' grading page
)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def html_dir() -> Path:
    return book_site.build_book()


@pytest.fixture(scope="session")
def base_url(html_dir: Path):
    with book_site.serve(html_dir) as url:
        yield url


def _unavailable(reason: str):
    if book_site.browser_required():
        pytest.fail(f"{reason} ({book_site.REQUIRE_BROWSER_ENV} is set)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def driver():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _unavailable("selenium is not installed (pip install selenium)")
    found = book_site.find_browser()
    if found is None:
        _unavailable(
            "Chromium or chromedriver not found (Debian: apt-get install chromium chromium-driver)"
        )
    chromium, chromedriver = found
    profile = tempfile.mkdtemp(prefix="ecg-course-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(executable_path=chromedriver))
    browser.set_page_load_timeout(PAGE_TIMEOUT_S)
    try:
        yield browser
    finally:
        browser.quit()
        shutil.rmtree(profile, ignore_errors=True)


# --------------------------------------------------------------------------- helpers


def _open(driver, url: str) -> list[dict]:
    """Load ``url``, wait for the page and its images; return its severe console entries."""
    driver.get_log("browser")  # drop what earlier pages left
    driver.get(url)
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    while time.monotonic() < deadline:
        ready = driver.execute_script(
            "return document.readyState === 'complete' && "
            "Array.from(document.images).every(i => i.complete);"
        )
        if ready:
            break
        time.sleep(0.1)
    time.sleep(0.3)  # let deferred scripts (MathJax, toggles) run and report
    return [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def _broken_images(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.images)"
        ".filter(i => !(i.complete && i.naturalWidth > 0))"
        ".map(i => i.currentSrc || i.src);"
    )


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _colab_links(page: Path) -> list[str]:
    parser = _Links()
    parser.feed(page.read_text(encoding="utf-8"))
    return [h for h in parser.hrefs if h.startswith("https://colab.research.google.com")]


class _Text(HTMLParser):
    """The text of a page, without its tags (highlighted code is split into spans)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _page_text(page: Path) -> str:
    parser = _Text()
    parser.feed(page.read_text(encoding="utf-8"))
    return "".join(parser.parts)


def _repository() -> tuple[str, str]:
    config = yaml.safe_load((book_site.ROOT / "_config.yml").read_text())
    repo = config["repository"]
    org_repo = repo["url"].rstrip("/").split("github.com/", 1)[1]
    return org_repo, repo.get("branch", "main")


# --------------------------------------------------------------------------- tests


def test_every_page_loads_cleanly(driver, base_url: str, html_dir: Path) -> None:
    pages = book_site.html_pages(html_dir)
    assert "book/intro.html" in pages and len(pages) >= 10, pages
    assert set(CHAPTER_PAGES) <= set(pages), sorted(set(CHAPTER_PAGES) - set(pages))
    problems = []
    n_images = 0
    for page in pages:
        for entry in _open(driver, base_url + page):
            if page == "index.html" and "/favicon.ico " in entry["message"]:
                # Jupyter Book's root index.html is a bare redirect with no icon link, so
                # Chromium asks for /favicon.ico itself, when the redirect is slow enough
                continue
            problems.append(f"{page}: console {entry['level']}: {entry['message']}")
        broken = _broken_images(driver)
        problems += [f"{page}: image not loaded: {src}" for src in broken]
        n_images += driver.execute_script("return document.images.length;")
        if page in SCREENSHOT_PAGES:
            book_site.SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
            driver.save_screenshot(str(book_site.SCREENSHOT_DIR / SCREENSHOT_PAGES[page]))
    assert not problems, "\n".join(problems)
    assert n_images > 0, "no image on any page"


def test_math_is_typeset(driver, base_url: str) -> None:
    _open(driver, base_url + "book/rnn_lstm.html")
    deadline = time.monotonic() + PAGE_TIMEOUT_S
    rendered = 0
    while time.monotonic() < deadline and not rendered:
        rendered = driver.execute_script(
            "return document.querySelectorAll('mjx-container').length;"
        )
        time.sleep(0.2)
    assert rendered > 5, "MathJax did not typeset the LSTM equations"


def test_solutions_are_folded_and_open_on_click(driver, base_url: str, html_dir: Path) -> None:
    from selenium.webdriver.common.by import By

    solution_pages = sorted(p for p in book_site.html_pages(html_dir) if p.startswith("solutions/"))
    assert solution_pages, "no solution page was built"
    for page in solution_pages:
        assert not _open(driver, base_url + page)
        solutions = driver.find_elements(By.CSS_SELECTOR, "div.solution.dropdown")
        assert solutions, f"{page}: no folded exercise solution"
        for solution in solutions:
            body = solution.find_element(By.CSS_SELECTOR, "section, div.section, .solution-content")
            assert not body.is_displayed(), f"{page}: a solution is visible before its toggle"
            button = solution.find_element(By.CSS_SELECTOR, "button.toggle-button")
            driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
            button.click()
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and not body.is_displayed():
                time.sleep(0.1)
            assert body.is_displayed(), f"{page}: a solution did not open on click"
        name = Path(page).stem
        book_site.SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(book_site.SCREENSHOT_DIR / f"{name}_solution_open.png"))


def test_colab_links_open_existing_exercises(html_dir: Path) -> None:
    org_repo, branch = _repository()
    pattern = re.compile(
        re.escape(f"{COLAB_PREFIX}{org_repo}/blob/{branch}/") + r"(notebooks/[\w.-]+\.ipynb)$"
    )
    problems = []
    seen = 0
    for page in book_site.html_pages(html_dir):
        for href in _colab_links(html_dir / page):
            seen += 1
            match = pattern.match(href)
            if not match:
                problems.append(f"{page}: Colab link not to an exercise notebook: {href}")
            elif not (book_site.ROOT / match.group(1)).is_file():
                problems.append(f"{page}: Colab link to missing {match.group(1)}")
        if page.startswith("solutions/"):
            own = f"{COLAB_PREFIX}{org_repo}/blob/{branch}/notebooks/{Path(page).stem}.ipynb"
            if own not in _colab_links(html_dir / page):
                problems.append(f"{page}: no Colab launch link to its exercise notebook")
    assert not problems, "\n".join(problems)
    assert seen, "no Colab link in the book"


def _first_solution_lines(notebook: Path) -> list[str]:
    """The first code line of every solution region of a solution notebook."""
    lines = []
    for cell in json.loads(notebook.read_text())["cells"]:
        source = "".join(cell["source"]).splitlines()
        for before, line in itertools.pairwise(source):
            if before.strip().startswith("### BEGIN SOLUTION") and line.strip():
                lines.append(line.strip())
    return lines


def test_no_authoring_markers_in_the_book(html_dir: Path) -> None:
    """The solution pages show the solution code, without the generator's marker lines."""
    for page in book_site.html_pages(html_dir):
        text = _page_text(html_dir / page)
        for marker in ("BEGIN SOLUTION", "END SOLUTION"):
            assert f"### {marker}" not in text, f"{page} shows the authoring marker '### {marker}'"
    notebooks = sorted((book_site.ROOT / "solutions").glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        text = _page_text(html_dir / "solutions" / f"{notebook.stem}.html")
        expected = _first_solution_lines(notebook)
        assert expected, f"{notebook.name} has no solution region"
        missing = [line for line in expected if line not in text]
        assert not missing, f"solutions/{notebook.stem}.html lacks solution code: {missing}"
