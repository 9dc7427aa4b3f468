#!/usr/bin/env bash
# The GPU runner against the CPU, on a machine with a CUDA GPU and this repository's .venv (make setup).
#
# For every assignment whose config declares "gpu": True (nbgrader_config.py), each known submission
# (solution, alternatives, mutants, errors; not the deliberately slow ones) is graded with --device cpu and
# with --device cuda through the course's own runner, and every check's points must agree. The solution is
# then run alone on each device with a last cell that reads the determinism settings in its kernel (TF32 off,
# deterministic algorithms, cuDNN deterministic, CUBLAS_WORKSPACE_CONFIG) and the device its tensors are on;
# its slowest cell (the lab's training) is timed on both.
#
#   benchmarks/gpu_check.sh                 # exit 0: all agree; 1: a difference or a setting not in force;
#                                           # 2: no CUDA GPU here (the CPU half ran)
#   benchmarks/gpu_check.sh --cpu-only      # the CPU half alone (exit 0 when it ran)
#   benchmarks/gpu_check.sh --out r.json    # also write the results as JSON
#
# Everything is graded in a temporary copy of the course; nothing is downloaded. It stops after
# GPU_CHECK_TIMEOUT seconds (default 570).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || { echo "no $PY: run make setup first (or set PYTHON)" >&2; exit 2; }
export PATH="$(dirname "$PY"):$PATH"  # nbgrader shells out to alembic, installed next to the interpreter
exec timeout --signal=INT --kill-after=30 "${GPU_CHECK_TIMEOUT:-570}" "$PY" - "$@" <<'PYTHON'
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, os.getcwd())
from course_lib.assignment import Assignment  # noqa: E402
from course_lib.config import CourseConfig, copy_course, gpu_count  # noqa: E402
from course_lib.execute.runners import LocalRunner  # noqa: E402
from course_lib.grade import Context  # noqa: E402
from course_lib.synth import build, load_variants  # noqa: E402

PROBE = """\
import json as _json, os as _os, torch as _torch
print("GPU-CHECK " + _json.dumps({
    "tensor_device": _torch.zeros(1, device=DEVICE).device.type,
    "deterministic_algorithms": _torch.are_deterministic_algorithms_enabled(),
    "matmul_tf32": _torch.backends.cuda.matmul.allow_tf32,
    "cudnn_tf32": _torch.backends.cudnn.allow_tf32,
    "cudnn_deterministic": _torch.backends.cudnn.deterministic,
    "cudnn_benchmark": _torch.backends.cudnn.benchmark,
    "cublas_workspace": _os.environ.get("CUBLAS_WORKSPACE_CONFIG", ""),
    "gpu": _torch.cuda.get_device_name(0) if DEVICE.startswith("cuda") else "",
}))
"""
WANT = {"cpu": {"tensor_device": "cpu", "deterministic_algorithms": True},
        "cuda": {"tensor_device": "cuda", "deterministic_algorithms": True, "matmul_tf32": False,
                 "cudnn_tf32": False, "cudnn_deterministic": True, "cudnn_benchmark": False,
                 "cublas_workspace": ":4096:8"}}


def gpu_assignments(config):
    return [p.name for p in sorted(config.path("source").iterdir())
            if p.is_dir() and config.limits_for(p.name).gpu]


def runs(base, aid, devices):
    """``run name -> (device, config)``: the CPU; CUDA with the CPU's settings (an assignment may declare a
    smaller configuration for CPU runs in "on_cpu"), so that both do the same work; and, where the assignment's
    CUDA settings differ, CUDA with its own (what `course autograde --device cuda` runs)."""
    import dataclasses

    out = {"cpu": ("cpu", base.with_overrides(device="cpu"))}
    if "cuda" not in devices:
        return out
    own = base.assignment_limits.get(aid, {})
    alike = {**own, "on_cuda": own.get("on_cpu", {})} if ("on_cpu" in own or "on_cuda" in own) else own
    same = dataclasses.replace(base, assignment_limits={**base.assignment_limits, aid: alike})
    out["cuda"] = ("cuda", same.with_overrides(device="cuda"))
    if alike != own:
        out["cuda-own-settings"] = ("cuda", base.with_overrides(device="cuda"))
    return out


def grade_all(config, spec, device, variants, workers):
    context = Context.prepare(config, spec, device)
    jobs = [context.job(v.name, Path(f"{v.name}.ipynb"), student_nb=build(spec, v)) for v in variants]
    # several kernels share the GPU here (the course's runner gives each its own GPU where there are several):
    # scores do not depend on it, and the timing below runs alone
    graded = {job.student: context.judge(result) for job, result in LocalRunner(workers).run(jobs)}
    return context, {name: {f"{c.grade_id}/{c.name}": c.points for c in g.checks} for name, g in graded.items()}, \
        {name: g.status for name, g in graded.items()}


