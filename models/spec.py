"""Model spec strings: `BASE` or `BASE+ADAPTER`, the one way a model is named in the UI, the CLI and config files.

BASE is an embedded alias (`smollm2-135m`; `smollm2-135m-gguf` for llama.cpp on the shipped file;
`smollm2-135m-f32-gguf` for llama.cpp on the same weights in float32: transformers' answers, faster), a Hugging Face
hub id (`org/name`), a local model folder, or a `.gguf` file. ADAPTER is a local PEFT adapter folder (absolute,
relative, or a name under the adapters folder), a hub id, or for llama.cpp bases a GGUF LoRA file.
`scripted:...` names the scripted backend (given replies, no weights: see models/backends/scripted.py).
`head:FOLDER` names a scoring judge (a reward head on its base model: see models/backends/head.py); a judge the
project ships in adapters/shipped/ is named by its folder's name alone (`toxicity`).
`openai:MODEL` or `openai:MODEL@BASE_URL` names a model served over the OpenAI chat-completions protocol (vLLM, TGI,
SGLang, Ollama, llama.cpp's server, Inference Providers, a hosted API: see models/endpoints.py); without `@BASE_URL`
the base URL comes from $LLM_JUDGE_BASE_URL. The canonical text always carries the URL, never a key.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from basics import SHIPPED_JUDGES_DIR, adapters_dir
from models.adapter_files import ADAPTER_GGUF
from models.embedded import EMBEDDED_MODELS, F32_GGUF_SUFFIX, GGUF_SUFFIX, converted_folder, ensure_converted
from models.endpoints import ENDPOINT_PREFIX, endpoint_spec_text
from models.errors import ModelSpecError
from models.hub_files import REWARD_PREFIX, cached_hub_models
from models.hub_repos import HubChoice
from models.hub_resolve import is_hub_reference, resolve_hub_adapter, resolve_hub_base

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Linux's limits: a file or folder name of 255 bytes, a path of 4096. Past them every file check raises OSError.
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096
SCRIPTED_PREFIX = "scripted:"
HEAD_PREFIX = "head:"

BaseKind = Literal["embedded", "embedded-gguf", "gguf", "local", "hub", "hub-gguf", "scripted", "endpoint", "head",
                   "reward"]
AdapterKind = Literal["local", "hub", "gguf-lora", "hub-gguf-lora"]
# Which registered backend (models/registry.py) serves each kind of base.
BACKEND_OF_BASE: dict[str, str] = {"embedded": "transformers", "local": "transformers", "hub": "transformers",
                                   "embedded-gguf": "llamacpp", "gguf": "llamacpp", "hub-gguf": "llamacpp",
                                   "scripted": "scripted", "endpoint": "openai", "head": "head", "reward": "reward"}


@dataclass(frozen=True)
class ModelSpec:
    """A parsed, resolved model spec. `text` is the canonical string used as cache key and in run manifests."""

    text: str
    base: str
    base_kind: BaseKind
    adapter: str | None = None
    adapter_kind: AdapterKind | None = None
    # What a hub id resolved to (repo, file, revision: models/hub_repos.py), and what the user must be told about it.
    base_hub: HubChoice | None = None
    adapter_hub: HubChoice | None = None
    notices: tuple[str, ...] = ()

    def hub_record(self) -> dict:
        """The hub choices and notices, as the run manifest records them (empty for models not from the hub)."""
        hub = {role: choice.to_dict() for role, choice in (("base", self.base_hub), ("adapter", self.adapter_hub))
               if choice}
        return {**({"hub": hub} if hub else {}), **({"notices": list(self.notices)} if self.notices else {})}

    @property
    def backend(self) -> str:
        return BACKEND_OF_BASE[self.base_kind]

    @property
    def float32_gguf(self) -> bool:
        """An embedded model's float32 GGUF (F32_GGUF_SUFFIX) rather than the file it ships."""
        return self.base_kind == "embedded-gguf" and self.base.endswith(F32_GGUF_SUFFIX)

    @property
    def embedded_alias(self) -> str | None:
        if self.base_kind == "embedded":
            return self.base
        if self.base_kind == "embedded-gguf":
            return self.base[: -len(F32_GGUF_SUFFIX if self.float32_gguf else GGUF_SUFFIX)]
        return None


