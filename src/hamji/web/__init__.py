"""The analyst's workbench in the browser: ``hamji serve`` (issue 17).

A Shiny for Python app (:mod:`hamji.web.app`) over a runs folder: build a scenario from a built-in
one, run it on Dask workers in the background (:mod:`hamji.web.jobs`), read its map, charts and
key figures (:mod:`hamji.web.figures`), compare runs seed by seed, and reproduce any of them from
the command line. Nothing in the engine imports this package.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

from hamji.errors import UserError

#: how long the server waits for a browser to answer its keep-alive ping before it drops the session (seconds).
#: uvicorn's default (20 s) drops the tabs of a machine that is busy for a moment (seen in the load test: a browser
#: with 20 tabs on 2 loaded cores), and a dropped tab stops updating; an analyst's laptop may stall that long too
WS_PING_TIMEOUT_S = 300


def check_port(host: str, port: int) -> None:
    """Refuse at once, with one line, an address the server could not listen on (taken, or not of this machine)."""
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as exc:
        raise UserError(f"--host {host} --port {port}: cannot listen there ({exc.strerror or exc});"
                        " choose another --port, or stop what uses it") from None


def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1, scheduler: str | None = None,
          runs: Path = Path("runs"), log: Callable[[str], None] = print) -> None:
    """Start the job manager's Dask workers and serve the app until interrupted."""
    import uvicorn

    # here, not at the top: the Dask workers import hamji.web.jobs, hence this package, and need neither the
    # app (Shiny) nor the server
    from hamji.web.app import make_app
    from hamji.web.jobs import JobManager

    runs = Path(runs)
    if runs.exists() and not runs.is_dir():
        raise UserError(f"--runs {runs}: is a file; give a folder for the runs")
    check_port(host, port)
    runs.mkdir(parents=True, exist_ok=True)
    manager = JobManager(runs, workers=workers, scheduler=scheduler)
    manager.start()
    where = scheduler or f"{workers} local worker process(es)"
    log(f"hamji web app on http://{host}:{port}/ (runs in {runs.resolve()}, computing on {where}); Ctrl+C stops it")
    try:
        uvicorn.run(make_app(runs, manager), host=host, port=port, log_level="warning", ws_ping_timeout=WS_PING_TIMEOUT_S)
    finally:
        manager.close()
