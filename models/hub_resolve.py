"""A hub id as the user typed it -> what will load: the repo's listing (models/hub_files.py) through the rules
(models/hub_repos.py), with a 4-bit base swapped for its full-precision twin where this machine cannot run it.

Returns plain data; models/spec.py turns it into a ModelSpec (and resolves an adapter's base by the usual rules).
"""
from __future__ import annotations

from dataclasses import dataclass

from models.errors import ModelSpecError
from models.hub_files import bitsandbytes_runnable, list_repo, offline, read_adapter_config
from models.hub_repos import HubChoice, choose_from_files, choose_gguf_lora, full_precision_twin, split_hub_reference


@dataclass(frozen=True)
class HubBase:
    """A hub base (or an adapter repo named alone): the base's spec text and kind, and what was chosen."""

    base: str
    base_kind: str  # "hub" (transformers) or "hub-gguf" (llama.cpp)
    choice: HubChoice | None  # None: neither the hub nor the cache could list the repo; the loader says what to do
    adapter_choice: HubChoice | None = None  # an adapter repo named alone: the adapter; `base` is the base it wants
    notices: tuple[str, ...] = ()


def is_hub_reference(text: str) -> bool:
    return split_hub_reference(text) is not None


def not_listed(repo: str, what: str, text: str) -> ModelSpecError:
    where = "offline mode (HF_HUB_OFFLINE) forbids asking the hub" if offline() else "the hub cannot be reached"
    local = f"{text!r} is no file on this machine, and " if text.lower().endswith(".gguf") else ""
    fix = f"{'check the path, or ' if local else ''}download it on a connected machine (`hf download {repo}`)"
    return ModelSpecError(f"{local}the hub repo {repo} is not in the local Hugging Face cache and {where}, so {what} "
                          f"cannot be found: {fix} and copy the cache here")


def resolve_hub_base(text: str, allow_adapter: bool = True) -> HubBase:
    """What a hub reference names as a base. An adapter repo named alone gives the base it wants (its
    `base_model_name_or_path`, or that base's full-precision twin) and the adapter: spec.py resolves that base."""
    repo, quant, file = split_hub_reference(text)
    listing = list_repo(repo)
    if listing is None:
        if quant or file:
            raise not_listed(repo, f"its {'file ' + file if file else quant + ' file'}", text)
        return _bnb_swap(HubBase(base=repo, base_kind="hub", choice=None))
    choice = choose_from_files(listing, quant=quant, file=file)
    if choice.kind == "gguf":
        return HubBase(base=f"{choice.repo_id}/{choice.file}", base_kind="hub-gguf", choice=choice,
                       notices=choice.notices)
    if choice.kind == "transformers":
        return _bnb_swap(HubBase(base=choice.repo_id, base_kind="hub", choice=choice, notices=choice.notices))
    if not allow_adapter:
        raise ModelSpecError(f"{choice.repo_id} is a LoRA adapter, not a base model: name it alone "
                             f"({choice.repo_id}) to load it on the base it was trained on, or as BASE+ADAPTER with "
                             "ADAPTER last")
    wanted = read_adapter_config(choice).get("base_model_name_or_path")
    if not isinstance(wanted, str) or not wanted.strip():
        raise ModelSpecError(f"{choice.repo_id}'s adapter_config.json names no base model: name it as "
                             f"BASE+{choice.repo_id} with the base it was trained on")
    base = wanted.strip()
    # Said even when nothing is swapped: if the base cannot be had, the load error then names the base it wants.
    notices = (*choice.notices, f"{choice.repo_id} is a LoRA adapter; its adapter_config.json names the base {base}")
    twin = full_precision_twin(base)
    if twin and not bitsandbytes_runnable():
        notices += (_twin_notice(base, twin, f"the base {choice.repo_id} was trained on") +
                    f"; name BASE+{choice.repo_id} to choose the base yourself",)
        base = twin
    return HubBase(base=base, base_kind="adapter-base", choice=None, adapter_choice=choice, notices=notices)


def _bnb_swap(found: HubBase) -> HubBase:
    """A bitsandbytes 4-bit base named directly gets the same fallback as an adapter's base."""
    twin = full_precision_twin(found.base)
    if not twin or bitsandbytes_runnable():
        return found
    twin_found = resolve_hub_base(twin, allow_adapter=False)
    notice = _twin_notice(found.base, twin, "this model")
    return HubBase(base=twin_found.base, base_kind=twin_found.base_kind, choice=twin_found.choice,
                   notices=(*found.notices, notice, *twin_found.notices))


def _twin_notice(base: str, twin: str, role: str) -> str:
    return (f"{base} ({role}) is a bitsandbytes 4-bit model, which needs a CUDA GPU and `pip install bitsandbytes`; "
            f"this machine cannot run it, so its full-precision twin {twin} (Unsloth's naming) is used instead")


def resolve_hub_adapter(text: str, llama_cpp_base: bool) -> tuple[str, str, HubChoice | None]:
    """(adapter text, adapter kind, choice) of a hub adapter given as BASE+ADAPTER: a PEFT adapter repo for a
    transformers base, a GGUF LoRA file of a repo for a llama.cpp base."""
    repo, quant, file = split_hub_reference(text)
    listing = list_repo(repo)
    if llama_cpp_base:
        if listing is None:
            raise not_listed(repo, "its GGUF LoRA file (a llama.cpp base needs its adapter as a GGUF LoRA file)", text)
        choice = choose_gguf_lora(listing, quant=quant, file=file)
        return f"{choice.repo_id}/{choice.file}", "hub-gguf-lora", choice
    if quant or file:
        raise ModelSpecError(f"a transformers base takes a PEFT adapter repo, not a GGUF file ({text!r}): name the "
                             f"adapter repo as BASE+{repo}, or use a llama.cpp base for a GGUF LoRA")
    if listing is None:
        return repo, "hub", None  # the loader downloads it, or says it cannot
    if "adapter_config.json" not in listing.sizes:
        raise ModelSpecError(f"{listing.repo_id} is not a PEFT LoRA adapter (it has no adapter_config.json): name "
                             f"it as a base model ({listing.repo_id}), or give an adapter repo")
    return listing.repo_id, "hub", HubChoice("adapter", repo_id=listing.repo_id, revision=listing.revision,
                                             source=listing.source)
