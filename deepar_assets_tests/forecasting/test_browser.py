"""The UI, in a real browser: a small graph is materialized (real training, tiny budget) into a
fresh Dagster instance, Dagster's webserver serves the code location on 127.0.0.1, and Debian's
headless Chromium, driven by Playwright, checks that the asset graph shows every asset and that
the latest materialization of ``forecasts`` shows its fan chart, and ``forecast_accuracy`` its
accuracy over time and its drift check. Screenshots go to
``test-artifacts/browser/``.

The webserver is started alone (not ``dagster dev``): without the daemon, the automation
sensor cannot launch runs into the instance while the test looks at it. It runs in its own
process group, which the test ends.

Needs /usr/bin/chromium (``apt-get install chromium``; .ci/run installs it) and the Python
``playwright`` package (the ``test`` extra); skipped with the reason when either is missing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from deepar_assets.definitions import defs
from deepar_assets.domain.spec import load_spec
from deepar_assets.replay import hold_out, write_history
from deepar_assets_tests.conftest import materialize_partitions
from deepar_assets_tests.forecasting.conftest import GRAPH, H, resources, run_config

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
START_TIMEOUT_S = 120
PAGE_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.browser


def _requirements() -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does) to run the browser test")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("the playwright package is missing: pip install -e '.[test]'")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _webserver(home: Path, port: int, log: Path) -> subprocess.Popen:
    executable = Path(sys.executable).parent / "dagster-webserver"
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(ROOT)}
    with log.open("wb") as out:
        return subprocess.Popen(
            # SIGINT/SIGTERM at their defaults, whatever the caller ignores (as `make ui` does).
            [
                "env",
                "--default-signal=INT,TERM",
                str(executable),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-w",
                "workspace.yaml",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the code server it starts goes with it
        )


def _wait_until_serving(process: subprocess.Popen, url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the webserver exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(
        f"the webserver did not answer {url}/server_info within {START_TIMEOUT_S} s:\n{log.read_text()[-3000:]}"
    )


def _group(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, from /proc."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": state, ppid, pgrp, …
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(entry.name))
    return alive


def _stop(process: subprocess.Popen) -> list[int]:
    """End the webserver's process group (SIGTERM, then SIGKILL after 20 s); return the
    processes that had to be killed."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (process.poll() is None or _group(process.pid)):
        time.sleep(0.2)
    stubborn = _group(process.pid)
    if stubborn or process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    return stubborn


@pytest.fixture(scope="module")
def ui(tmp_path_factory, grown_source):
    """A Dagster home with the graph materialized once, served on a free port of 127.0.0.1."""
    _requirements()
    tmp_path = tmp_path_factory.mktemp("ui")
    home = tmp_path / "dagster_home"
    home.mkdir()
    # The project's instance settings (telemetry off), and no newsletter dialog over the page.
    (home / "dagster.yaml").write_text((ROOT / "deploy" / "dagster.yaml").read_text() + "nux:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        # The graph on the history without its last 2 weeks, then those weeks arrive: the first
        # vintage of forecasts is scored on them, and forecast_accuracy has a chart to show.
        holdout = hold_out(grown_source, 2, load_spec("synthetic"))
        history = write_history(holdout, tmp_path / "history")
        weeks = sorted(holdout.history("sales")["Date"].str.strip().unique())
        first = materialize_partitions(
            GRAPH,
            weeks[0],
            weeks[-1],
            resources=resources(tmp_path, history),
            run_config=run_config(),
            instance=instance,
        )
        assert first.success
        arrived = materialize_partitions(
            GRAPH,
            holdout.partitions[0],
            holdout.partitions[-1],
            selection=["raw_sales", "encoded_series", "s3_datasets", "forecasts", "forecast_accuracy"],
            resources=resources(tmp_path, grown_source),
            run_config={"ops": {"s3_datasets": {"config": {"prediction_length": H}}}},
            instance=instance,
        )
        assert arrived.success
    port = _free_port()
    log = tmp_path / "webserver.log"
    process = _webserver(home, port, log)
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_until_serving(process, url, log)
        yield url
    finally:
        stubborn = _stop(process)
        assert not stubborn, f"processes {stubborn} of the webserver's group ignored SIGTERM for 20 s and were killed"
        assert process.poll() is not None and not _group(process.pid), "the webserver's processes are still running"


@pytest.fixture
def page(ui):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            yield page
        finally:
            browser.close()


def test_the_asset_graph_shows_every_asset(ui, page):
    page.goto(f"{ui}/asset-groups", wait_until="networkidle")
    page.get_by_text("Global asset lineage").wait_for()
    page.locator("[aria-label=zoom_in]").wait_for()  # the graph is drawn
    page.locator("[aria-label=settings]").last.click()  # the graph's own settings menu
    expand, collapse = (page.get_by_role("menuitem", name=f"{verb} all groups") for verb in ("Expand", "Collapse"))
    expand.or_(collapse).first.wait_for()
    if expand.count():  # groups start collapsed: open them all
        expand.click()
    page.keyboard.press("Escape")
    expected = sorted(
        key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()
    )  # the code location's
    assert {"forecasts", "backtest_report", "scenario_forecasts", "best_model"} <= set(expected)
    for name in expected:
        page.get_by_text(name, exact=True).first.wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "asset_graph.png"))
    shown = [name for name in expected if page.get_by_text(name, exact=True).first.is_visible()]
    assert shown == expected


