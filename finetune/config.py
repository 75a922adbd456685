"""FinetuneConfig: the one typed config behind `python -m finetune`, its YAML files and the app's Training tab.

Defaults are the study's (Unsloth on Llama 3.2 3B with FineTome-100k): LoRA r 16, alpha 16, dropout 0 on all
attention and MLP projections, batch 2 x accumulation 4, lr 2e-4, weight decay 0.01, linear schedule.
"""
from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from basics import UserFacingError, adapters_dir
from models.embedded import DEFAULT_MODEL
from models.spec import ModelSpec, transformers_source

DEFAULT_TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
DEMO_DATA = str(Path(__file__).resolve().parent / "data" / "demo_chat.jsonl")
# The demo's two checkpoints stand in for the study's 2000- and 6150-step ones, at CPU scale: accumulation 1
# and 384-token chats keep a step to a few seconds here (the study's 2 x 4 x 2048 would take ~20 s a step).
DEMO_STEPS = (25, 100)
# Warm-up takes at most this share of the steps: a linear warm-up starts at learning rate 0, so 5 warm-up steps in a
# 4-step run trained step 1 at lr 0 and never reached the peak.
WARMUP_SHARE = 0.1
# transformers' set_seed seeds numpy too, whose seeds are 32-bit: a larger one fails when training starts.
MAX_TRAIN_SEED = 2**32 - 1


class ConfigError(UserFacingError):
    """A fine-tuning setting is missing or out of range."""


def base_source(spec: ModelSpec) -> str:
    """The transformers folder or hub id to train (or merge) on, for a base model spec; refuses what cannot train."""
    if spec.adapter:
        raise ConfigError(f"train on a base model, not an adapter spec: {spec.text!r}")
    if spec.backend == "llamacpp":
        raise ConfigError(f"{spec.base!r} is a llama.cpp model; train on its transformers twin, e.g. smollm2-135m")
    if spec.backend != "transformers":
        raise ConfigError(f"{spec.base!r} is not a transformers model: train on a hub id, a local model folder "
                          "or an embedded alias such as smollm2-135m")
    return transformers_source(spec)


def _help(text: str, **kwargs):
    return field(metadata={"help": text}, **kwargs)