def solo_run(context, spec, solution):
    nb = build(spec, solution)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    (_, result), = LocalRunner(1, pool=False).run([context.job("gpu-check", Path("gpu-check.ipynb"), student_nb=nb)])
    executed = nbformat.reads(result.executed, as_version=4)
    seen, cells = {}, []
    for cell in executed.cells:
        for out in cell.get("outputs", []):
            text = out.get("text", "")
            if "GPU-CHECK " in text:
                seen = json.loads(text.split("GPU-CHECK ", 1)[1].splitlines()[0])
        duration = cell.get("metadata", {}).get("papermill", {}).get("duration")
        if cell.cell_type == "code" and duration is not None:
            cells.append((float(duration), " ".join(cell.source.split())[:60]))
    slowest = max(cells, default=(float("nan"), "(no cell timing)"))
    return {"settings": seen, "notebook_s": result.runtime, "slowest_cell_s": slowest[0],
            "slowest_cell": slowest[1], "status": result.status}


def main():
    parser = argparse.ArgumentParser(prog="gpu_check.sh")
    parser.add_argument("--cpu-only", action="store_true", help="grade on the CPU only (no GPU needed)")
    parser.add_argument("--out", metavar="JSON", help="write the results here too")
    args = parser.parse_args()
    have_gpu = gpu_count() > 0
    devices = ["cpu"] if args.cpu_only or not have_gpu else ["cpu", "cuda"]
    workers = max(1, min(8, os.cpu_count() or 1))
    problems, report = [], {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        course = copy_course(Path.cwd(), Path(tmp) / "course")
        base = CourseConfig.load(course)
        aids = gpu_assignments(base)
        if not aids:
            print("no assignment declares \"gpu\": True in nbgrader_config.py", file=sys.stderr)
            return 1
        for aid in aids:
            for spec in Assignment.load(base, aid).autograded():
                variants = [v for v in load_variants(spec) if v.kind != "slow"]
                solution = next(v for v in variants if v.kind == "solution")
                entry = report.setdefault(f"{aid}/{spec.name}", {"variants": len(variants)})
                scores = {}
                for run, (device, config) in runs(base, aid, devices).items():
                    t0 = time.monotonic()
                    context, scores[run], status = grade_all(config, spec, device, variants, workers)
                    entry[f"{run}_batch_s"] = round(time.monotonic() - t0, 1)
                    entry[f"{run}_points"] = sum(sum(s.values()) for s in scores[run].values())
                    solo = entry[run] = solo_run(context, spec, solution)
                    for key, want in WANT[device].items():
                        if solo["settings"].get(key) != want:
                            problems.append(f"{aid}/{spec.name} on {run}: {key} is "
                                            f"{solo['settings'].get(key)!r}, not {want!r}")
                    broken = sorted(n for n, s in status.items() if s == "failed")
                    if broken:
                        problems.append(f"{aid}/{spec.name} on {run}: the runner failed {', '.join(broken)}")
                    print(f"{aid}/{spec.name} {run}: {len(variants)} submissions in "
                          f"{entry[f'{run}_batch_s']} s; solution alone {solo['notebook_s']:.1f} s, slowest "
                          f"cell {solo['slowest_cell_s']:.2f} s ({solo['slowest_cell']})", flush=True)
                for run in [r for r in scores if r != "cpu"]:
                    differ = {name: sorted(k for k in scores["cpu"][name]
                                           if scores["cpu"][name][k] != scores[run].get(name, {}).get(k))
                              for name in scores["cpu"]}
                    differ = {n: ks for n, ks in differ.items() if ks}
                    entry[f"{run}_differences"] = differ
                    for name, keys in differ.items():
                        problems.append(f"{aid}/{spec.name} {name}: cpu and {run} disagree on {', '.join(keys)}")
                    print(f"{aid}/{spec.name}: {len(scores['cpu']) - len(differ)}/{len(scores['cpu'])} "
                          f"submissions score the same on cpu and {run}", flush=True)
                if "cuda" in scores:  # the same configuration on both: the training cell's times compare
                    cpu_t, gpu_t = entry["cpu"]["slowest_cell_s"], entry["cuda"]["slowest_cell_s"]
                    entry["training_speedup"] = round(cpu_t / gpu_t, 2) if gpu_t else None
                    print(f"{aid}/{spec.name}: training cell cpu {cpu_t:.2f} s, cuda {gpu_t:.2f} s "
                          f"({entry['training_speedup']}x)", flush=True)
    report["_summary"] = {"devices": devices, "seconds": round(time.monotonic() - started, 1),
                          "problems": problems, "gpu": have_gpu}
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2))
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    if problems:
        return 1
    if "cuda" not in devices:
        print("no CUDA GPU here: only the CPU half ran" if not have_gpu else "the CPU half ran (--cpu-only)")
        return 0 if args.cpu_only else 2
    print(f"all agree: {', '.join(aids)} (in {report['_summary']['seconds']} s)")
    return 0


sys.exit(main())
PYTHON
