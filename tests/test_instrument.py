"""Preparing a submission: saved outputs and forged cells are dropped, locked cells restored, probes placed."""

import nbformat
from nbformat.v4 import new_code_cell, new_output

from course_lib.execute.instrument import ROLE, instrument, read_run, strip
from course_lib.judge.kernel_side import MIME
from course_lib.notebooks import grade_id

PROBES = [("make_grid_tests", "def p(s):\n    pass\n", "p"), ("invert_tests", "def q(s):\n    pass\n", "q")]


def cell_index(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if grade_id(c) == gid and ROLE not in c.metadata)


def test_probes_follow_their_grade_cells_and_setup_comes_first(tensors_spec):
    release = tensors_spec.release_nb()
    nb = instrument(release, release, PROBES, seed=3, device="cpu")
    assert nb.cells[0].metadata[ROLE]["role"] == "setup"
    assert "seed=3" in nb.cells[0].source and "device='cpu'" in nb.cells[0].source
    for gid, _, _ in PROBES:
        after = nb.cells[cell_index(nb, gid) + 1]
        assert after.metadata[ROLE] == {"role": "probe", "question": gid}


def test_outputs_dropped_locked_cells_restored_forgeries_removed(tensors_spec):
    release = tensors_spec.release_nb()
    student = nbformat.from_dict(nbformat.v4.upgrade(release) if False else release)
    student = nbformat.reads(nbformat.writes(release), as_version=4)
    tests = student.cells[cell_index(student, "make_grid_tests")]
    tests.source = "print('all tests pass')"  # a student "fixing" the visible tests
    tests.outputs = [new_output("stream", name="stdout", text="all tests pass")]
    forged = new_code_cell("__course_probe__ = None")
    forged.metadata[ROLE] = {"role": "probe", "question": "invert_tests"}
    student.cells.insert(3, forged)
    nb = instrument(student, release, PROBES, seed=0, device="cpu")
    restored = nb.cells[cell_index(nb, "make_grid_tests")]
    assert restored.source == release.cells[cell_index(release, "make_grid_tests")].source
    assert all(c.outputs == [] for c in nb.cells if c.cell_type == "code")
    assert "__course_probe__ = None" not in [c.source for c in nb.cells]


def test_deleted_test_cell_puts_probe_after_the_answer(tensors_spec):
    release = tensors_spec.release_nb()
    student = nbformat.reads(nbformat.writes(release), as_version=4)
    del student.cells[cell_index(student, "invert_tests")]
    nb = instrument(student, release, PROBES, seed=0, device="cpu")
    answer = cell_index(nb, "invert")
    assert nb.cells[answer + 1].metadata[ROLE]["question"] == "invert_tests"


def test_read_run_trusts_only_probe_cells_and_strip_removes_them(tensors_spec):
    release = tensors_spec.release_nb()
    nb = instrument(release, release, PROBES, seed=0, device="cpu")
    fake = {"question": "invert_tests", "values": {"inverted": {"kind": "none"}}, "error": None}
    student_cell = nb.cells[cell_index(nb, "invert")]
    student_cell.outputs = [new_output("display_data", data={MIME: fake}),
                            new_output("error", ename="ValueError", evalue="boom", traceback=[])]
    probe = nb.cells[cell_index(nb, "make_grid_tests") + 1]
    real = {"question": "make_grid_tests", "values": {}, "error": None}
    probe.outputs = [new_output("display_data", data={MIME: real})]
    probes, errors, _ = read_run(nb)
    assert set(probes) == {"make_grid_tests"}
    assert [(e.ename, e.evalue) for e in errors] == [("ValueError", "boom")]
    assert errors[0].cell_index == cell_index(release, "invert")  # numbered as in the student's notebook
    stripped = strip(nb)
    assert len(stripped.cells) == len(release.cells)
    assert not any(ROLE in c.metadata for c in stripped.cells)


def test_probes_keep_the_release_order_when_a_test_cell_is_moved_below_a_later_one(tensors_spec):
    release = tensors_spec.release_nb()
    student = nbformat.reads(nbformat.writes(release), as_version=4)
    student.cells.append(student.cells.pop(cell_index(student, "make_grid_tests")))
    nb = instrument(student, release, PROBES, seed=0, device="cpu")
    probes = [(i, c.metadata[ROLE]["question"]) for i, c in enumerate(nb.cells)
              if c.metadata.get(ROLE, {}).get("role") == "probe"]
    assert [question for _, question in probes] == ["make_grid_tests", "invert_tests"]
    assert cell_index(nb, "invert_tests") < cell_index(nb, "make_grid_tests") < probes[0][0]
