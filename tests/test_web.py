"""The web app, end to end: a real `hamji serve` driven by Playwright in Debian's Chromium.

One server (one Dask worker) serves every test of this file; each test opens its own browser
contexts (sessions). The runs are tiny (1:20000, one to three years), so the file takes well under
a minute. Without /usr/bin/chromium the browser tests skip, saying why, unless
``HAMJI_REQUIRE_BROWSER=1`` (CI sets it), when they fail instead. With ``HAMJI_SCREENSHOTS=DIR``
the tests save a screenshot of each page into DIR (``docs/img`` holds the ones the README shows).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hamji.errors import UserError
from hamji.scenario import load_scenario

CHROMIUM = Path("/usr/bin/chromium")
#: Chromium's flags on this kind of machine: as root, headless, and no background connections to the internet
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: the longest a server start or a tiny run may take on a busy 2-core machine (ms)
SLOW_MS = 90_000


def _need_browser() -> None:
    required = os.environ.get("HAMJI_REQUIRE_BROWSER") == "1"
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} is absent (apt-get install -y chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "playwright is not installed (pip install -e '.[test]')"
    if missing:
        if required:
            pytest.fail(f"HAMJI_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(f"browser tests need Chromium and Playwright: {missing}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    """`hamji serve` on a free port with one worker and an empty runs folder; its URL and runs folder."""
    _need_browser()
    runs = tmp_path_factory.mktemp("runs")
    port = _free_port()
    log = (runs.parent / "serve.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "hamji", "serve", "--port", str(port), "--workers", "1", "--runs", str(runs)],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + SLOW_MS / 1000
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"hamji serve stopped: {(runs.parent / 'serve.log').read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.3)
    yield f"http://127.0.0.1:{port}/", runs
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(server):  # noqa: ANN001, ANN201
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url: str):  # noqa: ANN001, ANN202
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(SLOW_MS)
    page.goto(url)
    page.locator("#events_form .event-card").first.wait_for()
    return page


def _shot(page, name: str) -> None:  # noqa: ANN001
    folder = os.environ.get("HAMJI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")  # the banner sticks to the top of what is shown
        page.screenshot(path=str(Path(folder) / f"web_{name}.png"), full_page=True)


def _set(page, selector: str, value: str) -> None:  # noqa: ANN001
    """Type a value into an input and let Shiny see it."""
    page.fill(selector, value)
    page.press(selector, "Tab")


def _run_small(page, first: int, last: int, seeds: int = 1) -> None:  # noqa: ANN001
    _set(page, "#scale", "20000")
    _set(page, "#seeds", str(seeds))
    _set(page, "#start_year", str(first))
    _set(page, "#end_year", str(last))
    page.click("#run")


def test_change_a_budget_run_and_see_the_map_and_charts(server, browser) -> None:  # noqa: ANN001
    url, runs = server
    page = _open(browser, url)
    assert "A scenario, not a forecast" in page.inner_text("#not-a-forecast")
    _shot(page, "build")
    page.get_by_role("tab", name="Results").click()
    page.get_by_text("No run yet").wait_for()  # nothing drawn before the run
    page.get_by_role("tab", name="Build and run").click()

    # the micro-lending budget, US$ a year: large enough for loans at 1:20000 (a loan of US$ 5,000 stands for 20,000)
    _set(page, "#events_form input[id$='_0_p0']", "400000000")
    page.locator("#yaml_text", has_text="budget_usd: 400000000").wait_for()
    assert "valid" in page.inner_text("#yaml_check")
    _run_small(page, 2019, 2021, seeds=2)
    page.locator("#jobs .progress-bar").first.wait_for()  # the bar appears while it runs
    _shot(page, "running")
    page.locator("#jobs .job-done").wait_for()
    assert "100%" in page.inner_text("#jobs .progress-bar")

    page.get_by_role("tab", name="Results").click()
    page.locator("#results_map #map-plot .main-svg").first.wait_for()
    page.locator("#lines #lines-plot .main-svg").first.wait_for()
    page.locator("#trade #trade-plot .main-svg").first.wait_for()
    assert "my-microlending: 2 seed(s)" in page.inner_text("#results-head")
    assert "hsi_mean" in page.inner_text("#key_figures")
    assert "hamji run my-microlending.yaml --scale 20000 --seed 1" in page.inner_text("#reproduce")
    before = page.inner_html("#results_map")
    page.select_option("#metric", "food_secure_share")  # another metric: the map redraws
    page.locator("#results_map", has_text="food_secure_share").wait_for()
    assert page.inner_html("#results_map") != before
    _shot(page, "results")
    assert len([p for p in runs.iterdir() if (p / "manifest.json").exists()]) == 2  # one folder per seed

    # the run registry lists them, and a comparison with a second scenario on the same seeds works: the 2020
    # border closure against the micro-lending run (a shock the tiny runs show clearly)
    page.get_by_role("tab", name="Build and run").click()
    page.select_option("#template", "border_closure")
    page.locator("#yaml_text", has_text="name: my-border_closure").wait_for()
    _run_small(page, 2019, 2021, seeds=2)
    page.locator("#jobs .job-done >> nth=1").wait_for()
    page.get_by_role("tab", name="Runs").click()
    page.locator("#runs-table", has_text="my-border_closure").wait_for()
    _shot(page, "runs")
    page.get_by_role("tab", name="Compare").click()
    selectize = page.locator("#compare_runs + .selectize-control input")
    for name in ("my-microlending", "my-border_closure"):
        selectize.click()
        page.locator(".selectize-dropdown-content .option", has_text=name).first.click()
    page.locator("#tradeoff #tradeoff-plot .main-svg").first.wait_for()
    page.locator("#diff_time #diff-time-plot .main-svg").first.wait_for()
    page.locator("#diff_maps #diff-map-0 .main-svg").first.wait_for()
    head = page.inner_text("#compare-head")
    # the years the scenarios differ: from the micro-lending (2010, before the run) to the end of the run
    assert "Against my-microlending: my-border_closure" in head and "Evaluation years 2019-2021" in head
    assert "2019-2021" in page.inner_text("#diff_table")
    _shot(page, "compare")
    page.get_by_role("tab", name="Validation").click()
    page.get_by_text("Validation scorecard").wait_for()
    _shot(page, "validation")


def test_a_bad_yaml_upload_shows_the_cli_message(server, browser, tmp_path) -> None:  # noqa: ANN001
    url, _ = server
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\noverrides:\n  border_open: 2\n", encoding="utf-8")
    with pytest.raises(UserError) as cli:
        load_scenario(bad)
    expected = str(cli.value).replace(str(bad), "bad.yaml")
    page = _open(browser, url)
    page.set_input_files("#upload", str(bad))
    page.locator("#upload_msg .hamji-error").wait_for()
    shown = page.inner_text("#upload_msg")
    assert shown.strip() == f"error: {expected}"
    assert "border_open" in shown and "[0, 1]" in shown
    _shot(page, "bad_upload")
    # a run too large for the machine is refused with a message, and nothing is queued
    _set(page, "#scale", "10")
    _set(page, "#seeds", "10")
    _set(page, "#start_year", "2000")
    _set(page, "#end_year", "2030")
    page.click("#run")
    page.locator("#run_msg", has_text="too large").wait_for()
    assert page.locator("#jobs .job").count() == 0


def test_two_sessions_stay_separate_and_a_run_can_be_cancelled(server, browser) -> None:  # noqa: ANN001
    url, _ = server
    a, b = _open(browser, url), _open(browser, url)
    _set(a, "#name", "alpha")
    _set(b, "#name", "beta")
    a.locator("#yaml_text", has_text="name: alpha").wait_for()
    _run_small(a, 2000, 2030)
    a.locator("#jobs .job").first.wait_for()
    a.locator("#jobs .cancel-job").first.click()
    a.locator("#jobs .job-cancelled").wait_for()
    b.wait_for_timeout(1500)  # a few polls of the job queue
    assert b.locator("#jobs .job").count() == 0
    assert "name: beta" in b.inner_text("#yaml_text") and "alpha" not in b.inner_text("#yaml_text")
    assert "name: alpha" in a.inner_text("#yaml_text")
