"""The built book in a real browser: the quick-mode build (with Sphinx warnings as errors) opened in
headless Chromium with every request off this machine blocked. Equations must be typeset, every
figure must load, internal links must resolve, and hidden solutions must open on click.
Screenshots of every chapter are saved to _build/screenshots/ as test artefacts."""

import functools
import http.server
import os
import pathlib
import re
import shutil
import tempfile
import threading
import sys
import urllib.parse

import pytest
from bs4 import BeautifulSoup

import vae_helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import student_edition  # noqa: E402  (tools/ is not a package)

SCREENSHOTS = ROOT / "_build" / "screenshots"
CHAPTERS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _browser():
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    pytest.fail("No Chromium found: install Debian's package (apt-get install chromium); .ci/run does this.")


@pytest.fixture(scope="session")
def server(book):
    handler = functools.partial(QuietHandler, directory=str(book))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # A fresh profile (Playwright's default), no GPU, no background traffic.
        chromium = playwright.chromium.launch(
            executable_path=_browser(), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def _open(browser, server, path, blocked):
    page = browser.new_page(viewport={"width": 1280, "height": 900})

    def offline(route):
        if route.request.url.startswith(server):
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    page.route("**/*", offline)
    page.goto(f"{server}/{path}", wait_until="load")
    return page


def _wait_for_math(page):
    page.wait_for_selector("mjx-container", timeout=30_000)
    page.wait_for_function("() => window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
    page.evaluate("() => MathJax.startup.promise")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_chapter_renders_offline_with_typeset_math_and_loaded_figures(browser, server, chapter):
    blocked = []
    page = _open(browser, server, f"notebooks/{chapter}.html", blocked)
    _wait_for_math(page)
    typeset = page.locator("mjx-container").count()
    assert typeset >= 3, f"{chapter}: only {typeset} typeset formulas"
    # MathJax leaves no TeX source in the prose (code cells may hold $ signs; they are skipped).
    leftover = page.evaluate("""() => {
        const body = document.querySelector('main').cloneNode(true);
        body.querySelectorAll('pre, code, script, mjx-container, .MathJax').forEach(e => e.remove());
        return body.textContent;
    }""")
    for marker in ("$$", "\\[", "\\begin{"):
        assert marker not in leftover, f"{chapter}: raw TeX {marker!r} left in the page"
    images = page.evaluate("""() => [...document.querySelectorAll('main img')].map(i => ({
        src: i.getAttribute('src').slice(0, 60), local: !/^https?:/.test(i.getAttribute('src')),
        loaded: i.complete && i.naturalWidth > 0}))""")
    figures = [image for image in images if image["local"]]
    assert len(figures) >= 1, f"{chapter}: no figures"
    assert all(image["loaded"] for image in figures), [image["src"] for image in figures if not image["loaded"]]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{chapter}.png"), full_page=True)
    # Nothing the page needs comes from the network: MathJax, fonts and scripts are in the build.
    # The one external request allowed to fail is the Colab badge image.
    assert all("colab" in url for url in blocked), blocked
    page.close()


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_solutions_are_hidden_until_clicked(browser, server, chapter):
    page = _open(browser, server, f"notebooks/{chapter}.html", [])
    page.wait_for_load_state("networkidle")
    # Chapters are numbered by the table of contents, and exercises within their chapter.
    number = int(chapter.split("_")[0])
    assert page.locator("h1:has(.section-number)").inner_text().startswith(f"{number}. ")
    titles = page.locator("div.exercise > .admonition-title").all_inner_texts()
    assert [title.split(" (")[0] for title in titles] == [f"Exercise {number}.{i}" for i in range(1, len(titles) + 1)]
    solutions = page.locator("div.solution")
    assert solutions.count() >= 2, f"{chapter}: {solutions.count()} solutions"
    first = solutions.first
    body = first.locator(".admonition-title ~ *").first
    assert not body.is_visible(), f"{chapter}: a solution is visible before any click"
    # sphinx-togglebutton adds the button; the title itself holds a link to the exercise.
    first.locator("button.toggle-button").click()
    body.wait_for(state="visible", timeout=5_000)
    # The coding exercise's solution code is folded too, and unfolds on click.
    folded = page.locator("details.hide.above-input").first
    assert folded.count() == 1 and folded.get_attribute("open") is None
    folded.locator("summary").click()
    assert folded.get_attribute("open") is not None
    first.scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"{chapter}-solution-open.png"))
    page.close()