def parse_model_spec(text: str) -> ModelSpec:
    """Parse and resolve a spec string; raise ModelSpecError naming the problem and the accepted forms."""
    raw = (text or "").strip()
    if not raw:
        raise ModelSpecError("no model given: enter a model spec such as 'smollm2-135m' or 'BASE+ADAPTER'")
    if raw.startswith(SCRIPTED_PREFIX):  # its replies may hold any character, '+' included: no adapter part
        return ModelSpec(text=raw, base=raw, base_kind="scripted")
    _check_spec_text(raw)
    if raw in shipped_judges():  # named by its name alone, so a run's manifest reads the same on every clone
        return ModelSpec(text=raw, base=HEAD_PREFIX + str(shipped_judges()[raw]), base_kind="head")
    if raw.startswith(HEAD_PREFIX):  # a scoring judge: a reward head on its base model's features
        folder = _local_path(raw[len(HEAD_PREFIX):])
        if not _is_file(folder / "meta.json"):
            raise ModelSpecError(f"{raw!r} names no scoring judge: give head:FOLDER, a folder with head.npz and "
                                 "meta.json (python -m judge distill writes one)")
        text = HEAD_PREFIX + str(folder.resolve())
        return ModelSpec(text=text, base=text, base_kind="head")
    if raw.startswith(REWARD_PREFIX):  # a sequence-classification reward model: a scoring judge of its own
        return reward_model_spec(raw[len(REWARD_PREFIX):].strip())
    if raw.startswith(ENDPOINT_PREFIX):  # served models take no local adapter: serve the merged model instead
        text = endpoint_spec_text(raw)
        return ModelSpec(text=text, base=text, base_kind="endpoint")
    if "+" not in raw or _exists(raw):
        return _base_spec(raw, allow_adapter=True)
    # Paths may contain '+' too: split at the first '+' whose left side is a valid base.
    failure = None
    for index in (i for i, ch in enumerate(raw) if ch == "+"):
        base_text, adapter_text = raw[:index].strip(), raw[index + 1:].strip()
        if not base_text or not adapter_text:
            raise ModelSpecError(f"malformed model spec {raw!r}: expected BASE or BASE+ADAPTER")
        try:
            spec = _base_spec(base_text, allow_adapter=False)
            break
        except ModelSpecError as exc:
            failure = failure or exc
    else:
        raise failure
    return _with_adapter(spec, adapter_text)


def reward_model_spec(name: str) -> ModelSpec:
    """`reward:FOLDER` or `reward:org/repo`: a folder or hub repo holding a transformers model (config.json and
    weights), loaded as a sequence classifier by models/backends/reward_model.py. Base = the folder or repo id."""
    if not name or "+" in name:
        raise ModelSpecError(f"{REWARD_PREFIX + name!r}: give reward:FOLDER or reward:org/repo, a reward model "
                             "(e.g. reward:Skywork/Skywork-Reward-V2-Qwen3-0.6B) with no adapter")
    if _exists(name):
        folder = _local_path(name).resolve()
        if not _is_file(folder / "config.json"):
            raise ModelSpecError(f"{REWARD_PREFIX + name!r}: {folder} has no config.json, so it is not a transformers "
                                 "model; a reward model folder is what save_pretrained writes")
        return ModelSpec(text=REWARD_PREFIX + str(folder), base=str(folder), base_kind="reward")
    if name in EMBEDDED_MODELS or not is_hub_reference(name):
        raise ModelSpecError(f"{REWARD_PREFIX + name!r} names no reward model: give a folder or a hub id such as "
                             "reward:Skywork/Skywork-Reward-V2-Qwen3-0.6B (the embedded models write answers; "
                             "they are no reward models)")
    found = resolve_hub_base(name, allow_adapter=False)
    if found.base_kind != "hub":
        raise ModelSpecError(f"{REWARD_PREFIX + name!r}: the repo holds a {found.base_kind} model, not transformers "
                             "weights with a config.json; a reward model is a *ForSequenceClassification checkpoint")
    return ModelSpec(text=REWARD_PREFIX + found.base, base=found.base, base_kind="reward", base_hub=found.choice,
                     notices=found.notices)


