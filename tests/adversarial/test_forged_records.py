"""Probe and test records forged from the notebook's own code count as no record.

Every record the kernel-side runner publishes carries an HMAC under a key the grader makes for the run;
the key reaches the kernel only through the set-up cell, is held in a closure of the signing function (no
attribute of the runner) and is wiped from what keeps that cell's text. The grader believes a record only
with its valid signature, made by a runner whose own code was not replaced while it ran, for the code the
grader sent. Each attack below is graded next to the same wrong answers without it and must earn nothing
more (and the question it forges is lost).
"""

from pathlib import Path

import pytest

from conftest import copy_course

pytestmark = pytest.mark.slow

MIME = "application/vnd.course.probe+json"

# -- 06-autograd (nbgrader's format): the test cells' runner replaced -----------------------------------------
FORGE_TEST_REPORTS = '''_MIME = "application/vnd.course.probe+json"
_real = __course_probe__
_pub = get_ipython().display_pub.publish
class _Forger:
    def test(self, question, code, plan):
        one = {"kind": "scalar", "type": "int", "value": 1}
        lifted = [{"index": i, "form": "==", "negate": False, "ok": True, "condition": False,
                   "args": [one, one], "kwargs": {}, "trusted": [True, True]} for i in range(1, 60)]
        _pub(data={_MIME: {"question": question, "kind": "test", "lifted": lifted, "error": None,
                           "value": None, "text": None, "value_sent": False, "done": True}}, metadata={})
    def __getattr__(self, name):
        return getattr(_real, name)
__course_probe__ = _Forger()

'''
# the real runner, made to run other code than the grader sent: an assertion that always holds per index
RUN_OTHER_TEST_CODE = '''_real = __course_probe__
class _Swap:
    def test(self, question, code, plan):
        fake = "\\n".join(f"__course_assert__({i}, '==', (1, 1))" for i in range(1, 60))
        return _real.test(question, fake, {**plan, "protect": {}, "value": False})
    def __getattr__(self, name):
        return getattr(_real, name)
__course_probe__ = _Swap()

'''
WRONG_06 = {"leaky_relu": "def leaky_relu(x, slope=0.01):\n    return x * 0\n",
            "log_softmax": "def log_softmax(logits):\n    return logits * 0\n",
            "mse_and_grad": "def mse_and_grad(w, x, y):\n    return torch.tensor(0.0), torch.zeros_like(w)\n",
            "fit_line": "def fit_line(x, y, steps=500, lr=0.1):\n    return 0.0, 0.0\n"}

# -- 05-gpu-classifier (grader module): the probe records bent ----------------------------------------------
BAD_EVALUATE = ("def evaluate(model, x, y):\n"
                "    predictions = model(x).argmax(dim=1)\n"
                "    return (predictions == y).float().mean().item()\n")
_TRUE_BOOLS = '''def _all_true(rec):
    for value in rec.get("values", {}).values():
        if isinstance(value, dict) and value.get("kind") == "scalar" and value.get("type") == "bool":
            value["value"] = True
    return rec
'''
FORGE_05 = {
    # the runner's publishing function patched (on the runner, else on its class)
    "publish_patched": _TRUE_BOOLS + '''_pub = get_ipython().display_pub.publish
def _publish(data, metadata=None, **kw):
    rec = data.get("application/vnd.course.probe+json")
    return _pub(data={"application/vnd.course.probe+json": _all_true(rec)} if isinstance(rec, dict) else data,
                metadata=metadata or {})
try:
    __course_probe__._publish = _publish
except AttributeError:
    type(__course_probe__)._publish = staticmethod(_publish)
''',
    # the kernel-side module's own encode replaced through the runner's globals: every bool comes out True
    "encode_replaced": '''_g = type(__course_probe__).run.__globals__
_enc = _g["encode"]
def _encode(obj, depth=0):
    if type(obj) is bool:
        obj = True
    return _enc(obj, depth)
_g["encode"] = _encode
class _Keep:
    def __init__(self, real):
        self.real = real
    def run(self, question, source, name):
        _g["encode"] = _encode  # put back the forgery the runner removes before each probe
        return self.real.run(question, source, name)
    def __getattr__(self, name):
        return getattr(self.real, name)
__course_probe__ = _Keep(__course_probe__)
''',
    # the real runner made to run a probe of the notebook's own that records the expected booleans
    "other_probe_code": '''_real = __course_probe__
class _Swap:
    def run(self, question, source, name):
        if question != "evaluate_tests":
            return _real.run(question, source, name)
        fake = ("def fake(student):\\n"
                "    student.record('accuracy', 0.5)\\n"
                "    for key in ('eval_mode', 'no_autograd', 'autograd_clean'):\\n"
                "        student.record(key, True)\\n")
        return _real.run(question, fake, "fake")
    def __getattr__(self, name):
        return getattr(_real, name)
__course_probe__ = _Swap()
''',
    # every record published by hand, signed with whatever 64-hex-digit string the set-up left behind
    "key_looked_up": _TRUE_BOOLS + '''import hashlib, hmac, json, linecache, re
_ip = get_ipython()
_texts = [str(x) for x in _ip.user_ns.get("In", [])] + [str(v) for k, v in _ip.user_ns.items() if k.startswith("_i")]
_texts += [str(x) for x in _ip.history_manager.input_hist_raw] + [str(x) for x in _ip.history_manager.input_hist_parsed]
_texts += ["".join(entry[2]) for entry in list(linecache.cache.values()) if len(entry) == 4]
try:
    _texts += [str(row) for row in _ip.history_manager.db.execute("SELECT source_raw FROM history")]
except Exception:
    pass
_texts += [str(getattr(_ip.kernel, "_parents", ""))]
_keys = sorted({k for t in _texts for k in re.findall(r"key='([0-9a-f]{64})'", t)})
_real = __course_probe__
_pub = _ip.display_pub.publish
class _Signer:
    def run(self, question, source, name):
        captured = []
        hook = lambda msg: captured.append(msg["content"]["data"])  # swallows the runner's own message
        _ip.display_pub.register_hook(hook)
        try:
            _real.run(question, source, name)
        finally:
            _ip.display_pub.unregister_hook(hook)
        for data in captured:
            rec = data.get("application/vnd.course.probe+json")
            if isinstance(rec, dict) and _keys:
                rec = _all_true({k: v for k, v in rec.items() if k != "mac"})
                body = json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()
                rec["mac"] = hmac.new(_keys[0].encode(), body, hashlib.sha256).hexdigest()
            _pub(data={"application/vnd.course.probe+json": rec}, metadata={})
    def __getattr__(self, name):
        return getattr(_real, name)
__course_probe__ = _Signer()
print("keys found:", len(_keys))
''',
}


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    from course_lib.config import CourseConfig
    from course_lib.release import release

    root = copy_course(tmp_path_factory.mktemp("forged-records") / "course")
    config = CourseConfig.load(root).with_overrides(device="cpu")
    release(config=config, assignment_id="06-autograd")  # nbgrader stores the tests it generates in the gradebook
    return config


