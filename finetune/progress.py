"""What training reports: a Progress per logged step while it runs, and a TrainResult when it is done."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from finetune.data import DataReport


@dataclass
class Progress:
    """One logged training step, as reported to on_progress."""

    step: int
    max_steps: int
    loss: float | None
    elapsed: float
    saved: str | None = None  # a checkpoint folder written at this step


@dataclass
class TrainResult:
    checkpoints: list[Path]
    engine: str
    report: DataReport
    loss_curve: list[dict] = field(default_factory=list)
    seconds: float = 0.0
