"""Named checkpoints: at each requested step, an adapter folder OUT/step-N with meta.json (and a GGUF twin)."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from transformers import TrainerCallback

from finetune.config import FinetuneConfig
from finetune.data import DataReport
from finetune.export import export_gguf_lora
from finetune.progress import Progress


def checkpoint_dir(out: str | Path, step: int) -> Path:
    return Path(out) / f"step-{step}"


def read_meta(adapter_dir: str | Path) -> dict:
    path = Path(adapter_dir) / "meta.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


@dataclass
class NamedCheckpoints(TrainerCallback):
    config: FinetuneConfig
    engine: str
    report: DataReport
    started: float
    on_progress: Callable | None = None
    resumed_from: str | None = None
    saved: list[Path] = field(default_factory=list)
    _pending: int | None = None
    _steps_began: tuple[float, int] | None = None  # (when, step) the first step of this process began

    def on_train_begin(self, args, state, control, **kwargs):
        # Loading is over: the page stops saying so, and steps are timed from here (a resume starts past 0).
        self._steps_began = (time.perf_counter(), state.global_step)
        if self.on_progress is not None:
            self.on_progress(Progress(step=state.global_step, max_steps=self.config.max_steps, loss=None,
                                      elapsed=time.perf_counter() - self.started, loaded=True))

    def loss_curve(self, state) -> list[dict]:
        return [{"step": e["step"], "loss": round(e["loss"], 4), "learning_rate": e.get("learning_rate")}
                for e in state.log_history if "loss" in e]

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step in self.config.checkpoint_steps():
            self._pending = state.global_step  # saved once this step's loss has been logged

    def on_log(self, args, state, control, logs=None, model=None, **kwargs):
        saved = None
        if self._pending == state.global_step and model is not None:
            saved = self._save(state, model)
        if self.on_progress is not None:
            loss = (logs or {}).get("loss")
            self.on_progress(Progress(step=state.global_step, max_steps=self.config.max_steps, loss=loss,
                                      elapsed=time.perf_counter() - self.started, saved=saved,
                                      seconds_per_step=self.seconds_per_step(state.global_step)))

    def seconds_per_step(self, step: int) -> float | None:
        """Wall seconds per step over the steps this process ran (checkpoint saves included: they are part of it)."""
        if self._steps_began is None or step <= self._steps_began[1]:
            return None
        began, first = self._steps_began
        return (time.perf_counter() - began) / (step - first)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self._pending is not None and model is not None:  # the step's log never came
            self._save(state, model)

    def _save(self, state, model) -> str:
        step, self._pending = self._pending, None
        folder = checkpoint_dir(self.config.out, step)
        model.save_pretrained(str(folder))
        elapsed = time.perf_counter() - self.started
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        meta = {
            "base": self.config.base,
            "steps": step,
            "engine": self.engine,
            # Served without it, the adapter answers differently: comparisons give it this one by default.
            "system_prompt": self.config.system_prompt,
            "hyperparameters": self.config.to_dict(),
            "warmup_steps_used": self.config.warmup_steps_used(),  # capped at a share of the steps (config.py)
            "dataset": self.report.to_dict(),
            "loss_curve": self.loss_curve(state),
            "wall_seconds": round(elapsed, 1),
            "tokens_seen": tokens,
            "tokens_per_second": round(tokens / elapsed, 1) if elapsed > 0 else None,
            "resumed_from": self.resumed_from,  # wall time and tokens count this process only
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        if self.config.export_gguf:
            try:
                meta["gguf"] = str(export_gguf_lora(folder))
            except Exception as exc:  # the PEFT adapter is the checkpoint; a failed GGUF twin must not lose it
                meta["gguf_error"] = f"{type(exc).__name__}: {exc}"
            (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        self.saved.append(folder)
        return str(folder)
