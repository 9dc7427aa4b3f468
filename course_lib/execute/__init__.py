"""Running submissions: preparing notebooks, kernels, papermill, runners."""

__all__ = ["Job", "make_job", "resolve_device", "run_job"]

_HOME = {"Job": "run", "run_job": "run", "make_job": "jobs", "resolve_device": "jobs"}


def __getattr__(name: str):
    """The re-exports, imported when first used: a command that only starts a sandbox imports no papermill."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(f".{_HOME[name]}", __name__), name)
