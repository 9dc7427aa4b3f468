"""What running nbgrader-format test cells through the grading runner costs, against running them plainly.

Both sides run in one IPython shell in this process (no kernel round trips, which are the same for both):
plain is ``shell.run_cell`` of the test cell as nbgrader runs it; lifted is the grading cell the course
sends instead (set-up's compiler, protected names, assertions recorded as data), plus deciding the
recorded assertions again in the grader. The test cells are 06-autograd's, hidden tests included, on its
solution.

    .venv/bin/python benchmarks/bench_lifting.py [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()

    import nbformat
    from IPython.core.interactiveshell import InteractiveShell

    from course_lib.execute.instrument import setup_source
    from course_lib.judge.kernel_side import MIME
    from course_lib.judge.nbtests import Names, prepare, recheck, runner_source
    from course_lib.notebooks import grade_id, is_grade, is_solution

    nb = nbformat.read(REPO / "source" / "06-autograd" / "autograd.ipynb", as_version=4)
    shell = InteractiveShell.instance()
    records = []
    shell.display_pub.publish = lambda data, metadata=None, **kw: records.append(data.get(MIME))
    shell.run_cell(setup_source(seed=0, device="cpu"), store_history=False)
    tests = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_grade(cell) and not is_solution(cell):
            code, plan = prepare(cell.source, Names(nb))
            tests.append((grade_id(cell), cell.source, runner_source(grade_id(cell), code, plan), plan["lifted"]))
        else:
            shell.run_cell(cell.source, store_history=False)

    def timed(source: str) -> float:
        start = time.perf_counter()
        result = shell.run_cell(source, store_history=False, silent=True)
        if not result.success:
            raise SystemExit(f"the cell failed: {result.error_in_exec or result.error_before_exec!r}")
        return time.perf_counter() - start

    print(f"{'test cell':<20} {'assertions':>10} {'plain ms':>9} {'lifted ms':>10} {'extra ms':>9} "
          f"{'per assertion':>14}")
    extras = []
    for gid, plain, lifted, count in tests:
        plain_t = statistics.median(timed(plain) for _ in range(args.repeat))
        lifted_times = []
        for _ in range(args.repeat):
            records.clear()
            start = time.perf_counter()
            timed(lifted)
            for record in records:
                for entry in (record or {}).get("lifted", []):
                    if recheck(entry):
                        raise SystemExit(f"{gid}: a lifted assertion failed on the solution")
            lifted_times.append(time.perf_counter() - start)
        lifted_t = statistics.median(lifted_times)
        extra = (lifted_t - plain_t) * 1000
        per = extra / count if count else float("nan")
        extras.append(per if count else 0.0)
        print(f"{gid:<20} {count:>10} {plain_t * 1000:>9.2f} {lifted_t * 1000:>10.2f} {extra:>9.2f} {per:>14.2f}")
    lifted_counts = [t[3] for t in tests if t[3]]
    print(f"\nmean extra cost per lifted assertion: {statistics.mean(e for e, t in zip(extras, tests) if t[3]):.2f} ms "
          f"over {sum(lifted_counts)} assertions (target: under 10 ms)")


if __name__ == "__main__":
    main()
