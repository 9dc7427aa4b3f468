"""The papermill engine grading runs with: papermill's nbclient engine plus an output cap.

A submission that prints without end must not fill the grader's memory or the
executed notebook. Each cell keeps at most ``max_output_bytes`` of output; the
rest is dropped with one visible note. Probe records are never dropped.
"""

from __future__ import annotations

import json

from nbformat.v4 import new_output
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.utils import merge_kwargs, remove_args
from traitlets import Int

from ..judge.kernel_side import MIME
from .instrument import TRUNCATED

ENGINE_NAME = "course"


class LimitedOutputClient(PapermillNotebookClient):
    """papermill's client that stops keeping a cell's output past a size limit."""

    max_output_bytes = Int(1_000_000, help="output kept per cell, in bytes").tag(config=True)

    def output(self, outs, msg, display_id, cell_index):
        used = getattr(self, "_course_used", {})
        self._course_used = used
        content = msg.get("content", {})
        if MIME not in content.get("data", {}):
            size = len(content.get("text", "")) + len(json.dumps(content.get("data", {}))) \
                + len("".join(content.get("traceback", [])))
            before = used.get(cell_index, 0)
            used[cell_index] = before + size
            if used[cell_index] > self.max_output_bytes:
                if before <= self.max_output_bytes:
                    outs.append(new_output("stream", name="stderr",
                                           text=f"{TRUNCATED} this cell printed more than "
                                                f"{self.max_output_bytes // 1000} kB]\n"))
                return None
        return super().output(outs, msg, display_id, cell_index)


class CourseEngine(NBClientEngine):
    """papermill's nbclient engine, running :class:`LimitedOutputClient`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                 start_timeout=60, execution_timeout=None, **kwargs):
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(safe_kwargs, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                                    startup_timeout=start_timeout, kernel_name=kernel_name, log_output=log_output,
                                    stdout_file=stdout_file, stderr_file=stderr_file)
        return LimitedOutputClient(nb_man, **final_kwargs).execute()


papermill_engines.register(ENGINE_NAME, CourseEngine)