@dataclass
class FinetuneConfig:
    base: str = _help("base model spec (embedded alias, hub id or local folder)", default=DEFAULT_MODEL)
    data: str = _help("hub dataset id or local .jsonl/.csv/.parquet file", default=DEMO_DATA)
    out: str = _help("run folder; checkpoints go to OUT/step-N", default_factory=lambda: str(adapters_dir() / "run"))
    max_steps: int = _help("optimizer steps to train", default=60)
    save_steps: list[int] = _help("steps at which to save a named checkpoint (the last step is always saved)",
                                  default_factory=list)
    lora_r: int = _help("LoRA rank", default=16)
    lora_alpha: int = _help("LoRA alpha (scale = alpha / r)", default=16)
    lora_dropout: float = _help("LoRA dropout", default=0.0)
    target_modules: list[str] = _help("modules that get LoRA", default_factory=lambda: list(DEFAULT_TARGET_MODULES))
    per_device_batch_size: int = _help("sequences per micro-batch", default=2)
    gradient_accumulation_steps: int = _help("micro-batches per optimizer step", default=4)
    learning_rate: float = _help("peak learning rate", default=2e-4)
    weight_decay: float = _help("AdamW weight decay", default=0.01)
    lr_scheduler: str = _help("learning-rate schedule", default="linear")
    warmup_steps: int = _help("linear warmup steps (at most a tenth of max_steps are used)", default=5)
    optimizer: str = _help("'auto' = adamw_8bit on CUDA with bitsandbytes, else adamw_torch", default="auto")
    max_seq_length: int = _help("longer conversations are truncated", default=2048)
    seed: int = _help("seed for LoRA init, data order and dropout", default=3407)
    engine: str = _help("'auto' (Unsloth on CUDA when installed, else PEFT), 'peft' or 'unsloth'", default="auto")
    load_in_4bit: bool = _help("Unsloth only: QLoRA on a 4-bit base", default=False)
    gradient_checkpointing: bool = _help("trade compute for memory (off on CPU: it only slows small models)",
                                         default=False)
    checkpoint_every: int = _help("write a resumable checkpoint every N steps", default=25)
    resume: bool = _help("resume from the last resumable checkpoint in OUT when there is one", default=True)
    max_rows: int = _help("use at most this many rows of the data (0 = all)", default=0)
    export_gguf: bool = _help("also write each checkpoint as a GGUF LoRA for llama.cpp", default=True)
    system_prompt: str | None = _help("system prompt put first in every conversation that has none; recorded in "
                                      "meta.json, so comparisons give the adapter the same one", default=None)

    def validate(self) -> FinetuneConfig:
        problems = []
        if self.max_steps < 1:
            problems.append(f"max_steps must be >= 1, got {self.max_steps}")
        if any(s < 1 or s > self.max_steps for s in self.save_steps):
            problems.append(f"save_steps {self.save_steps} must lie between 1 and max_steps ({self.max_steps})")
        for name in ("lora_r", "lora_alpha", "per_device_batch_size", "gradient_accumulation_steps",
                     "max_seq_length", "checkpoint_every"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.lora_dropout < 1:
            problems.append(f"lora_dropout must be in [0, 1), got {self.lora_dropout}")
        if self.learning_rate <= 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 <= self.seed <= MAX_TRAIN_SEED:
            problems.append(f"seed must be 0 to {MAX_TRAIN_SEED} (training seeds numpy, which takes 32-bit seeds), "
                            f"got {self.seed}")
        if self.system_prompt is not None and not isinstance(self.system_prompt, str):
            problems.append(f"system_prompt must be text, got {self.system_prompt!r}")
        elif self.system_prompt is not None and not self.system_prompt.strip():
            self.system_prompt = None  # blank (an empty form field): none
        if self.engine not in ("auto", "peft", "unsloth"):
            problems.append(f"engine must be auto, peft or unsloth, got {self.engine!r}")
        if problems:
            raise ConfigError("; ".join(problems))
        return self

    def warmup_steps_used(self) -> int:
        """The warm-up steps training uses: warmup_steps, capped at WARMUP_SHARE of max_steps."""
        return max(0, min(self.warmup_steps, int(self.max_steps * WARMUP_SHARE)))

    def checkpoint_steps(self) -> list[int]:
        return sorted({*self.save_steps, self.max_steps})

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


FIELDS = {f.name: f for f in dataclasses.fields(FinetuneConfig)}
_HINTS = typing.get_type_hints(FinetuneConfig)
_OPTIONAL = {name for name, kind in _HINTS.items() if type(None) in typing.get_args(kind)}  # `X | None` fields
# Each field's value type; an optional field's is X, and None stays None.
_TYPES = {name: typing.get_args(kind)[0] if name in _OPTIONAL else kind for name, kind in _HINTS.items()}


def _parse_list(kind):
    def parse(text: str):
        return [kind(part.strip()) for part in str(text).split(",") if part.strip()]
    return parse


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One flag per config field (--lora-r, --save-steps 2000,6150, --no-resume ...), defaulting to 'unset'."""
    for name, f in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        kind = _TYPES[name]
        help_text = f.metadata.get("help", "")
        if kind is bool:
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif typing.get_origin(kind) is list:
            item = typing.get_args(kind)[0]
            parser.add_argument(flag, type=_parse_list(item), default=None, help=help_text + " (comma-separated)")
        else:
            parser.add_argument(flag, type=kind, default=None, help=help_text)


def load_config(yaml_path: str | None = None, **overrides) -> FinetuneConfig:
    """Defaults, then the YAML file, then explicit overrides (CLI flags or app fields); None means 'unset'."""
    values: dict = {}
    if yaml_path:
        path = Path(yaml_path)
        if not path.is_file():
            raise ConfigError(f"config file {yaml_path!r} not found")
        try:
            loaded = yaml.safe_load(path.read_bytes().decode("utf-8-sig")) or {}
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{yaml_path}: not UTF-8 text (byte at offset {exc.start}): save it as UTF-8") from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark else ""
            what = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            raise ConfigError(f"{yaml_path}: not valid YAML ({what}{where}): fix the file") from exc
        except (OSError, RecursionError) as exc:
            raise ConfigError(f"{yaml_path}: cannot be read ({exc}): give a YAML file of setting: value") from exc
        if not isinstance(loaded, dict):
            raise ConfigError(f"{yaml_path}: expected a mapping of setting: value")
        values.update({k.replace("-", "_"): v for k, v in loaded.items()})
    values.update({k: v for k, v in overrides.items() if v is not None})
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    for name in list(values):
        values[name] = _coerce(name, values[name])
    return FinetuneConfig(**values).validate()


def _coerce(name: str, value):
    """A YAML or form value as the field's type: YAML 1.1 reads '2e-4' (no dot) as a string, forms send text."""
    kind = _TYPES[name]
    if value is None and name in _OPTIONAL:
        return None
    try:
        if typing.get_origin(kind) is list:
            item = typing.get_args(kind)[0]
            items = _parse_list(item)(value) if isinstance(value, (str, int)) else [item(v) for v in value]
            return items
        if kind is bool:
            if isinstance(value, str):
                if value.strip().lower() not in ("true", "false", "yes", "no", "1", "0"):
                    raise ValueError(value)
                return value.strip().lower() in ("true", "yes", "1")
            return bool(value)
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ValueError(value)
        return kind(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{name} must be {getattr(kind, '__name__', kind)}, got {value!r}") from exc