WIDTHS = (1100, 1200, 1265, 1366, 1440, 1920)
"""Desktop window widths (CSS pixels) the sideways checks run at: 1100, as the theme folds the page's
contents sidebar into a button below 1200; 1200, where it is back and the article is at its
narrowest; 1265, a 1280-pixel screen less a scroll bar; 1366 and 1440, common laptops (from 1408
the theme's page stops growing); and 1920."""


def _sideways(browser, server, chapter, selectors):
    """For each CSS selector, the elements it picks on a chapter's page: how many there are, and at
    each of WIDTHS where some scroll sideways, the longest line of each that does ({width: lines}).
    A <pre> scrolls in itself, anything else (a table, the contents sidebar's items) in the box
    around it. Folded cells (hidden solutions) have no width until opened, so all are opened first.
    The page loads once; the window is resized under it."""
    page = _open(browser, server, f"notebooks/{chapter}.html", [])
    page.wait_for_load_state("networkidle")
    page.evaluate("() => document.querySelectorAll('details').forEach(d => { d.open = true; })")
    counts, wide = {}, {selector: {} for selector in selectors}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for selector in selectors:
            widths = page.evaluate("""selector => [...document.querySelectorAll(selector)]
              .map(e => [e, e.tagName === 'PRE' ? e : e.parentElement])
              .map(([e, box]) => ({text: e.textContent.split('\\n').reduce((a, b) => (b.length > a.length ? b : a), ''),
                                   scroll: box.scrollWidth, client: box.clientWidth}))""", selector)
            counts[selector] = len(widths)
            lines = [w["text"] for w in widths if w["scroll"] > w["client"]]
            if lines:
                wide[selector][width] = lines
    page.close()
    return [(counts[selector], wide[selector]) for selector in selectors]


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_code_cell_scrolls_sideways(browser, server, chapter):
    # Below 1300 pixels the contents sidebar narrows to give code its room (_static/layout.css):
    # its headings must still fit it.
    (count, wide), (sidebars, crowded) = _sideways(
        browser, server, chapter, ("div.cell_input pre", ".bd-sidebar-secondary > .sidebar-secondary-items"))
    assert count >= 5, f"{chapter}: only {count} code cells found"
    assert not wide, f"{chapter}: code cells scroll sideways; at each window width, their longest lines: {wide}"
    assert sidebars == 1, f"{chapter}: {sidebars} contents sidebars found"
    assert not crowded, f"{chapter}: the contents sidebar scrolls sideways at window widths {sorted(crowded)}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_output_scrolls_sideways(browser, server, chapter):
    # A printed line wider than the page hides its end behind a scroll bar (and on paper, for good).
    [(count, wide)] = _sideways(browser, server, chapter, ("div.cell_output pre, div.cell_output table",))
    assert count >= 3, f"{chapter}: only {count} outputs found"
    assert not wide, (f"{chapter}: outputs scroll sideways; at each window width, their longest lines: "
                      f"{ {width: [line[:120] for line in lines] for width, lines in wide.items()} }")


