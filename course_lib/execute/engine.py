"""The papermill engine grading runs with: papermill's nbclient engine plus an output cap.

A submission that prints without end must not fill the grader's memory or the
executed notebook. Each cell keeps at most ``max_output_bytes`` of output; the
rest is dropped with one visible note. Probe records are never dropped, and no
``clear_output`` of the notebook's code removes them or is carried out by them.

The streams of an nbgrader-format test cell are kept as nbgrader's autograde
leaves them for its grading rule: ``c.LimitOutput.max_lines`` lines of stream
output per cell, later streams dropped (stderr that ``c.IgnorePattern`` removes
not counted), and the first stderr past the byte cap kept in short, since the
rule reads it.
"""

from __future__ import annotations

import json
import re
import time
from queue import Empty

import zmq.asyncio
from jupyter_client.asynchronous import AsyncKernelClient
from nbformat.v4 import new_output
from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.utils import merge_kwargs, remove_args
from traitlets import Int, Unicode

from ..judge.kernel_side import MIME
from .instrument import ROLE, TRUNCATED

ENGINE_NAME = "course"


class LimitedOutputClient(PapermillNotebookClient):
    """papermill's client that stops keeping a cell's output past a size limit."""

    max_output_bytes = Int(1_000_000, help="output kept per cell, in bytes").tag(config=True)
    ignore_pattern = Unicode("", help="nbgrader's c.IgnorePattern.pattern: stderr of test cells that does not "
                                      "count").tag(config=True)
    limit_lines = Int(1000, help="nbgrader's c.LimitOutput.max_lines: stream lines a test cell keeps "
                                 "(-1: all)").tag(config=True)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if MIME in content.get("data", {}):
            # a grading record is none of the notebook's output: a clear_output(wait=True) the notebook's code
            # asked for waits for the notebook's next output, as it does under nbgrader
            pending, self.clear_before_next_output = self.clear_before_next_output, False
            try:
                return super().output(outs, msg, display_id, cell_index)
            finally:
                self.clear_before_next_output = pending
        hooked = bool(self.output_hook_stack[msg.get("parent_header", {}).get("msg_id")])
        if self.clear_before_next_output and not hooked:
            self.clear_before_next_output = False
            self._clear(outs, cell_index)
        stderr = False
        # what an output hook (an Output widget) captures is not in the cell's outputs nbgrader grades
        if msg.get("msg_type") == "stream" and not hooked and self._is_test(cell_index):
            dropped, stderr = self._nbgrader_limits(content, cell_index)
            if dropped:
                return None
        used = getattr(self, "_course_used", {})
        self._course_used = used
        size = len(content.get("text", "")) + len(json.dumps(content.get("data", {}))) \
            + len("".join(content.get("traceback", [])))
        before = used.get(cell_index, 0)
        used[cell_index] = before + size
        if used[cell_index] > self.max_output_bytes:
            if before <= self.max_output_bytes:
                # on stdout: a note of the grader's must never count as the cell writing to stderr
                outs.append(new_output("stream", name="stdout",
                                       text=f"{TRUNCATED} this cell printed more than "
                                            f"{self.max_output_bytes // 1000} kB]\n"))
            late = getattr(self, "_course_late_stderr", set())
            self._course_late_stderr = late
            if stderr and cell_index not in late:  # nbgrader's rule reads it: a flood before it hides nothing
                late.add(cell_index)
                outs.append(new_output("stream", name="stderr", text=str(content.get("text", ""))[:200]))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def clear_output(self, outs, msg, cell_index):
        hooked = bool(self.output_hook_stack[msg.get("parent_header", {}).get("msg_id")])
        if hooked or msg.get("content", {}).get("wait"):
            return super().clear_output(outs, msg, cell_index)
        self._clear(outs, cell_index)
        return None

    def _clear(self, outs, cell_index) -> None:
        """nbclient's clear of a cell's output, keeping its grading records."""
        outs[:] = [o for o in outs if MIME in o.get("data", {})]
        self.clear_display_id_mapping(cell_index)
        getattr(self, "_course_lines", {}).pop(cell_index, None)
        getattr(self, "_course_late_stderr", set()).discard(cell_index)  # a stderr after the clear counts again

    def _is_test(self, cell_index) -> bool:
        cells = self.nb.cells
        return 0 <= cell_index < len(cells) and cells[cell_index].metadata.get(ROLE, {}).get("role") == "test"

    def _nbgrader_limits(self, content, cell_index) -> tuple[bool, bool]:
        """``(dropped, stderr)`` for a stream of a test cell: whether nbgrader's LimitOutput drops it, and
        whether it is stderr that nbgrader's rule counts (not removed by its IgnorePattern first)."""
        text = str(content.get("text", ""))
        if content.get("name") == "stderr" and self.ignore_pattern and re.search(self.ignore_pattern, text):
            return False, False
        stderr = content.get("name") == "stderr"
        if self.limit_lines < 0:
            return False, stderr
        lines = getattr(self, "_course_lines", {})
        self._course_lines = lines
        counted = lines.get(cell_index, 0)
        if counted >= self.limit_lines:
            return True, False
        # LimitOutput counts the pieces of each output's text split at newlines, cutting the one that crosses
        lines[cell_index] = min(counted + len(text.split("\n")), self.limit_lines)
        return False, stderr

    async def _check_raise_for_error(self, cell, cell_index, exec_reply):
        """A cell whose execute reply says error shows that error, as nbgrader's executor makes it do.

        A student who disables IPython's traceback display (``showtraceback``, ``set_custom_exc``) leaves a
        failing cell with no error output; the reply still says what was raised.
        """
        content = (exec_reply or {}).get("content", {})
        if content.get("status") == "error" and not any(
                o.get("output_type") == "error" and o.get("ename") == content.get("ename") for o in cell.outputs):
            cell.outputs.append(new_output("error", ename=str(content.get("ename", "")),
                                           evalue=str(content.get("evalue", "")),
                                           traceback=list(content.get("traceback") or [])
                                           or ["ERROR: an error occurred while showing tracebacks was disabled"]))
        return await super()._check_raise_for_error(cell, cell_index, exec_reply)


