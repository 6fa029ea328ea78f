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
def server(tmp_path_factory: pytest.TempPathFactory):
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
def browser(server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def _open(browser, url: str):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(SLOW_MS)
    page.goto(url)
    page.locator("#events_form .event-card").first.wait_for()
    return page


def _shot(page, name: str) -> None:
    folder = os.environ.get("HAMJI_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.evaluate("window.scrollTo(0, 0)")  # the banner sticks to the top of what is shown
        page.screenshot(path=str(Path(folder) / f"web_{name}.png"), full_page=True)


def _set(page, selector: str, value: str) -> None:
    """Type a value into an input and let Shiny see it."""
    page.fill(selector, value)
    page.press(selector, "Tab")


def _run_small(page, first: int, last: int, seeds: int = 1) -> None:
    _set(page, "#scale", "20000")
    _set(page, "#seeds", str(seeds))
    _set(page, "#start_year", str(first))
    _set(page, "#end_year", str(last))
    page.click("#run")


def test_change_a_budget_run_and_see_the_map_and_charts(server, browser) -> None:
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


def test_a_bad_yaml_upload_shows_the_cli_message(server, browser, tmp_path) -> None:
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


def test_two_sessions_stay_separate_and_a_run_can_be_cancelled(server, browser) -> None:
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


def _pick(page, select_id: str, names: list[str]) -> None:
    """Replace what a multiple selectize holds by ``names``, as an analyst does: remove each item, type each name, pick it."""
    control = page.locator(f"#{select_id} + .selectize-control")
    box = control.locator("input")
    box.click()
    while control.locator(".item").count():
        box.press("Backspace")
    for name in names:
        box.press_sequentially(name)
        control.locator(f".selectize-dropdown-content .option[data-value='{name}']").click()
    box.press("Escape")


def test_a_sensitivity_analysis_runs_in_the_background_and_ranks_the_parameters(server, browser) -> None:
    import pandas as pd

    url, runs = server
    page = _open(browser, url)
    page.get_by_role("tab", name="Sensitivity").click()
    assert "A scenario, not a forecast" in page.inner_text("#not-a-forecast")
    # a design too large for a few minutes is refused, with what it would cost, and nothing is queued
    page.select_option("#sens-method", "sobol")
    _set(page, "#sens-samples", "1024")
    page.locator("#sensitivity-size", has_text="too large").wait_for()
    page.click("#sens-run")
    page.locator("#sens-msg", has_text="too large for the web app").wait_for()
    assert page.locator("#sens-jobs .job").count() == 0
    # bad input gives a message, not a traceback
    _set(page, "#sens-years", "2030-2040")
    page.locator("#sens-size .hamji-error", has_text="--years 2030-2040").wait_for()
    _set(page, "#sens-years", "")

    # a tiny Morris screening of two parameters: 2 trajectories x 3 points = 6 runs of two years at 1:5000
    page.select_option("#sens-method", "morris")
    _pick(page, "sens-params", ["merchant_margin", "food_need_usd_per_person_week"])
    page.locator("#sens-params-table", has_text="US$ per person per week").wait_for()  # each parameter's unit and range
    _set(page, "#sens-samples", "2")
    _set(page, "#sens-scale", "5000")
    _set(page, "#sens-first", "2019")
    _set(page, "#sens-last", "2020")
    page.locator("#sensitivity-size", has_text="6 runs").wait_for()
    page.click("#sens-run")
    page.locator("#sens-jobs .progress-bar").first.wait_for()
    page.locator("#sens-jobs .job-done").wait_for()
    page.locator("#sens-chart-0 .main-svg").first.wait_for()
    assert page.locator("#sens-chart-0 .scatterlayer .point").count() == 2  # one point per parameter
    assert "Morris: 2 parameters, 1 outcome(s), 6 samples" in page.inner_text("#sens-head")

    folders = [p for p in runs.iterdir() if (p / "sensitivity.parquet").exists()]
    assert len(folders) == 1 and (folders[0] / "request.json").exists()
    expected = pd.read_parquet(folders[0] / "sensitivity.parquet")
    expected = expected[expected["index"] == "mu_star"].sort_values("value", ascending=False)
    rows = page.locator("#sens-ranking-0 tbody tr")
    assert rows.count() == 2
    assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(2)] == list(expected.param)
    assert f"{expected.value.iloc[0]:.4g}" in rows.nth(0).inner_text()
    repro = page.inner_text("#sens-repro")
    assert ("hamji sensitivity --method morris --param merchant_margin --param food_need_usd_per_person_week"
            " --outcome hsi_mean:HamJi --scenario baseline --samples 2 --seeds 1 --scale 5000") in repro
    assert "hamji.sensitivity(method='morris', params=['merchant_margin', 'food_need_usd_per_person_week']" in repro
    with page.expect_download() as dl:
        page.click("#sens-dl_sens")
    assert pd.read_parquet(dl.value.path()).equals(pd.read_parquet(folders[0] / "sensitivity.parquet"))
    _shot(page, "sensitivity")


def test_the_policy_tab_shows_a_search_its_front_and_its_robustness(server, browser) -> None:
    import hamji

    url, runs = server
    # a search and its robustness made on the command line's Python API into the runs folder: 4 designs at 1:5000
    folder = runs / "policy-small"
    window = dict(scale=5000, start="2015-01-05", end="2016-12-26")
    front = hamji.optimize(budget=30e6, trials=4, population=4, out=str(folder), **window)
    on_front = front[(front.kind == "design") & front.pareto]
    rob, _ = hamji.robust([f"{folder}/frontier.parquet", "recommendations"], worlds=2, params=["merchant_margin"],
                          out=str(folder), **window)

    page = _open(browser, url)
    page.get_by_role("tab", name="Policy design").click()
    assert "A scenario, not a forecast" in page.inner_text("#not-a-forecast")
    page.select_option("#pol-folder", str(folder))
    page.locator("#frontier-plot .main-svg").first.wait_for()
    traces = page.locator("#frontier-plot .scatterlayer .trace")
    assert traces.count() == 3  # designs, the front, the references
    assert traces.nth(0).locator(".point").count() == 4
    assert traces.nth(1).locator(".point").count() == len(on_front)
    assert traces.nth(2).locator(".point").count() == 4  # recommendations and each programme alone
    assert "recommendations" in page.inner_text("#frontier-plot")
    assert f"4 designs evaluated under a total budget of US$ 30.0 M a year, {len(on_front)} on the front" in page.inner_text("#pol-head")
    table = page.locator("#front-table tbody tr")
    assert table.count() == len(on_front)
    assert set(page.inner_text("#front-table").split("\n")[1:]) and all(
        d in page.inner_text("#front-table") for d in on_front.description)
    refs = page.inner_text("#references-table")
    assert all(n in refs for n in ("recommendations", "microlending", "training", "transport"))
    assert page.locator("#robustness-table tbody tr").count() == len(rob)
    assert "recommendations" in page.inner_text("#robustness-table")
    assert "made on the command line" in page.inner_text("#pol-repro")
    _shot(page, "policy")

    # a tiny search from the web app: 2 designs at 1:20000 (8 runs with baseline and the references)
    _set(page, "#pol-trials", "2")
    _set(page, "#pol-population", "2")
    _set(page, "#pol-scale", "20000")
    _set(page, "#pol-first", "2015")
    _set(page, "#pol-last", "2016")
    page.locator("#optimize-size", has_text="8 runs").wait_for()
    page.click("#pol-run")
    page.locator("#pol-jobs .job-done").wait_for()
    page.locator("#pol-head", has_text="2 designs evaluated").wait_for()  # the finished search opens
    page.locator("#pol-head", has_text="1:20000, runs 2015-01-05 to 2016-12-31").wait_for()  # with its request.json
    page.locator("#frontier-plot .main-svg").first.wait_for()
    try:
        page.locator("#pol-repro .repro-cli").wait_for()
    except Exception as exc:
        raise AssertionError(f"no CLI line; #pol-repro shows {page.inner_text('#pol-repro')!r},"
                             f" #pol-head {page.inner_text('#pol-head')!r}") from exc
    repro = page.inner_text("#pol-repro")
    assert "hamji optimize --budget 3e+07 --objective max:hsi_mean:HamJi" in repro, repro
    assert "hamji.optimize(budget=30000000.0" in repro, repro