def test_the_elbo_is_stated_as_a_theorem_with_its_proof(browser, server):
    page = _open(browser, server, "notebooks/02_elbo.html", [])
    _wait_for_math(page)
    theorem, lemma = page.locator("div.proof.theorem#thm-elbo"), page.locator("div.proof.lemma#lem-jensen")
    assert theorem.count() == 1 and lemma.count() == 1
    # Numbered within the chapter, as exercises and equations are (_toc.yml numbers the chapters).
    assert "Theorem 2.1 (The evidence lower bound)" in theorem.inner_text()
    assert "Lemma 2.1 (Jensen" in lemma.inner_text()
    for box in (theorem, lemma):
        assert box.locator("mjx-container").count() >= 2, "the statement's maths is typeset"
    proof = page.locator("div.proof:not(.theorem):not(.lemma)").first
    assert proof.inner_text().startswith("Proof.") and proof.locator("mjx-container").count() >= 4
    # The proof cites the lemma by its number, and the link lands on it.
    assert proof.locator("a[href='#lem-jensen']").inner_text() == "Lemma 2.1"
    theorem.scroll_into_view_if_needed()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "02_elbo-theorem.png"))
    page.close()


def test_the_widget_chapter_shows_its_static_fallback(browser, server):
    page = _open(browser, server, "notebooks/06_latent_space.html", [])
    text = page.locator("main").inner_text()
    assert "open this chapter in Colab" in text
    # The slider cell's output is removed from the page; the static figure after it is there.
    section = page.locator("section#explore-the-decoder-yourself")
    assert section.locator("img").count() >= 1
    assert section.locator(".widget-interact, .jupyter-widgets").count() == 0
    page.close()


@functools.lru_cache(maxsize=None)
def _ids(page):
    """The element ids of one HTML page, parsed once however many links point into it."""
    return frozenset(tag["id"] for tag in BeautifulSoup(page.read_text(), "html.parser").find_all(id=True))


def test_every_internal_link_resolves(book):
    checked = 0
    for page in book.rglob("*.html"):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        for anchor in soup.find_all("a", href=True):
            href = anchor["href"]
            parsed = urllib.parse.urlparse(href)
            if parsed.scheme or href.startswith(("mailto:", "//")) or "_sources" in parsed.path:
                continue
            target = (page.parent / urllib.parse.unquote(parsed.path)).resolve() if parsed.path else page
            assert target.exists(), f"{page.relative_to(book)}: broken link {href}"
            if parsed.fragment and target.suffix == ".html":
                assert parsed.fragment in _ids(target), f"{page.relative_to(book)}: no #{parsed.fragment} in {target.name}"
            checked += 1
    assert checked > 100


def test_every_colab_link_opens_this_release(book):
    # The launch button (from _config.yml) and the badge (in the notebook) both open the release's
    # notebook edition (tag colab-v<version>, which the Pages workflow publishes).
    tag = f"colab-v{vae_helpers.__version__}"
    for chapter in CHAPTERS:
        links = re.findall(r"https://colab\.research\.google\.com/github/[^\"'\s)]+",
                           (book / "notebooks" / f"{chapter}.html").read_text())
        assert len(links) >= 2, f"{chapter}: no launch button or no badge"
        assert {link.split("/blob/", 1)[1] for link in links} == {f"{tag}/notebooks/{chapter}.ipynb"}, links


def test_no_page_repeats_an_id(book):
    # A repeated id is invalid HTML and makes a link land on the wrong element.
    for page in book.rglob("*.html"):
        ids = [tag["id"] for tag in BeautifulSoup(page.read_text(), "html.parser").find_all(id=True)]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        assert not repeated, f"{page.relative_to(book)}: repeated ids {repeated}"


def test_no_output_shows_a_local_path_an_install_log_or_a_warning(book):
    # What the machine that built the book says about itself has no place on a reader's page.
    local = {str(ROOT), tempfile.gettempdir() + "/", os.path.expanduser("~") + "/"}
    if os.environ.get("VAE_CHECKPOINT_DIR"):
        local.add(os.environ["VAE_CHECKPOINT_DIR"])
    noise = ("WARNING:", "Warning:", "Requirement already satisfied", "Successfully installed")
    outputs = 0
    for chapter in CHAPTERS:
        soup = BeautifulSoup((book / "notebooks" / f"{chapter}.html").read_text(), "html.parser")
        for output in soup.select("div.cell_output"):
            text = output.get_text()
            found = [s for s in sorted(local) + list(noise) if s in text]
            assert not found, f"{chapter}: an output shows {found}: {text[:300]!r}"
            outputs += 1
    assert outputs > 50