def test_forecasts_latest_materialization_shows_its_fan_chart(ui, page):
    page.goto(f"{ui}/assets/forecasts", wait_until="networkidle")
    row = page.locator("tr", has_text="fan_chart").first
    row.get_by_text("[Show Markdown]").click()
    image = page.locator("img[src^='data:image/png;base64,']").first
    image.wait_for(state="visible")
    assert image.get_attribute("alt").startswith("Forecast after ")
    width, height, complete = image.evaluate("img => [img.naturalWidth, img.naturalHeight, img.complete]")
    assert complete and width >= 400 and height >= 400, (width, height)
    page.screenshot(path=str(ARTIFACTS / "forecasts_fan_chart.png"))
    page.keyboard.press("Escape")
    page.get_by_text("largest_changes_vs_last_season", exact=True).first.wait_for()
    assert (ARTIFACTS / "forecasts_fan_chart.png").stat().st_size > 20_000


def test_forecast_accuracy_shows_its_chart_over_time_and_its_drift_check(ui, page):
    page.goto(f"{ui}/assets/forecast_accuracy", wait_until="networkidle")
    row = page.locator("tr", has_text="accuracy_over_time").first
    row.get_by_text("[Show Markdown]").click()
    image = page.locator("img[src^='data:image/png;base64,']").first
    image.wait_for(state="visible")
    assert image.get_attribute("alt").startswith("synthetic: WMAE by target period")
    width, height, complete = image.evaluate("img => [img.naturalWidth, img.naturalHeight, img.complete]")
    assert complete and width >= 400 and height >= 200, (width, height)
    page.screenshot(path=str(ARTIFACTS / "forecast_accuracy_chart.png"))
    page.keyboard.press("Escape")
    page.get_by_text("series_furthest_above_backtest", exact=True).first.wait_for()
    page.goto(f"{ui}/assets/forecast_accuracy?view=checks", wait_until="networkidle")
    page.get_by_text("accuracy_within_backtest").first.wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "forecast_accuracy_checks.png"))


def test_forecasts_shows_its_freshness_policy_owner_kinds_source_and_freshness_check(ui, page):
    import re

    page.goto(f"{ui}/assets/forecasts", wait_until="networkidle")
    page.get_by_text("Fails if more than 8 days since last materialization").wait_for(state="visible")
    page.get_by_text("Warns if more than 7 days since last materialization").wait_for(state="visible")
    page.get_by_text("demand-forecasting", exact=True).first.wait_for(state="visible")
    for kind in ("PyTorch", "Parquet"):
        page.get_by_text(kind, exact=True).first.wait_for(state="visible")
    page.get_by_role("link", name=re.compile(r"^Open forecasts\.py")).first.wait_for(state="visible")
    # The description's paths keep their placeholders (outside backticks the UI drops <model id> as a tag).
    assert "forecasts/<model id>/<T>/forecasts.csv" in page.inner_text("body")
    page.screenshot(path=str(ARTIFACTS / "forecasts_definition.png"), full_page=True)
    page.goto(f"{ui}/assets/forecasts?view=checks", wait_until="networkidle")
    page.get_by_text("forecast_is_fresh").first.wait_for(state="visible")
    page.screenshot(path=str(ARTIFACTS / "forecasts_checks.png"))
