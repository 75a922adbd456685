"""Loading and generation backends behind one interface (`Backend`) and one registry (`load_model`)."""
from models.backend import Backend, Capabilities, Generation
from models.embedded import DEFAULT_MODEL, EMBEDDED_MODELS
from models.errors import ModelLoadError, ModelSpecError, SettingsError, UserFacingError
from models.registry import BACKENDS, load_model, loaded_models, unload_all
from models.settings import DEFAULT_JUDGE_SETTINGS, DEFAULT_PRESET, PRESETS, SamplingSettings, preset_settings
from models.spec import ModelSpec, known_model_specs, list_local_adapters, parse_model_spec

__all__ = [
    "Backend", "Capabilities", "Generation", "DEFAULT_MODEL", "EMBEDDED_MODELS", "ModelLoadError", "ModelSpecError",
    "SettingsError", "UserFacingError", "BACKENDS", "load_model", "loaded_models", "unload_all",
    "DEFAULT_JUDGE_SETTINGS", "DEFAULT_PRESET", "PRESETS", "SamplingSettings", "preset_settings", "ModelSpec",
    "known_model_specs", "list_local_adapters", "parse_model_spec",
]
