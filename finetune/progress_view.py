"""The Training tab's non-UI logic: run train() in a thread with progress via a queue, loss figures, adapter metas."""
from __future__ import annotations

import queue
import threading
import typing
from collections.abc import Iterator
from pathlib import Path

from basics import adapters_dir
from finetune.config import FIELDS, ConfigError, FinetuneConfig, load_config
from finetune.train import RESUME_DIR, last_resume_checkpoint  # torch and transformers load only when training
from models.spec import adapter_name, adapter_spec, gguf_twin_spec, list_local_adapters

META_HEADERS = ["Adapter", "Base", "Steps", "Engine", "Rows used", "Final loss", "Settings", "Wall time", "Tokens/s"]
SYMBOLS = ["circle", "square", "diamond", "triangle-up", "x", "star"]
_TYPES = typing.get_type_hints(FinetuneConfig)


class TrainingCancelled(Exception):
    """Raised inside the training thread when the page that started it went away."""


def config_from_form(name: str, **values) -> FinetuneConfig:
    """A validated FinetuneConfig from the form: OUT is adapters_dir()/NAME; numbers typed as the config's fields."""
    name = (name or "").strip().strip("/")
    if not name or Path(name).is_absolute() or ".." in Path(name).parts:
        raise ConfigError(f"output name {name!r}: give a folder name such as 'my-run' (it goes under {adapters_dir()})")
    typed = {}
    for key, value in values.items():
        kind = _TYPES.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue  # unset: the config's default
        try:
            if kind is int:
                if float(value) != int(float(value)):
                    raise ValueError
                value = int(float(value))
            elif kind is float:
                value = float(value)
            elif kind == list[int] and isinstance(value, str):
                value = [int(part) for part in value.replace(" ", ",").split(",") if part.strip()]
        except ValueError:
            help_text = FIELDS[key].metadata.get("help", "") if key in FIELDS else ""
            raise ConfigError(f"{key} must be {'whole numbers' if kind == list[int] else kind.__name__}, "
                              f"got {value!r} ({help_text})") from None
        typed[key] = value
    config = load_config(out=str(adapters_dir() / name), **typed)
    done = finished_steps(config.out)
    if done >= config.max_steps:
        raise ConfigError(f"run {name!r} already trained {done} steps, so it would resume with nothing left to do "
                          f"(max steps {config.max_steps}): pick a new output name, or raise max steps to continue it")
    return config


def finished_steps(out: str | Path) -> int:
    """The step of the run's last resumable checkpoint (where training would resume), 0 when there is none."""
    last = last_resume_checkpoint(Path(out))
    return int(Path(last).name.split("-")[-1]) if last else 0


