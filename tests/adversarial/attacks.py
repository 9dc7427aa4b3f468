"""One submission per attack on the grader, each with the outcome it must get.

Every attack starts from a known submission of 01-tensors (the solution, the blank
release, or a misconception) and adds the attack: an extra cell placed after a
given cell, or an edit of the notebook's structure. ``score`` is what it must
score out of 20 (exactly what its honest part earns), ``status`` how the run must
end, and ``notes`` fragments the student's feedback must contain.
Points per question: make_grid 2, shape_rank_size 2, crop_center 3,
normalize_channels 3, channel_means 4, invert 3, numpy_interop 3.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Callable

from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from course_lib.judge.kernel_side import MIME
from course_lib.notebooks import grade_id, is_grade, is_solution


@dataclass(frozen=True)
class Attack:
    name: str
    base: str  # the variant it starts from
    score: float
    after: str = ""  # grade id of the cell the attack cell follows
    code: str = ""
    edit: Callable | None = None
    status: str = "completed"
    notes: tuple = ()
    at_least: float | None = None  # when the attack may also break the student's own later cells


def test_cells(nb):
    return [c for c in nb.cells if is_grade(c) and not is_solution(c)]


def forge_saved_outputs(nb):
    for cell in test_cells(nb):
        fake = {"question": grade_id(cell), "values": {}, "error": None}
        cell.outputs = [new_output("stream", name="stdout", text="all visible tests pass\n"),
                        new_output("display_data", data={MIME: fake})]
        cell.execution_count = 1


def edit_tests(nb):
    for cell in test_cells(nb):
        cell.source = "print('all visible tests pass')"


def delete_tests(nb):
    nb.cells = [c for c in nb.cells if c not in test_cells(nb)]


def duplicate_tests(nb):
    out = []
    for cell in nb.cells:
        out.append(cell)
        if cell in test_cells(nb):
            out.append(copy.deepcopy(cell))
    nb.cells = out


def retype_tests(nb):
    for i, cell in enumerate(nb.cells):
        if cell in test_cells(nb):
            md = new_markdown_cell(cell.source)
            md.metadata = cell.metadata
            nb.cells[i] = md


def change_kernelspec(nb):
    nb.metadata["kernelspec"] = {"name": "evil-kernel", "display_name": "Evil", "language": "python"}
    nb.metadata["language_info"] = {"name": "brainfuck"}


PATCH_COMPARISONS = """
import numpy as np, torch
torch.equal = lambda *a, **k: True
torch.allclose = lambda *a, **k: True
np.allclose = lambda *a, **k: True
np.array_equal = lambda *a, **k: True
torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)
"""

ALWAYS_EQUAL = """
class Anything(float):
    def __eq__(self, other):
        return True
    __hash__ = float.__hash__

def invert(images):
    return Anything(1.0)
"""

FORGE_AT_RUNTIME = """
import IPython
from IPython.display import display
questions = ["make_grid_tests", "shape_rank_size_tests", "crop_center_tests", "normalize_channels_tests",
             "channel_means_tests", "invert_tests", "numpy_interop_tests"]
for q in questions:
    display({"%s": {"question": q, "values": {}, "error": None}}, raw=True)
_real = get_ipython().display_pub.publish
def _forge(data, metadata=None, **kw):
    for q in questions:
        _real(data={"%s": {"question": q, "values": {}, "error": None}}, metadata={})
    return _real(data=data, metadata=metadata or {}, **kw)
get_ipython().display_pub.publish = _forge
IPython.display.display = lambda *a, **k: _forge({})
""" % (MIME, MIME)

SNOOP = """
import glob, os
print(sorted(os.environ))
for path in ["{course}/graders/01-tensors/tensors.py", "{course}/gradebook.db", "{course}/source/01-tensors/tensors.ipynb"]:
    try:
        print(open(path, "rb").read()[:10])
    except OSError as e:
        print("cannot read", path, type(e).__name__)
    try:
        open(path, "ab").write(b"tampered")
    except OSError as e:
        print("cannot write", path, type(e).__name__)
print("found", [p for p in ["{course}/graders", "{course}/submitted", "{course}/autograded", "{course}/gradebook.db"]
                + glob.glob("{course}/*") if os.path.exists(p)])
try:
    os.listdir("/proc/1/root")
except OSError as e:
    print("no host root", type(e).__name__)
open("/tmp/left-behind.txt", "w").write("x")
"""

FORK_BOMB = """
import os, time
children = 0
try:
    while True:
        if os.fork() == 0:
            while True:
                time.sleep(1)
        children += 1
