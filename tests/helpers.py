"""Small helpers shared by several test files: the judge CLI as a subprocess, and page controls."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]


def judge_cli(*args, out: Path, timeout: int = 600, **kwargs) -> subprocess.CompletedProcess:
    """`python -m judge compare ARGS --out OUT`, run to the end."""
    return subprocess.run([sys.executable, "-m", "judge", "compare", *args, "--out", str(out)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def kill_after_first_record(*args, out: Path, total: int, deadline_s: int = 240) -> Path:
    """Start `python -m judge compare ARGS`, SIGKILL it once its first record is reported; return the run folder."""
    process = subprocess.Popen([sys.executable, "-m", "judge", "compare", *args, "--out", str(out)], cwd=REPO_ROOT,
                               stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    deadline = time.time() + deadline_s
    for line in process.stderr:  # text mode splits tqdm's '\r' redraws into lines too
        if line.startswith(f"[1/{total}]") or time.time() > deadline:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (folder,) = list(Path(out).iterdir())
    return folder


def set_slider(page, elem_id: str, value: int) -> None:
    """Type a value into a Gradio slider's number box."""
    box = page.locator(f"#{elem_id} input[type=number]")
    box.fill(str(value))
    box.press("Enter")


def wait_settled(page, selector: str, timeout_ms: int = 15_000) -> bool:
    """Until no progress overlay (Gradio's status tracker: its eta bar) covers `selector`; False if one is still
    there after `timeout_ms`. Under load the overlay of the last update can still sit on the table and take a click
    meant for a row; in one CI run it stayed over 30 s after the table was drawn (a frontend race, not a slow handler),
    so a caller goes on and clicks with `click_cell`, which gets through it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(f"() => !document.querySelector('{selector} .eta-bar')", timeout=timeout_ms)
        return True
    except PlaywrightTimeout:
        return False


def click_cell(page, table: str, shown: str) -> None:
    """Click the first cell of `table`'s first row until the page's JavaScript `shown` holds. A real click first; if
    a progress overlay left over the table takes it, the same mouse events go to the cell itself (Gradio's table
    selects on the mouse-down/up pair, not on a bare click event)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    wait_settled(page, table)
    cell = page.locator(f"{table} .virtual-row").first.locator("[role=gridcell]").first
    try:
        cell.click(timeout=10_000)
        page.wait_for_function(shown, timeout=15_000)
        return
    except PlaywrightTimeout:
        pass
    for event in ("pointerdown", "mousedown", "pointerup", "mouseup", "click"):
        cell.dispatch_event(event)
    page.wait_for_function(shown, timeout=20_000)


def act_until(page, act, condition: str, tries: int, timeout_ms: int, between=None) -> bool:
    """Do `act()` until the page's JavaScript `condition` holds within `timeout_ms` of it (at most `tries` times,
    `between()` after a miss): under load a page's own refresh can undo a click made while it was in flight."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(tries):
        act()
        try:
            page.wait_for_function(condition, timeout=timeout_ms)
            return True
        except PlaywrightTimeout:
            if between:
                between()
    return False