def _grade(config, aid, notebook, variants) -> dict:
    from course_lib.assignment import Assignment
    from course_lib.execute.runners import LocalRunner
    from course_lib.grade import Context
    from course_lib.synth import build

    spec = Assignment.load(config, aid).notebook(notebook)
    context = Context.prepare(config, spec, "cpu")
    jobs = [context.job(v.name, Path(f"{v.name}.ipynb"), student_nb=build(spec, v)) for v in variants]
    return {job.student: context.judge(result) for job, result in LocalRunner(2).run(jobs)}


def _points(graded) -> dict:
    return {c.name: c.points for c in graded.checks}


@pytest.fixture(scope="module")
def graded_06(course):
    from course_lib.synth import Variant

    variants = [Variant("honest", answers=dict(WRONG_06)),
                Variant("forged", answers={**WRONG_06, "leaky_relu": FORGE_TEST_REPORTS + WRONG_06["leaky_relu"]}),
                Variant("other_code", answers={**WRONG_06,
                                               "leaky_relu": RUN_OTHER_TEST_CODE + WRONG_06["leaky_relu"]})]
    return _grade(course, "06-autograd", "autograd", variants)


@pytest.mark.parametrize("attack", ["forged", "other_code"])
def test_test_reports_of_a_replaced_runner_earn_nothing(graded_06, attack):
    assert graded_06["honest"].score == 0, _points(graded_06["honest"])
    cheated = graded_06[attack]
    assert cheated.score == 0, [(c.name, c.points, c.message) for c in cheated.checks]


@pytest.fixture(scope="module")
def graded_05(course):
    from course_lib.synth import Variant, solution_code

    variants = [Variant("honest", answers={"evaluate": BAD_EVALUATE})]
    from course_lib.assignment import Assignment
    from course_lib.notebooks import grade_id

    spec = Assignment.load(course, "05-gpu-classifier").notebook("gpu_classifier")
    loss = next(solution_code(c.source) for c in spec.source_nb().cells if grade_id(c) == "classification_loss")
    for name, code in FORGE_05.items():
        variants.append(Variant(name, answers={"evaluate": BAD_EVALUATE, "classification_loss": code + "\n" + loss}))
    return _grade(course, "05-gpu-classifier", "gpu_classifier", variants)


@pytest.mark.parametrize("attack", sorted(FORGE_05))
def test_probe_records_bent_in_the_kernel_earn_nothing(graded_05, attack):
    honest, cheated = _points(graded_05["honest"]), _points(graded_05[attack])
    assert honest["eval_accuracy_value"] == 1 and honest["eval_in_eval_mode"] == 0
    assert all(cheated[name] <= honest[name] for name in honest), cheated
    assert cheated["eval_in_eval_mode"] == cheated["eval_without_autograd"] == 0


def test_a_forged_record_says_why_it_counts_nothing(graded_05):
    messages = {c.name: c.message for c in graded_05["other_probe_code"].checks}
    assert "altered by the notebook's code" in messages["eval_accuracy_value"]


def test_the_run_key_stays_out_of_the_stored_notebook():
    import nbformat

    from course_lib.execute.instrument import ROLE, instrument, strip

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1")])
    ready = instrument(nb, nb, [], seed=0, device="cpu", key="ab" * 32)
    assert ready.cells[0].metadata[ROLE]["key"] == "ab" * 32 and "ab" * 32 in ready.cells[0].source
    assert f"key='{'ab' * 32}'" in ready.cells[0].source  # what the key_looked_up attack searches for
    assert "ab" * 32 not in nbformat.writes(strip(ready))
