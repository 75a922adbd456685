"""The exported HTML report opened in headless Chromium, offline, from the file: plotly.js is shipped once, gzipped,
and unpacked by the browser, so every chart must still be drawn (no models: a hand-made run)."""
import pytest

from dashboard import report
from runs.store import load_run

from run_builders import RUN1, write_run

pytestmark = pytest.mark.browser


def test_the_report_draws_every_chart_from_its_packed_plotly(browser, tmp_path):
    folder = write_run(tmp_path, "report-run", "2026-01-01T00:00:00+00:00", RUN1[:3])
    path = report.html_report(load_run(folder), tmp_path / "report.html")
    context = browser.new_context(viewport={"width": 1366, "height": 900}, offline=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto(path.as_uri())
        page.wait_for_function("() => document.querySelectorAll('.chart .main-svg').length >= 4", timeout=30_000)
        assert page.locator(".chart.js-plotly-plot").count() == 4
        assert page.locator("#charts-note").count() == 0  # removed once drawn; it stays with the reason otherwise
        assert page.evaluate("() => typeof Plotly.version") == "string" and not errors
    finally:
        context.close()
