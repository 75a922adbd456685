"""A run's progress in words, for the app while a run goes: stage, records done, time per prompt, time left."""
from __future__ import annotations

import time
from pathlib import Path

from runs.conclusion import closing_markdown
from runs.pipeline import CompareUpdate
from runs.store import read_summary
from runs.views import as_text, batch_row, summary_table_markdown

STAGE_TEXT = {
    "loading": "Loading the models…",  # the pipeline's loading update names them (runs/views.loading_text)
    "answer_a": "Model A is answering…",
    "answer_b": "Model B is answering…",
    "judging": "The judge is grading…",
}
ANSWER_STAGES = ("answer_a", "answer_b")


def clock(seconds: float) -> str:
    """'42 s' or '3 min 05 s'."""
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


class StageTimes:
    """Seconds spent answering and judging, measured from the pipeline's stage updates.

    A prompt set is answered a chunk at a time and then judged prompt by prompt, so the first record of a chunk
    comes after the whole chunk's answers: 'time so far / records done' then counts the chunk's answers against one
    record and said 2 min 14 s were left four seconds before the end. Answering and judging are timed apart instead,
    each per prompt, and the time left is what each still has to do.
    """

    def __init__(self, now=time.perf_counter):
        self.now = now
        self.answer_seconds = self.judge_seconds = 0.0
        self.answered = self.judged = 0  # prompts whose answering / judging was timed here
        self.answered_upto = 0  # every prompt before this run index has its answers
        self.record_times: list[float] = []  # concurrent runs report finished records only
        self._answering: tuple[float, int, int] | None = None  # (since, first index, prompts)
        self._judging: float | None = None

    def observe(self, update: CompareUpdate) -> None:
        now = self.now()
        if update.stage in ANSWER_STAGES:
            opened = self._answering
            # Model B after Model A of the same prompt (or chunk) is the same answering; anything else starts anew.
            if opened is None or (opened[1], opened[2]) != (update.index, update.chunk):
                self._answering = (now, update.index, update.chunk)
        elif update.stage == "judging":
            self._close_answering(now, update.index)
            self._judging = now
        elif update.stage == "record":
            self.record_times.append(now)
            if self._judging is not None:
                self.judge_seconds += now - self._judging
                self.judged += 1
                self._judging = None
            elif self._answering and self._answering[2] == 1:  # failed while answering: its time still counts
                self._close_answering(now, update.index)

    def _close_answering(self, now: float, index: int) -> None:
        if self._answering is None or self._answering[1] > index:
            return
        since, first, prompts = self._answering
        self.answer_seconds += now - since
        self.answered += prompts
        self.answered_upto = max(self.answered_upto, first + prompts)
        self._answering = None

    def per_prompt(self) -> float | None:
        """Seconds a prompt takes (answers and verdict), once both have been timed; None before."""
        if self.judged and self.answered:
            return self.answer_seconds / self.answered + self.judge_seconds / self.judged
        if len(self.record_times) >= 2 and not self.judged:  # records in flight together: time between them
            return (self.record_times[-1] - self.record_times[0]) / (len(self.record_times) - 1)
        return None

    def seconds_left(self, done: int, total: int) -> float | None:
        """What the prompts still to answer and still to judge will take; None until a real timing exists."""
        to_judge = max(total - done, 0)
        if not to_judge:
            return 0.0
        to_answer = max(total - max(self.answered_upto, done), 0)
        if self.judged and (self.answered or not to_answer):
            answer = self.answer_seconds / self.answered if self.answered else 0.0
            return to_answer * answer + to_judge * self.judge_seconds / self.judged
        per_record = self.per_prompt() if not self.judged else None
        return None if per_record is None else per_record * to_judge


class RunProgress:
    """Follows a run's CompareUpdates: the table rows so far, and a status line when something worth showing changed.

    `rows` starts with the rows of records saved before (a resumed run); the time per prompt and the time left
    count only what was timed while this object watched.
    """

    def __init__(self, rows: list | None = None, now=time.perf_counter):
        self.rows: list = list(rows or [])
        self.now = now
        self.started = now()
        self.done_here = 0
        self.times = StageTimes(now)
        self._last: tuple | None = None
        self.notices: list[str] = []  # what was changed about a record's inputs (a prompt cut to fit), once each

    def follow(self, update: CompareUpdate) -> bool:
        """Take an update in; True when the status should be shown again (answers stream token by token, but the
        status only changes with the stage or a finished record)."""
        self.times.observe(update)
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
            return (f"**Finished:** {total} record(s) in {clock(self.now() - self.started)}. "
                    f"Saved to `{folder}`{note}{self.notices_text()}\n\n"
                    f"{summary_table_markdown(read_summary(folder))}\n\n{closing_markdown(folder)}")
        timing = ""
        per_prompt, left = self.times.per_prompt(), self.times.seconds_left(done, total)
        if per_prompt is not None:
            timing = f" · {per_prompt:.1f} s per prompt"
        if left is not None:
            timing += f" · about {clock(left)} left"
        return f"**{done}/{total} done**{timing}{self.doing(update, done)}{self.folder_text(update)}" \
               f"{self.notices_text()}"

    @staticmethod
    def doing(update: CompareUpdate, done: int) -> str:
        """What the run does now: a chunk of prompts is answered together, one prompt is judged at a time."""
        if update.stage == "loading":
            return f" · {update.message or STAGE_TEXT['loading']}"
        if update.stage == "record" or done >= update.total:
            return ""
        if update.stage in ANSWER_STAGES and update.chunk > 1:
            last = min(update.index + update.chunk, update.total)
            return f" · answering prompts {update.index + 1}-{last} together (Model A, then Model B)…"
        return f" · prompt {update.index + 1} ({update.item.id if update.item else '…'}): {STAGE_TEXT[update.stage]}"

    @staticmethod
    def folder_text(update: CompareUpdate) -> str:
        # The run folder exists once the models are loaded and the inputs checked (none while loading a new run).
        return f"  \nRun folder: `{update.run_dir}`" if update.run_dir else ""

    def bar_text(self, update: CompareUpdate) -> str:
        """The progress bar's words: prompts done and this run's own time per prompt (a bar's own rate counts
        updates, which stream token by token, so it read '0.1s' while a prompt took ten)."""
        done = len(self.rows)
        per_prompt = self.times.per_prompt()
        if per_prompt is None:
            return f"{done}/{update.total} prompts"
        return f"{done}/{update.total} prompts · {per_prompt:.1f} s per prompt"

    def notices_text(self) -> str:
        return "  \n**Notice:** " + as_text("; ".join(self.notices)) if self.notices else ""
