"""models/spec.py (BASE / BASE+ADAPTER spec strings) and models/settings.py (sampling settings and presets).

Parsing only: no model is loaded.
"""
import json
from dataclasses import FrozenInstanceError

import pytest

from models.errors import ModelSpecError, SettingsError, UserFacingError
from models.settings import DEFAULT_JUDGE_SETTINGS, PRESETS, SamplingSettings, preset_settings
from models.spec import (
    base_identities,
    known_model_specs,
    list_local_adapters,
    parse_model_spec,
    recorded_adapter_base,
)

HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch):
    """Adapters and the model cache live under tmp_path; the working directory is an empty folder."""
    adapters = tmp_path / "adapters"
    adapters.mkdir()
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(adapters))
    monkeypatch.setenv("LLM_JUDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(work)
    return adapters


def make_adapter(folder, base=HUB_ID, meta_base=None):
    """A PEFT adapter folder: adapter_config.json recording `base`, and meta.json when `meta_base` is given."""
    folder.mkdir(parents=True, exist_ok=True)
    config = {"peft_type": "LORA", "r": 8}
    if base is not None:
        config["base_model_name_or_path"] = base
    (folder / "adapter_config.json").write_text(json.dumps(config), encoding="utf-8")
    if meta_base is not None:
        (folder / "meta.json").write_text(json.dumps({"base": meta_base}), encoding="utf-8")
    return folder


def make_model_folder(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    return folder


# --------------------------------------------------------------------------------------------- bases

@pytest.mark.parametrize("text, base, kind, backend, alias", [
    ("smollm2-135m", "smollm2-135m", "embedded", "transformers", "smollm2-135m"),
    ("smollm2-135m-gguf", "smollm2-135m-gguf", "embedded-gguf", "llamacpp", "smollm2-135m"),
    ("smollm2-135m-f32-gguf", "smollm2-135m-f32-gguf", "embedded-gguf", "llamacpp", "smollm2-135m"),
    ("  smollm2-135m  ", "smollm2-135m", "embedded", "transformers", "smollm2-135m"),
    ("org/name", "org/name", "hub", "transformers", None),
    (HUB_ID, HUB_ID, "hub", "transformers", None),
    ("my-org/model.v2_final", "my-org/model.v2_final", "hub", "transformers", None),
])
def test_base_specs(text, base, kind, backend, alias):
    spec = parse_model_spec(text)
    assert (spec.base, spec.text, spec.base_kind, spec.backend) == (base, base, kind, backend)
    assert spec.embedded_alias == alias
    assert spec.float32_gguf == text.endswith("-f32-gguf")
    assert spec.adapter is None and spec.adapter_kind is None


def test_local_model_folder(tmp_path):
    folder = make_model_folder(tmp_path / "my-model")
    spec = parse_model_spec(str(folder))
    assert spec.base_kind == "local"
    assert spec.base == str(folder.resolve())
    assert spec.backend == "transformers"
    assert spec.embedded_alias is None


def test_local_model_folder_relative_path(tmp_path):
    make_model_folder(tmp_path / "cwd" / "rel-model")
    spec = parse_model_spec("rel-model")
    assert spec.base_kind == "local"
    assert spec.base == str((tmp_path / "cwd" / "rel-model").resolve())


def test_local_model_folder_with_plus_in_its_path(tmp_path):
    folder = make_model_folder(tmp_path / "model+v2")
    spec = parse_model_spec(str(folder))
    assert spec.base_kind == "local"
    assert spec.adapter is None


def test_gguf_file_base(tmp_path):
    gguf = tmp_path / "model.Q4.gguf"
    gguf.write_bytes(b"GGUF")
    spec = parse_model_spec(str(gguf))
    assert spec.base_kind == "gguf"
    assert spec.backend == "llamacpp"
    assert spec.base == str(gguf.resolve())


def test_spec_is_frozen():
    with pytest.raises(FrozenInstanceError):
        parse_model_spec("smollm2-135m").base = "other"


# --------------------------------------------------------------------------------------------- base errors

def test_adapter_folder_as_base_is_refused(tmp_path):
    folder = make_adapter(tmp_path / "lora")
    with pytest.raises(ModelSpecError) as info:
        parse_model_spec(str(folder))
    message = str(info.value)
    assert "LoRA adapter, not a base model" in message
    assert "BASE+ADAPTER" in message
    assert f"smollm2-135m+{folder}" in message


SPEC_ERRORS = [
    ("empty", "", "no model given"),
    ("blank", "   ", "no model given"),
    ("None", None, "no model given"),
    ("plus only", "+", "malformed model spec '+'"),
    ("no base", "+x", "malformed model spec '+x': expected BASE or BASE+ADAPTER"),
    ("no adapter", "x+", "malformed model spec 'x+': expected BASE or BASE+ADAPTER"),
    ("blank adapter", "smollm2-135m+  ", "malformed model spec"),
    ("unknown alias", "llama-70b", "unknown model 'llama-70b'"),
    ("unknown alias lists known", "smollm2", "embedded alias (smollm2-135m, smollm2-135m-gguf, smollm2-135m-f32-gguf)"),
    ("three-part hub id", "a/b/c", "unknown model 'a/b/c'"),
    ("relative path look-alike", "./nothing", "unknown model './nothing'"),
    ("missing gguf", "missing-model.gguf", "GGUF file not found: 'missing-model.gguf'"),
    ("missing gguf, upper case", "/no/such/Model.GGUF", "GGUF file not found"),
    ("unknown base with adapter", "nosuch+org/adapter", "unknown model 'nosuch'"),
]


@pytest.mark.parametrize("text, message", [c[1:] for c in SPEC_ERRORS], ids=[c[0] for c in SPEC_ERRORS])
def test_spec_errors(text, message):
    with pytest.raises(ModelSpecError) as info:
        parse_model_spec(text)
    assert message in str(info.value)


def test_folder_without_config_is_refused(tmp_path):
    (tmp_path / "empty-folder").mkdir()
    with pytest.raises(ModelSpecError, match="has no config.json"):
        parse_model_spec(str(tmp_path / "empty-folder"))


def test_model_spec_error_is_user_facing():
    assert issubclass(ModelSpecError, UserFacingError)
    assert issubclass(SettingsError, UserFacingError)


# --------------------------------------------------------------------------------------------- adapters

def test_adapter_folder_for_the_same_model_by_hub_id(tmp_path):
    folder = make_adapter(tmp_path / "lora", base=HUB_ID)
    spec = parse_model_spec(f"smollm2-135m+{folder}")
    assert spec.base == "smollm2-135m"
    assert spec.base_kind == "embedded"
    assert spec.adapter == str(folder.resolve())
    assert spec.adapter_kind == "local"
    assert spec.text == f"smollm2-135m+{folder.resolve()}"
    assert spec.backend == "transformers"


@pytest.mark.parametrize("recorded", [
    "smollm2-135m", "smollm2-135m-gguf", HUB_ID, HUB_ID.lower(), HUB_ID + "/",
], ids=["alias", "gguf alias", "hub id", "hub id lower case", "hub id trailing slash"])
def test_adapter_recorded_under_any_name_of_the_same_base(tmp_path, recorded):
    folder = make_adapter(tmp_path / "lora", base=recorded)
    assert parse_model_spec(f"smollm2-135m+{folder}").adapter_kind == "local"


def test_adapter_recorded_as_the_converted_folder(tmp_path):
    # finetuning on the converted safetensors folder records that folder as the base
    folder = make_adapter(tmp_path / "lora", base=str(tmp_path / "cache" / "models" / "smollm2-135m"))
    assert parse_model_spec(f"smollm2-135m+{folder}").adapter_kind == "local"


def test_adapter_with_no_recorded_base_is_accepted(tmp_path):
    folder = make_adapter(tmp_path / "lora", base=None)
    assert recorded_adapter_base(folder) is None
    assert parse_model_spec(f"smollm2-135m+{folder}").adapter == str(folder.resolve())


def test_adapter_for_another_base_is_refused(tmp_path):
    folder = make_adapter(tmp_path / "lora", base="other/model")
    with pytest.raises(ModelSpecError) as info:
        parse_model_spec(f"smollm2-135m+{folder}")
    message = str(info.value)
    assert "made for base 'other/model'" in message
    assert "not 'smollm2-135m'" in message
    assert f"other/model+{folder}" in message


def test_adapter_on_its_recorded_hub_base(tmp_path):
    folder = make_adapter(tmp_path / "lora", base="other/model")
    spec = parse_model_spec(f"other/model+{folder}")
    assert (spec.base, spec.base_kind, spec.adapter_kind) == ("other/model", "hub", "local")


def test_adapter_on_a_local_base_folder(tmp_path):
    base = make_model_folder(tmp_path / "base-model")
    folder = make_adapter(tmp_path / "lora", base=str(base))
    spec = parse_model_spec(f"{base}+{folder}")
    assert spec.base_kind == "local" and spec.adapter_kind == "local"
    with pytest.raises(ModelSpecError, match="was made for base"):
        parse_model_spec(f"smollm2-135m+{folder}")


def test_adapter_by_name_under_the_adapters_folder(isolated_dirs):
    folder = make_adapter(isolated_dirs / "my-lora")
    spec = parse_model_spec("smollm2-135m+my-lora")
    assert spec.adapter == str(folder.resolve())
    assert spec.adapter_kind == "local"


def test_adapter_by_nested_name_under_the_adapters_folder(isolated_dirs):
    folder = make_adapter(isolated_dirs / "team" / "run1")
    assert parse_model_spec("smollm2-135m+team/run1").adapter == str(folder.resolve())


def test_adapter_name_not_found_names_the_adapters_folder(isolated_dirs):
    with pytest.raises(ModelSpecError) as info:
        parse_model_spec("smollm2-135m+no-such-lora")
    assert "adapter 'no-such-lora' not found" in str(info.value)
    assert str(isolated_dirs) in str(info.value)


def test_adapter_folder_without_adapter_config(tmp_path):
    (tmp_path / "not-lora").mkdir()
    with pytest.raises(ModelSpecError, match="has no adapter_config.json"):
        parse_model_spec(f"smollm2-135m+{tmp_path / 'not-lora'}")


def test_hub_adapter_on_transformers_base():
    spec = parse_model_spec("smollm2-135m+someone/smollm2-lora")
    assert (spec.adapter, spec.adapter_kind) == ("someone/smollm2-lora", "hub")
    assert spec.text == "smollm2-135m+someone/smollm2-lora"


def test_spaces_around_plus_are_ignored(tmp_path):
    folder = make_adapter(tmp_path / "lora")
    assert parse_model_spec(f" smollm2-135m + {folder} ").text == f"smollm2-135m+{folder.resolve()}"


def test_adapter_folder_with_plus_in_its_path(tmp_path):
    # The module docstring allows paths with '+'; an adapter folder whose path contains '+' must still resolve.
    folder = make_adapter(tmp_path / "lora+v2")
    spec = parse_model_spec(f"smollm2-135m+{folder}")
    assert spec.adapter == str(folder.resolve())


@pytest.mark.parametrize("base", ["smollm2-135m-gguf", "gguf-file"])
@pytest.mark.parametrize("adapter", ["peft-folder", "hub-id"])
def test_llamacpp_base_needs_a_gguf_lora(tmp_path, base, adapter):
    if base == "gguf-file":
        base = str(tmp_path / "base.gguf")
        (tmp_path / "base.gguf").write_bytes(b"GGUF")
    adapter = str(make_adapter(tmp_path / "lora")) if adapter == "peft-folder" else "someone/lora"
    with pytest.raises(ModelSpecError) as info:
        parse_model_spec(f"{base}+{adapter}")
    assert "needs its adapter as a GGUF LoRA file" in str(info.value)
    assert ("someone/lora is not in the local Hugging Face cache" if adapter.startswith("someone") else "smollm2-135m+ADAPTER") in str(info.value)  # hub: not cached, offline


def test_gguf_lora_on_a_llamacpp_base(tmp_path, isolated_dirs):
    lora = tmp_path / "lora.gguf"
    lora.write_bytes(b"GGUF")
    spec = parse_model_spec(f"smollm2-135m-gguf+{lora}")
    assert (spec.adapter, spec.adapter_kind, spec.backend) == (str(lora.resolve()), "gguf-lora", "llamacpp")
    (isolated_dirs / "named.gguf").write_bytes(b"GGUF")
    assert parse_model_spec("smollm2-135m-gguf+named.gguf").adapter == str((isolated_dirs / "named.gguf").resolve())


# --------------------------------------------------------------------------------------------- recorded base

def test_meta_json_base_takes_precedence_over_adapter_config(tmp_path):
    folder = make_adapter(tmp_path / "lora", base="other/model", meta_base="smollm2-135m")
    assert recorded_adapter_base(folder) == "smollm2-135m"
    assert parse_model_spec(f"smollm2-135m+{folder}").adapter_kind == "local"


def test_meta_json_base_refuses_what_adapter_config_would_accept(tmp_path):
    folder = make_adapter(tmp_path / "lora", base=HUB_ID, meta_base="other/model")
    with pytest.raises(ModelSpecError, match="made for base 'other/model'"):
        parse_model_spec(f"smollm2-135m+{folder}")


def test_meta_json_without_base_falls_back_to_adapter_config(tmp_path):
    folder = make_adapter(tmp_path / "lora", base="other/model")
    (folder / "meta.json").write_text(json.dumps({"epochs": 3}), encoding="utf-8")
    assert recorded_adapter_base(folder) == "other/model"


def test_base_identities_of_the_embedded_model():
    ids = base_identities(parse_model_spec("smollm2-135m"))
    assert {"smollm2-135m", "smollm2-135m-gguf", HUB_ID.lower()} <= ids
    assert base_identities(parse_model_spec("smollm2-135m-gguf")) == ids


# --------------------------------------------------------------------------------------------- listing adapters

def test_list_local_adapters(isolated_dirs):
    top = make_adapter(isolated_dirs / "a-top")
    nested = make_adapter(isolated_dirs / "team" / "run1")
    deep = make_adapter(isolated_dirs / "x" / "y" / "z")
    make_adapter(isolated_dirs / "1" / "2" / "3" / "too-deep")
    (isolated_dirs / "not-an-adapter").mkdir()
    assert list_local_adapters() == sorted([top, nested, deep])


def test_list_local_adapters_without_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LLM_JUDGE_ADAPTERS", str(tmp_path / "missing"))
    assert list_local_adapters() == []


def test_known_model_specs_without_adapters():
    # the embedded model on transformers, llama.cpp and llama.cpp in float32, then the shipped judges
    assert known_model_specs() == ["smollm2-135m", "smollm2-135m-gguf", "smollm2-135m-f32-gguf", "smollm2-135m-judge",
                                   "toxicity"]


def test_known_model_specs_include_local_adapters(isolated_dirs):
    make_adapter(isolated_dirs / "my-lora", base=HUB_ID)
    make_adapter(isolated_dirs / "team" / "meta-lora", base="other/model", meta_base="smollm2-135m")
    make_adapter(isolated_dirs / "bare-lora", base=None)
    specs = known_model_specs()
    assert specs[:2] == ["smollm2-135m", "smollm2-135m-gguf"]
    # Recorded under the embedded model's hub id: offered on the embedded alias, which loads offline.
    assert "smollm2-135m+my-lora" in specs
    assert "smollm2-135m+team/meta-lora" in specs
    assert "smollm2-135m+bare-lora" in specs  # nothing recorded: offered on the default model
    assert len(specs) == 6 + 2  # and the two shipped judges


def test_known_model_specs_parse(isolated_dirs):
    make_adapter(isolated_dirs / "my-lora", base=HUB_ID)
    make_adapter(isolated_dirs / "team" / "meta-lora", base="other/model", meta_base="smollm2-135m")
    for text in known_model_specs():
        assert parse_model_spec(text).base_kind in ("embedded", "embedded-gguf", "hub", "head")


# --------------------------------------------------------------------------------------------- settings

@pytest.mark.parametrize("name, temperature, min_p", [("p1", 0.5, 0.05), ("p2", 1.5, 0.1)])
def test_presets(name, temperature, min_p):
    settings = preset_settings(name)
    assert (settings.temperature, settings.min_p) == (temperature, min_p)
    assert settings == PRESETS[name]
    assert settings.top_p == 1.0
    assert not settings.greedy


def test_preset_overrides_apply_and_none_is_ignored():
    settings = preset_settings("p2", seed=7, max_new_tokens=64, temperature=None, min_p=None)
    assert (settings.temperature, settings.min_p, settings.seed, settings.max_new_tokens) == (1.5, 0.1, 7, 64)
    assert PRESETS["p2"].seed == 0  # the preset itself is unchanged


def test_preset_override_to_greedy():
    assert preset_settings("p1", temperature=0.0).greedy


def test_unknown_preset():
    with pytest.raises(SettingsError) as info:
        preset_settings("p3")
    assert "unknown preset 'p3'" in str(info.value)
    assert "p1, p2" in str(info.value)


def test_out_of_range_override_is_refused():
    with pytest.raises(SettingsError, match="temperature"):
        preset_settings("p1", temperature=9.0)


@pytest.mark.parametrize("field, value", [
    ("temperature", -0.1), ("temperature", 5.01),
    ("min_p", -0.01), ("min_p", 1.0),
    ("top_p", 0.0), ("top_p", 1.01),
    ("max_new_tokens", 0), ("max_new_tokens", 8193),
    ("seed", -1), ("seed", 2**64),
])
def test_out_of_range_settings(field, value):
    with pytest.raises(SettingsError) as info:
        SamplingSettings(**{field: value})
    assert field in str(info.value)
    assert str(value) in str(info.value)


@pytest.mark.parametrize("field, value", [
    ("temperature", 0.0), ("temperature", 5.0), ("min_p", 0.0), ("min_p", 0.99), ("top_p", 1.0), ("top_p", 0.01),
    ("max_new_tokens", 1), ("max_new_tokens", 8192), ("seed", 0), ("seed", 2**31), ("seed", 2**64 - 1),
])
def test_boundary_settings_are_accepted(field, value):
    assert getattr(SamplingSettings(**{field: value}), field) == value


@pytest.mark.parametrize("temperature, greedy", [(0.0, True), (0, True), (0.01, False), (0.5, False), (1.5, False)])
def test_greedy(temperature, greedy):
    assert SamplingSettings(temperature=temperature).greedy is greedy


def test_judge_settings_are_greedy():
    assert DEFAULT_JUDGE_SETTINGS.greedy
    assert DEFAULT_JUDGE_SETTINGS.max_new_tokens == 160


def test_with_validates_and_copies():
    base = SamplingSettings()
    changed = base.with_(seed=3)
    assert changed.seed == 3 and base.seed == 0
    with pytest.raises(SettingsError):
        base.with_(top_p=0)
    assert changed.to_dict()["seed"] == 3