except OSError as e:
    print("fork refused after", children, type(e).__name__)
"""

KILL_GRADER = """
import os, signal
for target in (os.getppid(), 1):
    try:
        os.kill(target, signal.SIGKILL)
    except OSError as e:
        print("refused", target, type(e).__name__)
os.killpg(0, signal.SIGKILL)
"""

MEMORY_HOG = """
blocks = []
while True:
    blocks.append(bytearray(128 * 1024 ** 2))
"""

PRINT_FLOOD = """
print("x" * 3_000_000)
for i in range(300_000):
    print("flood", i)
"""

HUGE_FILE = """
with open("big.bin", "wb") as f:
    chunk = b"0" * (16 * 1024 ** 2)
    for _ in range(64):
        f.write(chunk)
"""

IGNORE_INTERRUPTS = """
import signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
while True:
    pass
"""

ATTACKS = [
    Attack("redefines_comparisons", "invert_in_place", 19, after="imports", code=PATCH_COMPARISONS),
    # invert's values (2) and, with no right result, its "leaves the input unchanged" property (1)
    Attack("returns_always_equal_object", "solution", 17, after="invert", code=ALWAYS_EQUAL),
    Attack("forged_saved_outputs", "blank", 0, edit=forge_saved_outputs),
    Attack("forges_records_at_run_time", "blank", 0, after="imports", code=FORGE_AT_RUNTIME),
    Attack("edited_test_cells", "blank", 0, edit=edit_tests),
    Attack("deleted_test_cells", "blank", 0, edit=delete_tests),
    Attack("duplicated_test_cells", "solution", 20, edit=duplicate_tests),
    Attack("retyped_test_cells", "blank", 0, edit=retype_tests),
    Attack("changed_kernelspec", "solution", 20, edit=change_kernelspec),
    Attack("snoops_and_tampers", "solution", 20, after="imports", code=SNOOP),
    Attack("warns_on_stderr", "solution", 20, after="make_grid",
           code="import sys, warnings\nwarnings.warn('this API is deprecated')\nprint('noise', file=sys.stderr)"),
    Attack("sys_exit", "solution", 20, after="crop_center_tests", code="import sys\nsys.exit(3)"),
    Attack("os_exit", "solution", 7, after="crop_center_tests", code="import os\nos._exit(0)",
           status="kernel-died", notes=("kernel died",)),
    Attack("segfault", "solution", 4, after="shape_rank_size_tests", code="import ctypes\nctypes.string_at(0)",
           status="kernel-died", notes=("kernel died",)),
    Attack("allocates_without_end", "solution", 20, after="normalize_channels_tests", code=MEMORY_HOG,
           notes=("memory limit",)),
    Attack("kills_the_grader", "solution", 14, after="channel_means_tests", code=KILL_GRADER,
           status="kernel-died", notes=("kernel died",)),
    # kill(-1) reaches every process the sender may signal but itself: in the sandbox there are none (a
    # plainly started kernel: "No such process"), or only its warm sandbox's forking process, which runs as
    # another uid ("Operation not permitted"); either way the call fails and nothing else is hit
    Attack("signals_every_process", "solution", 20, after="invert_tests",
           code="import os, signal\nos.kill(-1, signal.SIGKILL)"),
    # the bomb's children keep the process cap full, so the student's own later cells may fail too (a kernel
    # forked from a warm sandbox has its threads already and usually goes on; tests/test_pool.py checks its cap)
    Attack("forks_without_end", "solution", 20, after="make_grid_tests", code=FORK_BOMB, at_least=2),
    Attack("prints_without_end", "solution", 20, after="make_grid_tests", code=PRINT_FLOOD,
           notes=("output limit",)),
    Attack("writes_a_huge_file", "solution", 20, after="crop_center_tests", code=HUGE_FILE),
    Attack("ignores_interrupts", "solution", 14, after="channel_means_tests", code=IGNORE_INTERRUPTS,
           status="timeout", notes=("stopped responding",)),
]


def build_attack(spec, variants, attack: Attack, course: str):
    from course_lib.synth import build

    nb = build(spec, variants[attack.base])
    if attack.code:
        index = next(i for i, c in enumerate(nb.cells) if grade_id(c) == attack.after)
        nb.cells.insert(index + 1, new_code_cell(attack.code.replace("{course}", course)))
    if attack.edit:
        attack.edit(nb)
    return nb
