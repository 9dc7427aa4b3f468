"""The signature of the kernel's records (no kernel): what the grader believes, and the cache it leaves alone."""

from __future__ import annotations

import hashlib
import hmac
import json

from course_lib.execute.instrument import ROLE, call_digest, instrument, read_run, verified

KEY = "cd" * 32


def _signed(record: dict, key: str = KEY) -> dict:
    body = json.dumps(record, sort_keys=True, separators=(",", ":")).encode()
    return {**record, "mac": hmac.new(key.encode(), body, hashlib.sha256).hexdigest()}


def test_only_a_record_signed_with_the_runs_key_for_the_code_sent_is_believed():
    digest = call_digest("def probe(student):\n    pass\n", "probe")
    record = {"question": "q", "values": {}, "error": None, "digest": digest}
    assert verified(_signed(record), KEY, digest) == ""
    assert verified(record, KEY, digest) == "no valid signature"
    assert verified(_signed(record, "ef" * 32), KEY, digest) == "no valid signature"
    bent = _signed(record)
    bent["values"] = {"x": {"kind": "scalar", "type": "bool", "value": True}}
    assert verified(bent, KEY, digest) == "no valid signature"
    assert verified(_signed({**record, "digest": call_digest("other", "probe")}), KEY, digest)
    assert verified(_signed({**record, "tampered": ["Student"]}), KEY, digest)


def test_read_run_counts_an_unsigned_probe_record_as_altered(tensors_spec):
    from nbformat.v4 import new_output

    from course_lib.judge import verdict

    release = tensors_spec.release_nb()
    probes = [(q.grade_id, *q.probe_source()) for q in tensors_spec.grader.questions]
    nb = instrument(release, release, probes, seed=0, device="cpu", key=KEY)
    cells = [c for c in nb.cells if c.metadata.get(ROLE, {}).get("role") == "probe"]
    first, second = cells[0], cells[1]
    q1, q2 = first.metadata[ROLE]["question"], second.metadata[ROLE]["question"]
    source1 = next(p for p in probes if p[0] == q1)
    good = _signed({"question": q1, "values": {}, "error": None, "digest": call_digest(source1[1], source1[2])})
    first.outputs = [new_output("display_data", data={"application/vnd.course.probe+json": good})]
    second.outputs = [new_output("display_data", data={"application/vnd.course.probe+json":
                                                       {"question": q2, "values": {}, "error": None}})]
    found, _, _ = read_run(nb)
    assert found[q1] == good
    assert found[q2]["altered"] and verdict._probe_error(found[q2]).endswith("altered by the notebook's code")


def test_the_random_key_leaves_the_references_cache_key_alone(config, tensors_spec):
    from course_lib.judge.references import reference_key, solution_job

    a, b = (solution_job(config, tensors_spec, device="cpu") for _ in range(2))
    assert a.source != b.source  # each run has its own key
    assert reference_key(tensors_spec, device="cpu", seed=0, job=a) == reference_key(tensors_spec, device="cpu",
                                                                                   seed=0, job=b)