def _with_adapter(spec: ModelSpec, adapter_text: str, adapter_hub: HubChoice | None = None,
                  notices: tuple[str, ...] = ()) -> ModelSpec:
    adapter, adapter_kind, found_hub = _resolve_adapter(adapter_text, spec)
    return replace(spec, text=f"{spec.base}+{adapter}", adapter=adapter, adapter_kind=adapter_kind,
                   adapter_hub=adapter_hub or found_hub, notices=(*notices, *spec.notices))


def _base_spec(text: str, allow_adapter: bool) -> ModelSpec:
    """A base named alone: a hub reference is resolved by what its repo holds (an adapter repo named alone gives
    its base plus itself); anything else by _resolve_base."""
    if text not in EMBEDDED_MODELS and is_hub_reference(text) and not _exists(text):
        found = resolve_hub_base(text, allow_adapter=allow_adapter)
        if found.adapter_choice is None:
            return ModelSpec(text=found.base, base=found.base, base_kind=found.base_kind, base_hub=found.choice,
                             notices=found.notices)
        try:
            base = _base_spec(found.base, allow_adapter=False)
        except ModelSpecError as exc:
            raise ModelSpecError(f"adapter {found.adapter_choice.repo_id} wants the base {found.base!r}, which cannot "
                                 f"be loaded here ({exc}); name it as BASE+{found.adapter_choice.repo_id} with a "
                                 "base you have") from exc
        return _with_adapter(base, found.adapter_choice.repo_id, found.adapter_choice, found.notices)
    base, base_kind = _resolve_base(text)
    return ModelSpec(text=base, base=base, base_kind=base_kind)


def _resolve_base(text: str) -> tuple[str, BaseKind]:
    if text in EMBEDDED_MODELS:
        return text, "embedded"
    for suffix in (F32_GGUF_SUFFIX, GGUF_SUFFIX):
        if text.endswith(suffix) and text[: -len(suffix)] in EMBEDDED_MODELS:
            return text, "embedded-gguf"
    path = _local_path(text)
    if text.lower().endswith(".gguf"):
        if not _is_file(path):
            raise ModelSpecError(f"GGUF file not found: {text!r}; check the path")
        return str(path.resolve()), "gguf"
    if _is_dir(path):
        if _is_file(path / "adapter_config.json") and not _is_file(path / "config.json"):
            raise ModelSpecError(
                f"{text!r} is a LoRA adapter, not a base model: name it as BASE+ADAPTER, e.g. smollm2-135m+{text}"
            )
        if not _is_file(path / "config.json"):
            raise ModelSpecError(f"folder {text!r} has no config.json, so it is not a transformers model folder")
        return str(path.resolve()), "local"
    if HUB_ID.match(text) and not text.startswith((".", "/")):
        return text, "hub"
    known = ", ".join(a + suffix for suffix in ("", GGUF_SUFFIX, F32_GGUF_SUFFIX) for a in EMBEDDED_MODELS)
    raise ModelSpecError(
        f"unknown model {text!r}: use an embedded alias ({known}), a hub id like 'org/name', "
        "a local model folder, a .gguf file, or a served model as openai:MODEL@http://host:port/v1"
    )


def _resolve_adapter(text: str, base: ModelSpec) -> tuple[str, AdapterKind, HubChoice | None]:
    path = _local_path(text)
    if not _exists(path) and _exists(adapters_dir() / text):
        path = adapters_dir() / text
    if base.backend == "llamacpp":
        if _is_file(path) and path.suffix.lower() == ".gguf":
            return str(path.resolve()), "gguf-lora", None
        if is_hub_reference(text) and not _exists(path):
            return resolve_hub_adapter(text, llama_cpp_base=True)
        raise ModelSpecError(
            f"llama.cpp base {base.base!r} needs its adapter as a GGUF LoRA file, not {text!r}: "
            "export the adapter to GGUF, or use the transformers base (e.g. smollm2-135m+ADAPTER)"
        )
    if _is_dir(path):
        if not _is_file(path / "adapter_config.json"):
            raise ModelSpecError(f"adapter folder {text!r} has no adapter_config.json: is it a PEFT LoRA adapter?")
        check_adapter_base(path, base)
        return str(path.resolve()), "local", None
    if is_hub_reference(text):
        return resolve_hub_adapter(text, llama_cpp_base=False)
    raise ModelSpecError(
        f"adapter {text!r} not found: give a PEFT adapter folder, a name under {adapters_dir()}, or a hub id"
    )