class CourseEngine(NBClientEngine):
    """papermill's nbclient engine, running :class:`LimitedOutputClient`."""

    @classmethod
    def execute_managed_notebook(cls, nb_man, kernel_name, log_output=False, stdout_file=None, stderr_file=None,
                                 start_timeout=60, execution_timeout=None, **kwargs):
        run = kwargs.pop("course_run", None)
        if run is not None:  # the notebook as far as it ran, for the caller, even when execution raises
            run["notebook"] = nb_man.nb
        kwargs = remove_args(["input_path"], **kwargs)
        safe_kwargs = remove_args(["timeout", "startup_timeout"], **kwargs)
        final_kwargs = merge_kwargs(safe_kwargs, timeout=execution_timeout if execution_timeout else kwargs.get("timeout"),
                                    startup_timeout=start_timeout, kernel_name=kernel_name, log_output=log_output,
                                    stdout_file=stdout_file, stderr_file=stderr_file)
        # The kernel manager is the caller's, so nbclient would leave its client's sockets (and their zmq
        # threads) open after the run: clean the client up here, ending the kernel at once.
        final_kwargs.setdefault("shutdown_kernel", "immediate")
        return LimitedOutputClient(nb_man, **final_kwargs).execute(cleanup_kc=True)


papermill_engines.register(ENGINE_NAME, CourseEngine)


def _read_dates_quickly() -> None:
    """Read the date in each message's header with the standard library's ISO 8601 parser.

    jupyter_client turns the ``date`` of every message's header and parent header into a datetime with
    dateutil's general parser: about 65 microseconds a header, two per message, some 60 messages a
    notebook (8 ms of the grader's CPU per submission). These dates are ISO 8601 as the kernel writes
    them, which ``datetime.fromisoformat`` reads to the same datetime in well under a microsecond; any
    string it does not read still goes to dateutil.
    """
    from datetime import datetime

    from jupyter_client import jsonutil

    general = getattr(jsonutil, "_dateutil_parse", None)
    if general is None or getattr(general, "course_iso", False):
        return

    def parse(text):
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return general(text)

    parse.course_iso = True
    jsonutil._dateutil_parse = parse


_read_dates_quickly()


