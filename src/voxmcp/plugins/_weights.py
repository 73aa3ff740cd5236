"""The one way a plugin finds its weights: verified (and assembled once if needed), or a clear error."""

from __future__ import annotations

from pathlib import Path

from voxmcp.models import weights


class ModelUnavailable(RuntimeError):
    """A plugin's model files are not installed, not assembled, or corrupt; the message names the fix."""


def verified_model(model_id: str, what: str) -> Path:
    """The verified path of `model_id` (assembled into the cache on first use), or ModelUnavailable."""
    try:
        return weights.resolve(model_id, progress=False)
    except weights.ModelError as e:
        raise ModelUnavailable(f"The {what} model {model_id!r} is not available: {e}") from None