def _check_spec_text(raw: str) -> None:
    """Refuse text no model can be named by, before any file is looked at: control characters, names past the
    file-name limit (each '/' or '+' part), '~user' for a user this machine does not have."""
    shown = raw if len(raw) <= 80 else f"{raw[:60]}... ({len(raw)} characters)"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise ModelSpecError(f"model spec {shown!r} contains a control character (a NUL, tab or line break): "
                             "type it again on one line, as 'BASE' or 'BASE+ADAPTER'")
    parts = re.split(r"[/+]", raw)
    if len(raw.encode("utf-8")) > MAX_PATH_BYTES or any(len(p.encode("utf-8")) > MAX_NAME_BYTES for p in parts):
        raise ModelSpecError(f"model spec {shown!r} is too long to name a model: a file or folder name takes at most "
                             f"{MAX_NAME_BYTES} bytes and a path {MAX_PATH_BYTES}; check what was pasted, and give "
                             "an embedded alias, a hub id like 'org/name', or a path")
    for part in raw.split("+"):
        _local_path(part.strip())  # '~nosuchuser/...' says so here, not as a RuntimeError from pathlib


def _local_path(text: str) -> Path:
    try:
        return Path(text).expanduser()
    except RuntimeError as exc:  # '~name' for a user this machine does not have
        user = text[1:].split("/", 1)[0]
        raise ModelSpecError(f"{text!r}: there is no user {user!r} on this machine, so '~{user}' names no folder; "
                             "write the model's or adapter's full path, or ~/... for your own home") from exc


# pathlib raises on a name with a NUL byte or past the length limits, and on a folder it may not enter
# (PermissionError): none of those is a model the user can load, so each reads as "not there".
def _exists(path: str | Path) -> bool:
    try:
        return Path(path).expanduser().exists()
    except (OSError, ValueError, RuntimeError):
        return False


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


def transformers_source(spec: ModelSpec) -> str:
    """What transformers' from_pretrained loads for a base: the cached conversion of an embedded model, else the
    hub id or folder itself."""
    return str(ensure_converted(EMBEDDED_MODELS[spec.base])) if spec.base_kind == "embedded" else spec.base


def base_identities(spec: ModelSpec) -> set[str]:
    """Every name under which this base may be recorded in an adapter's config (lower-cased)."""
    names = {spec.base}
    alias = spec.embedded_alias
    if alias:
        model = EMBEDDED_MODELS[alias]
        names |= {alias, alias + GGUF_SUFFIX, model.hub_id, str(converted_folder(model))}
    if spec.base_kind == "local":
        names.add(str(Path(spec.base).resolve()))
    return {n.lower().rstrip("/") for n in names}


def recorded_adapter_base(adapter_dir: Path) -> str | None:
    """The base model an adapter says it was trained on (meta.json's base spec first, then PEFT's config)."""
    meta = adapter_dir / "meta.json"
    if meta.is_file():
        base = _json_object(meta).get("base")
        if base:
            return str(base)
    base = _json_object(adapter_dir / "adapter_config.json").get("base_model_name_or_path")
    return str(base) if base else None


def _json_object(path: Path) -> dict:
    """An adapter's JSON file as a dict; ModelSpecError naming the file when it is unreadable or not an object."""
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise ModelSpecError(f"{path} cannot be read as JSON ({type(exc).__name__}): the adapter is damaged; "
                             "save or export it again") from exc
    if not isinstance(value, dict):
        raise ModelSpecError(f"{path} is not a JSON object: the adapter is damaged; save or export it again")
    return value


def check_adapter_base(adapter_dir: Path, base: ModelSpec) -> None:
    """Refuse an adapter recorded as made for a different base, naming both."""
    recorded = recorded_adapter_base(adapter_dir)
    if not recorded:
        return  # nothing recorded: the weight shapes are checked when the adapter loads
    try:
        # The base alone, never a BASE+ADAPTER spec: an adapter recorded as made for itself would recurse forever.
        base_text, base_kind = _resolve_base(recorded)
        recorded_ids = base_identities(ModelSpec(text=base_text, base=base_text, base_kind=base_kind))
    except ModelSpecError:
        recorded_ids = {recorded.lower().rstrip("/")}
    if recorded_ids.isdisjoint(base_identities(base)):
        raise ModelSpecError(
            f"adapter {adapter_dir.name!r} was made for base {recorded!r}, not {base.base!r}: "
            f"use {recorded}+{adapter_dir} or pick an adapter trained on {base.base}"
        )


