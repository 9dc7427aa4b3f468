"""Running submissions: preparing notebooks, kernels, papermill, runners."""

from .jobs import make_job, resolve_device
from .run import Job, run_job

__all__ = ["Job", "make_job", "resolve_device", "run_job"]
