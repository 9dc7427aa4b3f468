"""LimitedOutputClient's emulation of nbgrader's autograde outputs, message by message (no kernel).

nbgrader grades a test cell from ``cell.outputs`` after ``Execute`` (nbclient), ``IgnorePattern`` and
``LimitOutput``: what an output hook (an ``ipywidgets.Output``) captures is never in ``cell.outputs``, so it
neither counts toward ``max_lines`` nor costs the cell as stderr; and a stderr the student's code writes after a
``clear_output()`` is in the cell's outputs whatever the cell printed before the clear.
"""

from __future__ import annotations

from nbformat.v4 import new_code_cell, new_notebook

from course_lib.execute.engine import LimitedOutputClient
from course_lib.execute.instrument import ROLE


class _Manager:
    def __init__(self, nb):
        self.nb = nb


class _Hook:
    def __init__(self):
        self.seen = []

    def output(self, outs, msg, display_id, cell_index):
        self.seen.append(msg["content"]["text"])

    def clear_output(self, outs, msg, cell_index):
        self.seen.clear()


def _client(**settings) -> LimitedOutputClient:
    nb = new_notebook(cells=[new_code_cell("check()")])
    nb.cells[0].metadata[ROLE] = {"role": "test", "question": "q"}
    client = LimitedOutputClient(_Manager(nb), **settings)
    client.reset_execution_trackers()
    client.clear_before_next_output = False
    return client


def _stream(name: str, text: str) -> dict:
    return {"msg_type": "stream", "header": {"msg_type": "stream"}, "parent_header": {"msg_id": "cell"},
            "content": {"name": name, "text": text}}


def _clear(wait: bool = False) -> dict:
    return {"msg_type": "clear_output", "header": {"msg_type": "clear_output"},
            "parent_header": {"msg_id": "cell"}, "content": {"wait": wait}}


def _stderr(outs) -> list[str]:
    return [o["text"] for o in outs if o.get("output_type") == "stream" and o.get("name") == "stderr"]


def test_stderr_after_a_clear_counts_after_a_flood_too():
    """flood past the byte cap, stderr, clear_output(), stderr: nbgrader's cell shows the second stderr (0 points)."""
    client, outs = _client(max_output_bytes=1000), []
    client.output(outs, _stream("stdout", "x" * 2000), None, 0)
    client.output(outs, _stream("stderr", "first\n"), None, 0)
    client.clear_output(outs, _clear(), 0)
    client.output(outs, _stream("stderr", "second\n"), None, 0)
    assert _stderr(outs) == ["second\n"]


def test_lines_an_output_widget_captures_do_not_count_toward_max_lines():
    """nbgrader's LimitOutput counts cell.outputs only; an Output widget's lines are not there."""
    client, outs, hook = _client(limit_lines=3), [], _Hook()
    client.output_hook_stack["cell"].append(hook)
    client.output(outs, _stream("stdout", "a\nb\nc\nd\n"), None, 0)
    client.output_hook_stack["cell"].pop()
    client.output(outs, _stream("stderr", "warning\n"), None, 0)
    assert hook.seen == ["a\nb\nc\nd\n"]
    assert _stderr(outs) == ["warning\n"]


def test_stderr_an_output_widget_captures_past_the_byte_cap_is_not_the_cells():
    client, outs, hook = _client(max_output_bytes=1000), [], _Hook()
    client.output(outs, _stream("stdout", "x" * 2000), None, 0)
    client.output_hook_stack["cell"].append(hook)
    client.output(outs, _stream("stderr", "captured\n"), None, 0)
    client.output_hook_stack["cell"].pop()
    assert _stderr(outs) == []
