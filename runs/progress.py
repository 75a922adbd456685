"""A run's progress in words, for the app while a run goes: stage, records done, time per prompt, time left."""
from __future__ import annotations

import time
from pathlib import Path

from runs.pipeline import CompareUpdate
from runs.store import read_summary
from runs.views import as_text, batch_row, summary_table_markdown

STAGE_TEXT = {
    "loading": "Loading the models…",  # the pipeline's loading update names them (runs/views.loading_text)
    "answer_a": "Model A is answering…",
    "answer_b": "Model B is answering…",
    "judging": "The judge is grading…",
}


def clock(seconds: float) -> str:
    """'42 s' or '3 min 05 s'."""
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class RunProgress:
    """Follows a run's CompareUpdates: the table rows so far, and a status line when something worth showing changed.

    `rows` starts with the rows of records saved before (a resumed run); the time per prompt and the time left
    count only the records finished while this object watched.
    """

    def __init__(self, rows: list | None = None):
        self.rows: list = list(rows or [])
        self.started = time.perf_counter()
        self.done_here = 0
        self._last: tuple | None = None
        self.notices: list[str] = []  # what was changed about a record's inputs (a prompt cut to fit), once each

    def follow(self, update: CompareUpdate) -> bool:
        """Take an update in; True when the status should be shown again (answers stream token by token, but the
        status only changes with the stage or a finished record)."""
        if update.stage == "record":
            self.rows.append(batch_row(update.record))
            self.done_here += 1
            self.notices += [n for n in update.record.get("warnings") or [] if n not in self.notices]
        elif (update.stage, update.index) == self._last or update.stage not in (*STAGE_TEXT, "done"):
            return False
        self._last = (update.stage, update.index)
        return True

    def status(self, update: CompareUpdate) -> str:
        """The status line for the update just followed."""
        done, total = len(self.rows), update.total
        if update.stage == "done":
            folder = Path(update.run_dir)
            note = update.message.split("; ", 1)[1] if "; " in update.message else ""  # failed records and cost
            note = "  \n" + note[0].upper() + note[1:] if note else ""
            return (f"**Finished:** {total} record(s) in {clock(time.perf_counter() - self.started)}. "
                    f"Saved to `{folder}`{note}{self.notices_text()}\n\n"
                    f"{summary_table_markdown(read_summary(folder))}")
        timing = ""
        if self.done_here:
            per_prompt = (time.perf_counter() - self.started) / self.done_here
            timing = f" · {per_prompt:.1f} s per prompt · about {clock(per_prompt * (total - done))} left"
        doing = ""
        if update.stage == "loading":
            doing = f" · {update.message or STAGE_TEXT['loading']}"
        elif update.stage != "record" and done < total:
            doing = f" · prompt {done + 1} ({update.item.id if update.item else '…'}): {STAGE_TEXT[update.stage]}"
        # The run folder exists once the models are loaded and the inputs checked (none while loading a new run).
        folder = f"  \nRun folder: `{update.run_dir}`" if update.run_dir else ""
        return f"**{done}/{total} done**{timing}{doing}{folder}{self.notices_text()}"

    def bar_text(self, update: CompareUpdate) -> str:
        """The progress bar's words: prompts done and this run's own time per prompt (a bar's own rate counts
        updates, which stream token by token, so it read '0.1s' while a prompt took ten)."""
        done = len(self.rows)
        if not self.done_here:
            return f"{done}/{update.total} prompts"
        per_prompt = (time.perf_counter() - self.started) / self.done_here
        return f"{done}/{update.total} prompts · {per_prompt:.1f} s per prompt"

    def notices_text(self) -> str:
        return "  \n**Notice:** " + as_text("; ".join(self.notices)) if self.notices else ""
