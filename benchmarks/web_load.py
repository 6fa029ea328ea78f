"""Load test of the web app: many sessions at once, some of them running scenarios.

    python benchmarks/web_load.py [--sessions 20] [--running 4] [--workers 2] [--out docs/benchmarks/web_load.json]

Starts ``hamji serve`` on a free port with an empty runs folder, opens ``--sessions`` browser sessions
at once (Playwright in Debian's Chromium, one browser context each), and has the first ``--running``
of them run a small scenario (1:20000, two seeds, 2005-2012). While the runs go on, every session
keeps editing its scenario's name and times how long the page takes to show the new YAML (a round
trip through the server's event loop: what a user feels as responsiveness). At the end it checks
that nothing was lost (every run finished and wrote its folders, the registry lists them) and
nothing crashed (the server still answers, its log holds no traceback), and writes the figures.

The browser runs on the same 2 cores as the server and its workers, so the figures are an upper
bound of what users on their own machines would see. Not a unit test: it takes a few minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: the runs: small enough that four of them finish in a few minutes on two workers
RUN = {"scale": "20000", "seeds": "2", "start_year": "2005", "end_year": "2012"}
#: pause between two edits of one session (seconds): an analyst typing now and then, not a flood
EDIT_EVERY_S = 1.0
#: the longest a run may take before the test calls it lost (ms)
TIMEOUT_MS = 600_000
#: the longest one edit may take before the test calls it lost (ms)
EDIT_TIMEOUT_MS = 60_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _set(page, selector: str, value: str) -> None:
    await page.fill(selector, value)
    await page.press(selector, "Tab")


async def session(browser, url: str, k: int, runs: bool, done: asyncio.Event, out: dict) -> None:
    """One analyst: open the app, maybe run a scenario, and keep editing until every run is done."""
    ctx = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await ctx.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    t0 = time.perf_counter()
    await page.goto(url)
    await page.locator("#events_form .event-card").first.wait_for()
    out["open_s"].append(time.perf_counter() - t0)
    if runs:
        for key, value in RUN.items():
            await _set(page, f"#{key}", value)
        await _set(page, "#name", f"load-{k}")
        await page.locator("#yaml_text", has_text=f"name: load-{k}").wait_for()
        t_run = time.perf_counter()
        await page.click("#run")
        await page.locator("#jobs .progress-bar").first.wait_for()
    edit = 0
    while not done.is_set():
        edit += 1
        name = f"s{k}-e{edit}"
        t = time.perf_counter()
        await _set(page, "#name", name)
        try:
            await page.locator("#yaml_text", has_text=f"name: {name}").wait_for(timeout=EDIT_TIMEOUT_MS)
            out["edit_s"].append(time.perf_counter() - t)
        except PlaywrightTimeout:
            out["edits_lost"] += 1
        await asyncio.sleep(EDIT_EVERY_S)
        if runs and await page.locator("#jobs .job-done").count() and k not in out["run_s"]:
            out["run_s"][k] = time.perf_counter() - t_run
    if runs and k not in out["run_s"]:
        await page.locator("#jobs .job-done").wait_for()
        out["run_s"][k] = time.perf_counter() - t_run
    out["disconnected"] += await page.locator("#shiny-disconnected-overlay").count()  # Shiny's grey "disconnected" veil
    await ctx.close()


async def drive(url: str, sessions: int, running: int, runs_dir: Path) -> dict:
    from playwright.async_api import async_playwright

    out: dict = {"open_s": [], "edit_s": [], "run_s": {}, "edits_lost": 0, "disconnected": 0}
    done = asyncio.Event()

    async def watch() -> None:  # every run has written its folders
        want = running * int(RUN["seeds"])
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            if sum(1 for p in runs_dir.iterdir() if (p / "manifest.json").exists()) >= want:
                break
            await asyncio.sleep(1)
        await asyncio.sleep(3 * EDIT_EVERY_S)  # the sessions see it
        done.set()

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        t0 = time.perf_counter()
        await asyncio.gather(watch(), *(session(browser, url, k, k < running, done, out) for k in range(sessions)))
        out["total_s"] = time.perf_counter() - t0
        await browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--running", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None)
    a = ap.parse_args()
    runs = Path(tempfile.mkdtemp(prefix="hamji-load-"))
    port = _free_port()
    log_path = runs.parent / f"{runs.name}.log"
    with log_path.open("w") as log:
        server = subprocess.Popen([sys.executable, "-m", "hamji", "serve", "--port", str(port), "--workers", str(a.workers),
                                   "--runs", str(runs)], stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    time.sleep(0.5)
            load_before = os.getloadavg()[0]
            res = asyncio.run(drive(f"http://127.0.0.1:{port}/", a.sessions, a.running, runs))
            load_after = os.getloadavg()[0]
            alive = server.poll() is None
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        finally:
            server.terminate()
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
    from hamji.run_registry import RunRegistry

    listed = RunRegistry(runs).search()
    text = log_path.read_text()
    tracebacks = text.count("Traceback") - text.count("asyncio.exceptions.CancelledError")  # a closed tab's pending task
    edits = sorted(res["edit_s"])
    summary = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_before": round(load_before, 2),
                    "load_average_after": round(load_after, 2)},
        "sessions": a.sessions, "running": a.running, "workers": a.workers, "run": RUN,
        "open_s": {"median": round(statistics.median(res["open_s"]), 2), "max": round(max(res["open_s"]), 2)},
        "edit_round_trip_s": {"n": len(edits), "median": round(statistics.median(edits), 3),
                              "p95": round(edits[int(0.95 * (len(edits) - 1))], 3), "max": round(max(edits), 3)},
        "edits_over_timeout": res["edits_lost"], "edit_timeout_s": EDIT_TIMEOUT_MS / 1000, "sessions_disconnected": res["disconnected"],
        "run_wall_s": {str(k): round(v, 1) for k, v in sorted(res["run_s"].items())},
        "runs_expected": a.running * int(RUN["seeds"]), "runs_listed": len(listed),
        "server_alive": alive, "tracebacks_in_log": tracebacks, "total_s": round(res["total_s"], 1),
    }
    print(json.dumps(summary, indent=2))
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    ok = (alive and tracebacks == 0 and res["edits_lost"] == 0 and res["disconnected"] == 0
          and len(listed) == summary["runs_expected"] and len(res["run_s"]) == a.running)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