def execute_notebook(source: str, *, input_path: str, output_path: str, parameters: dict, kernel_name: str,
                     language: str, precompiled: str | None = None, **engine_kwargs):
    """Run the notebook ``source`` (JSON text) as ``papermill.execute_notebook`` would, in memory.

    The same steps as papermill's: read the notebook (with papermill's metadata and tags), inject the
    parameters, record the paths in its metadata, drop old error markers, run it with this engine. What
    papermill adds after the run is left out because nothing here reads it: it serialises the notebook
    twice (once more with an error banner when a cell raised) and writes it to ``output_path``; the
    caller takes the executed notebook from ``course_run`` instead, and a cell's error from its outputs.
    Nothing is read from ``input_path`` or written to ``output_path``.

    ``precompiled``: the digest of the grading set-up's module the kernel was forked with, compiled
    (:func:`~course_lib.execute.instrument.precompiled_setup`); the set-up cell of that same module then takes it.
    """
    import nbformat
    from papermill import __version__
    from papermill.execute import prepare_notebook_metadata, remove_error_markers
    from papermill.parameterize import parameterize_notebook

    # papermill's load_notebook_node, from the text
    nb = nbformat.reads(source, as_version=4)
    nb = nbformat.v4.upgrade(nb) or nb
    if not hasattr(nb.metadata, "papermill"):
        nb.metadata["papermill"] = {"default_parameters": dict(), "parameters": dict(),
                                    "environment_variables": dict(), "version": __version__}
    if precompiled:
        from .instrument import ROLE, precompiled_setup

        for cell in nb.cells:
            role = cell.metadata.get(ROLE, {})
            if role.get("role") == "setup" and role.get("digest") == precompiled:
                cell.source = precompiled_setup(cell.source, precompiled)
    for cell in nb.cells:
        if not hasattr(cell.metadata, "tags"):
            cell.metadata["tags"] = []
        if not hasattr(cell.metadata, "papermill"):
            cell.metadata["papermill"] = dict()
    if parameters:
        nb = parameterize_notebook(nb, parameters, False, kernel_name=kernel_name, language=language,
                                   engine_name=ENGINE_NAME)
    nb = prepare_notebook_metadata(nb, input_path, output_path, False)
    nb = remove_error_markers(nb)
    kernel_name = papermill_engines.nb_kernel_name(engine_name=ENGINE_NAME, nb=nb, name=kernel_name)
    return papermill_engines.execute_notebook_with_engine(ENGINE_NAME, nb, input_path=input_path, output_path=None,
                                                          kernel_name=kernel_name, **engine_kwargs)


RECONNECT_MS = 10  # how soon a client retries a kernel socket that is not bound yet (ZeroMQ's default: 100 ms)


def kernel_context() -> zmq.asyncio.Context:
    """The ZeroMQ context every kernel manager and client of this process shares.

    Left to themselves, jupyter_client's manager and client each make a context (with its I/O thread) per
    kernel and destroy it afterwards, lingering up to 0.1 s: 35-50 ms of every short grading run.

    The client connects as soon as the kernel is started, before the kernel has bound its sockets; ZeroMQ
    then retries each connection after its reconnect interval. At ZeroMQ's default (100 ms, for each of the
    client's sockets) a kernel that is up in 0.06 s was first answered after 0.2-0.27 s; at 10 ms, 0.08 s.
    """
    context = zmq.asyncio.Context.instance()
    context.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)  # the default for sockets made from now on
    return context


class QuickStartClient(AsyncKernelClient):
    """jupyter_client's asynchronous client, ready as soon as the kernel is.

    jupyter_client's ``wait_for_ready`` always waits out two fixed 0.2 s pauses
    (one to see that IOPub is connected, one to flush it): nearly half a second
    of every short grading run. Here the kernel is ready when the idle status of
    a ``kernel_info`` request arrives on IOPub, which proves IOPub connected and
    leaves nothing of the start-up queued.
    """

    def _context_default(self) -> zmq.asyncio.Context:
        # the manager's (shared) context, not one of its own per kernel
        parent_context = getattr(self.parent, "context", None)
        return parent_context if isinstance(parent_context, zmq.asyncio.Context) else super()._context_default()

    async def wait_for_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout if timeout is not None else 60)
        while True:
            self.kernel_info()
            try:
                reply = await self.shell_channel.get_msg(timeout=1)
            except Empty:
                reply = None
            if reply is not None and reply["msg_type"] == "kernel_info_reply":
                self._handle_kernel_info_reply(reply)
                if await self._idle_seen(reply["parent_header"].get("msg_id")):
                    return
            if not await self._async_is_alive():
                raise RuntimeError("Kernel died before replying to kernel_info")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

    async def _idle_seen(self, msg_id) -> bool:
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            try:
                msg = await self.iopub_channel.get_msg(timeout=0.05)
            except Empty:
                return False  # IOPub not connected yet (or the status was missed): ask again
            if (msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle"
                    and msg["parent_header"].get("msg_id") == msg_id):
                return True
        return False


QUICK_START_CLIENT = f"{__name__}.QuickStartClient"
