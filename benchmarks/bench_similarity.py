"""Time `course similarity` on a synthetic class.

Every student answers each question with one of the assignment's known answers to it (the
solution, an alternative, a misconception), with the names the student chose renamed and a
comment added to every line, so no two notebooks are alike as text; every tenth student copies
a classmate whole. Prints the time to read, fingerprint and compare the class, the time of the
whole command (HTML report and plot included), and the highest pairs.

    .venv/bin/python benchmarks/bench_similarity.py --students 300 [--assignment 02-gradients] [--common 0]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
import tokenize
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def disguise(code: str, who: int, rng: random.Random) -> str:
    """The code as student ``who`` would write it: own names, own comments."""
    import builtins
    import keyword

    keep = set(keyword.kwlist) | set(dir(builtins)) | {"torch", "np", "math", "nn", "F", "self"}
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return code
    out, previous = [], None
    for tok in tokens:
        if tok.type == tokenize.NAME and tok.string not in keep and not (previous and previous.string == "."):
            tok = tok._replace(string=f"{tok.string}_{who}")
        out.append(tok)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok
    try:
        text = tokenize.untokenize(out)
    except ValueError:
        return code
    return "\n".join(f"{line}  # note {rng.randint(0, 99)}" if line.strip() and rng.random() < 0.3 else line
                     for line in text.splitlines()) + "\n"


def main() -> int:
    sys.path.insert(0, str(REPO))
    from course_lib.assignment import Assignment
    from course_lib.config import CourseConfig, copy_course
    from course_lib.notebooks import grade_id, is_solution
    from course_lib.similarity import similarity, write_similarity
    from course_lib.synth import Variant, build, load_variants, solution_code, write

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--students", type=int, default=300)
    ap.add_argument("--assignment", default="02-gradients")
    ap.add_argument("--common", type=int, default=None, help="as `course similarity --common` (default: its own)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-similarity-") as tmp:
        config = CourseConfig.load(copy_course(REPO, Path(tmp) / "course"))
        spec = Assignment.load(config, args.assignment).notebooks[0]
        solution = {grade_id(c): solution_code(c.source) for c in spec.source_nb().cells
                    if is_solution(c) and c.cell_type == "code"}
        pool = {gid: [code] for gid, code in solution.items()}
        for v in load_variants(spec):
            for gid, code in v.answers.items():
                if gid in pool and code not in pool[gid]:
                    pool[gid].append(code)
        answers = {}
        for who in range(args.students):
            if who % 10 == 9:  # a whole copy of a classmate, names changed again
                answers[who] = {g: disguise(c, who, rng) for g, c in answers[rng.randrange(who - 1)].items()}
            else:
                answers[who] = {gid: disguise(rng.choice(codes), who, rng) for gid, codes in pool.items()}
            write(build(spec, Variant(f"s{who}", answers=answers[who])),
                  config.path("submitted", f"s{who:03d}", args.assignment, f"{spec.name}.ipynb"))
        print(f"{args.students} synthetic submissions of {args.assignment}, {len(pool)} answer cells each "
              f"({sum(map(len, pool.values()))} known answers in all)")
        start = time.perf_counter()
        report = similarity(config=config, assignment_id=args.assignment, common=args.common)
        compared = time.perf_counter() - start
        start = time.perf_counter()
        write_similarity(config=config, assignment_id=args.assignment, out=Path(tmp) / "report", common=args.common)
        whole = time.perf_counter() - start
    print(f"read, fingerprint and compare: {compared:.1f} s for {len(report.scores)} pairs "
          f"({report.common_passages} passages in more than {report.common_limit} submissions subtracted)")
    print(f"with the HTML report and its plot: {whole:.1f} s")
    print("highest pairs: " + ", ".join(f"{p.a}-{p.b} {100 * p.score:.0f} %" for p in report.pairs[:5]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