def run_training(config: FinetuneConfig, train_fn=None) -> Iterator:
    """Run training in a background thread; yield each Progress as it comes, then the TrainResult.

    An exception raised in the thread is re-raised here. Closing the generator early stops the training at its
    next logged step.
    """
    if train_fn is None:
        from finetune.train import train as train_fn
    events: queue.Queue = queue.Queue()
    stop = threading.Event()

    def on_progress(progress):
        if stop.is_set():
            raise TrainingCancelled("training cancelled")
        events.put(("progress", progress))

    def work():
        try:
            events.put(("done", train_fn(config, on_progress=on_progress)))
        except BaseException as exc:  # noqa: BLE001 - every failure must reach the generator
            events.put(("error", exc))

    thread = threading.Thread(target=work, name="finetune-train", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = events.get()
            if kind == "error":
                raise payload
            yield payload
            if kind == "done":
                return
    finally:
        stop.set()


def format_seconds(seconds: float) -> str:
    seconds = int(round(seconds or 0))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def status_line(progress, last_loss: float | None) -> str:
    """Where training is: loaded and on its first step, or the last step logged, with the time per step and the
    time left once a step has been timed (loading is no part of either)."""
    elapsed = format_seconds(progress.elapsed)
    if progress.loaded:
        return (f"**Loaded** the model and the data in {elapsed}; training step {progress.step + 1} of "
                f"{progress.max_steps}…")
    loss = "–" if last_loss is None else f"{last_loss:.4f}"
    line = f"**step {progress.step} / {progress.max_steps}** · loss {loss} · elapsed {elapsed}"
    if progress.seconds_per_step is not None:
        line += f" · {progress.seconds_per_step:.1f} s per step"
        if progress.step < progress.max_steps:
            line += f" · about {format_seconds(progress.seconds_left())} left"
    return line


def progress_words(progress) -> str:
    """The progress bar's words: loading until the first step begins, then training."""
    if progress is None:
        return "loading model and data"
    if progress.seconds_per_step is None:
        return "training"
    return f"training · {progress.seconds_per_step:.1f} s per step"


relative_name = adapter_name  # an adapter folder as shown in the app: relative to the adapters folder


def done_markdown(result) -> str:
    names = [relative_name(folder) for folder in result.checkpoints]
    saved = ", ".join(f"`{name}`" for name in names) or "none (the run had already reached its last step)"
    lines = [f"**Done** in {format_seconds(result.seconds)} (engine {result.engine}). Saved checkpoints: {saved}",
             f"Data: {result.report.summary()}"]
    if result.checkpoints:
        last = result.checkpoints[-1]
        twin = gguf_twin_spec(last)
        if twin:  # what the pickers offer first: the same adapter on llama.cpp, several times faster
            lines.append(f"Compare them in the Compare tab, e.g. as `{twin}` (its GGUF twin on llama.cpp, faster; "
                         f"`{adapter_spec(last)}` is the same adapter on transformers).")
        else:
            lines.append(f"Compare them in the Compare tab, e.g. as `{adapter_spec(last)}`.")
    return "  \n".join(lines)


def trained_adapters() -> list[str]:
    """Adapter folders under adapters_dir() (Trainer's resumable checkpoints left out), relative to it."""
    return [relative_name(p) for p in list_local_adapters() if RESUME_DIR not in p.relative_to(adapters_dir()).parts]


def loss_figure(curves: dict[str, list[dict]], title: str = "Training loss", max_steps: int | None = None):
    """A plotly figure with one loss-vs-step line per named curve ([{step, loss}, ...]); x up to max_steps if given."""
    import plotly.graph_objects as go

    figure = go.Figure()
    # Checkpoints of one run share their history: draw the longest curve first so shorter ones stay visible on top.
    order = sorted(enumerate(curves.items()), key=lambda item: -len(item[1][1]))
    for drawn, (rank, (name, curve)) in enumerate(order):
        points = [p for p in curve if p.get("loss") is not None]
        figure.add_trace(go.Scatter(x=[p["step"] for p in points], y=[p["loss"] for p in points],
                                    mode="lines+markers", name=name, legendrank=rank + 1,
                                    marker=dict(symbol=SYMBOLS[rank % len(SYMBOLS)], size=max(11 - 2 * drawn, 5))))
    if not any(trace.x for trace in figure.data):
        figure.add_annotation(text="waiting for the first logged step…" if max_steps else "no loss logged",
                              showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
        figure.update_yaxes(showticklabels=False)
    last_step = max([p.get("step", 0) for curve in curves.values() for p in curve] + [max_steps or 0])
    figure.update_xaxes(dtick=1 if last_step <= 12 else None, tickformat="d", rangemode="tozero",
                        range=[0, max_steps * 1.02] if max_steps else None)
    figure.update_layout(title=title, xaxis_title="step", yaxis_title="loss", height=360,
                         margin=dict(l=50, r=20, t=50, b=40), showlegend=len(curves) > 1,
                         legend=dict(orientation="h", yanchor="bottom", y=1.0, x=1, xanchor="right"))
    return figure


def read_metas(names: list[str]) -> dict[str, dict]:
    """meta.json of each adapter named relative to adapters_dir() (or by path); {} for one without."""
    from finetune.checkpoints import read_meta

    root = adapters_dir()
    return {name: read_meta(Path(name) if Path(name).is_absolute() else root / name) for name in names or []}


def meta_rows(metas: dict[str, dict]) -> list[list]:
    """One table row per adapter, columns META_HEADERS."""
    rows = []
    for name, meta in metas.items():
        data = meta.get("dataset") or {}
        used = f"{data['used']} of {data['rows']}" if "used" in data and "rows" in data else "–"
        wall = meta.get("wall_seconds")
        losses = [p["loss"] for p in meta.get("loss_curve") or [] if p.get("loss") is not None]
        rows.append([name, meta.get("base", "–"), meta.get("steps", "–"), meta.get("engine", "–"), used,
                     losses[-1] if losses else "–", settings_text(meta.get("hyperparameters") or {}),
                     format_seconds(wall) if wall is not None else "–",
                     meta.get("tokens_per_second") if meta.get("tokens_per_second") is not None else "–"])
    return rows


def settings_text(hp: dict) -> str:
    """The hyperparameters that tell two runs apart, in one short cell."""
    def number(key):
        value = hp.get(key)
        return f"{value:g}" if isinstance(value, (int, float)) else None

    batch = number("per_device_batch_size")
    if batch and number("gradient_accumulation_steps"):
        batch += "×" + number("gradient_accumulation_steps")
    parts = [("r", number("lora_r")), ("α", number("lora_alpha")), ("lr", number("learning_rate")),
             ("batch", batch), ("seq", number("max_seq_length"))]
    return " · ".join(f"{label} {value}" for label, value in parts if value) or "–"


def metas_figure(metas: dict[str, dict]):
    return loss_figure({name: meta.get("loss_curve") or [] for name, meta in metas.items()},
                       title="Loss curves of the selected adapters")
