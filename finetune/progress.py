"""What training reports: a Progress per logged step while it runs, and a TrainResult when it is done."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from finetune.data import DataReport


@dataclass
class Progress:
    """One logged training step, as reported to on_progress; also sent once when the model and data are loaded and
    the first step begins (`loaded`, at the step training starts from)."""

    step: int
    max_steps: int
    loss: float | None
    elapsed: float
    saved: str | None = None  # a checkpoint folder written at this step
    loaded: bool = False  # the model and data are loaded: steps are running now
    seconds_per_step: float | None = None  # measured over this process's steps so far (None before the first)

    def seconds_left(self) -> float | None:
        if self.seconds_per_step is None:
            return None
        return self.seconds_per_step * max(self.max_steps - self.step, 0)


@dataclass
class TrainResult:
    checkpoints: list[Path]
    engine: str
    report: DataReport
    loss_curve: list[dict] = field(default_factory=list)
    seconds: float = 0.0