def list_local_adapters() -> list[Path]:
    """PEFT adapter folders under the adapters folder (up to three levels down), sorted."""
    root = adapters_dir()
    if not root.is_dir():
        return []
    found = [p.parent for depth in ("*", "*/*", "*/*/*") for p in root.glob(f"{depth}/adapter_config.json")]
    # Folders starting with '_' are internal (a training run's _resume checkpoints come and go).
    kept = {p for p in found if not any(part.startswith("_") for part in p.relative_to(root).parts)}
    return sorted(kept, key=_natural_key)


def _natural_key(path: Path) -> list:
    """'step-25' before 'step-100'."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", str(path))]


def offline_base_name(recorded: str) -> str:
    """The embedded alias for a base recorded under another of its names (e.g. its hub id), else as recorded.

    PEFT records the hub id it trained on; offering 'HuggingFaceTB/...+ADAPTER' would need a download, while the
    embedded alias is the same model and loads offline.
    """
    for alias in EMBEDDED_MODELS:
        if recorded.lower().rstrip("/") in base_identities(ModelSpec(text=alias, base=alias, base_kind="embedded")):
            return alias
    return recorded


def adapter_spec(folder: str | Path) -> str:
    """The picker spec of an adapter folder: its recorded base (offline name) + the folder, relative to the adapters
    folder when inside it."""
    folder = Path(folder)
    base = offline_base_name(recorded_adapter_base(folder) or next(iter(EMBEDDED_MODELS)))
    return f"{base}+{adapter_name(folder)}"


def gguf_twin_spec(folder: str | Path) -> str | None:
    """The same adapter on llama.cpp: its GGUF LoRA twin on the float32 GGUF of its embedded base (the PEFT model's
    answers, faster: greedy study replies 9 of 10 identical over 256 tokens), or None without a twin or an embedded
    base."""
    folder = Path(folder)
    base = offline_base_name(recorded_adapter_base(folder) or next(iter(EMBEDDED_MODELS)))
    if base not in EMBEDDED_MODELS or not _is_file(folder / ADAPTER_GGUF):
        return None
    return f"{base}{F32_GGUF_SUFFIX}+{adapter_name(folder)}/{ADAPTER_GGUF}"


def adapter_name(folder: str | Path) -> str:
    """An adapter folder as shown in the app: relative to adapters_dir() when inside it."""
    try:
        return str(Path(folder).resolve().relative_to(adapters_dir().resolve()))
    except ValueError:
        return str(folder)


def shipped_judges() -> dict[str, Path]:
    """The judges the project trained and ships (adapters/shipped/NAME: a head and its meta.json), by name."""
    if not SHIPPED_JUDGES_DIR.is_dir():
        return {}
    return {p.parent.name: p.parent for p in sorted(SHIPPED_JUDGES_DIR.glob("*/meta.json"))}


def registered_heads() -> list[str]:
    """`head:FOLDER` specs of the scoring judges registered under the adapters folder's judges/ (by distillation)."""
    root = adapters_dir() / "judges"
    return [HEAD_PREFIX + str(p.parent) for p in sorted(root.glob("*/meta.json"))] if root.is_dir() else []


def known_model_specs() -> list[str]:
    """Spec strings to offer in pickers: embedded models, their llama.cpp twins, local adapters on their base (and
    their GGUF twins on llama.cpp), the judges shipped in adapters/shipped/, registered scoring judges, and the models
    in the local Hugging Face cache (by hub id: each resolves by what its repo holds; a reward model as reward:ID)."""
    embedded = [a + suffix for suffix in ("", GGUF_SUFFIX, F32_GGUF_SUFFIX) for a in EMBEDDED_MODELS]
    return [*embedded, *_local_adapter_specs(), *shipped_judges(), *registered_heads(), *cached_hub_models()]


def _local_adapter_specs() -> list[str]:
    specs = []
    for folder in list_local_adapters():
        try:
            specs.append(adapter_spec(folder))
            specs.extend(filter(None, [gguf_twin_spec(folder)]))
        except ModelSpecError:
            continue  # a damaged adapter is not offered; named by hand, it is refused with the reason
    return specs
