"""The models package's errors for the person using the app or the CLI: each message names the problem and the fix."""
from basics import UserFacingError

__all__ = ["UserFacingError", "ModelSpecError", "ModelLoadError", "SettingsError"]


class ModelSpecError(UserFacingError):
    """A model spec string cannot be resolved to a model (unknown alias, missing file, wrong adapter)."""


class ModelLoadError(UserFacingError):
    """A model was found but could not be loaded (offline hub id, missing optional backend, bad weights)."""


class SettingsError(UserFacingError):
    """Sampling settings out of range."""