@pytest.fixture(scope="session")
def student_book(book, tmp_path_factory):
    """The student pages (tools/student_book.py), built from the book's execution cache: html/."""
    import subprocess

    output = tmp_path_factory.mktemp("student_book")
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "student_book.py"),
                             str(book.parent), str(output), "--overwrite"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return output / "_build" / "html"


def _page_text(page):
    """A page's visible text, whitespace collapsed: code is split into highlighting spans."""
    soup = BeautifulSoup(page.read_text(), "html.parser")
    for hidden in soup(["script", "style"]):
        hidden.decompose()
    # Sphinx's smart quotes turn the source's ' and " into typographic ones.
    text = soup.get_text(" ").translate(str.maketrans("\u2018\u2019\u201c\u201d", "''\"\""))
    return " ".join(text.split())


def _solution_probes(chapter):
    """Phrases of each solution of `chapter`, as they read on a page: a code solution's longest
    line, and a solution's longest line of plain prose (no maths, roles or code), each one that no
    other cell of the chapter holds (a solution may repeat a line of the code the chapter shows)."""
    import nbformat

    notebook = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    others = "".join(c.source for c in notebook.cells
                     if not student_edition.is_solution(c)).replace(" ", "")
    for cell in notebook.cells:
        if not student_edition.is_solution(cell):
            continue
        lines = [line.strip() for line in cell.source.splitlines() if line.strip()]
        if cell.cell_type == "markdown":
            lines = [line for line in lines if not any(mark in line for mark in "$`{}:*[]_\\|<>")]
        lines = [line for line in lines if line.replace(" ", "") not in others and len(line) > 12]
        if lines:
            yield max(lines, key=len)


def _holds(text, probe):
    # Code on a page is split into spans at tokens: compare with the spaces squeezed out.
    return probe.replace(" ", "") in text.replace(" ", "")


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_student_pages_hold_no_solution_text(book, student_book, chapter):
    probes = list(_solution_probes(chapter))
    assert probes, f"{chapter}: no solution to look for"
    full = _page_text(book / "notebooks" / f"{chapter}.html")
    student = _page_text(student_book / "notebooks" / f"{chapter}.html")
    # Each phrase is on the book's page (so the search can find it) and not on the student's.
    for probe in probes:
        assert _holds(full, probe), f"{chapter}: {probe!r} is not on the book's page"
        assert not _holds(student, probe), f"{chapter}: the student page shows {probe!r}"


def test_the_student_pages_open_student_notebooks_and_say_they_have_no_solutions(student_book):
    for chapter in CHAPTERS:
        page = (student_book / "notebooks" / f"{chapter}.html").read_text()
        links = re.findall(r"https://colab\.research\.google\.com/github/[^\"'\s)]+", page)
        assert links and all("/student/" in link for link in links), (chapter, links)
        text = _page_text(student_book / "notebooks" / f"{chapter}.html")
        assert student_edition.SOLUTIONS_NOTE not in text
        assert student_edition.STUDENT_NOTE in text, chapter


def test_the_assignments_are_made_from_the_built_book(book, tmp_path):
    # tools/assignments.py as an instructor runs it, on this build: one otter assignment per
    # graded chapter, its Markdown the notebook edition's (glued numbers, no MyST roles).
    import subprocess

    import assignments
    import nbformat

    output = tmp_path / "assignments"
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "assignments.py"), str(book.parent),
                             str(output)], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    graded = assignments.graded_chapters(sorted((ROOT / "notebooks").glob("*.ipynb")))
    assert graded
    for path in graded:
        dist = output / path.stem / "dist"
        assert sorted((dist / "autograder").glob(f"{path.stem}-autograder_*.zip")), path.stem
        student = nbformat.read(dist / "student" / path.name, as_version=4)
        prose = "\n".join(c.source for c in student.cells if c.cell_type == "markdown")
        assert "{glue" not in prose and "```{exercise}" not in prose, path.stem
