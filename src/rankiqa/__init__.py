"""rankiqa: no-reference image quality assessment that learns from rankings (RankIQA)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rankiqa.core.version import __version__

__all__ = ["__version__", "get_model_weights", "list_models", "load_model", "score"]
_API = ("get_model_weights", "list_models", "load_model", "score")

if TYPE_CHECKING:  # pragma: no cover
    from rankiqa.inference import get_model_weights, list_models, load_model, score


def __getattr__(name: str) -> Any:
    # Lazy: `import rankiqa` stays cheap (no torch import) for the CLI's --help.
    if name in _API:
        from rankiqa import inference

        return getattr(inference, name)
    raise AttributeError(f"module 'rankiqa' has no attribute {name!r}")
