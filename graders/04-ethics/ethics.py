"""Hidden checks for 04-ethics, Part 1 (never released, never shown in feedback).

Only the autograded grade cells (Questions 1-4) have checks; the written
reflections of Part 2 (Questions 5-8) are nbgrader "manually graded answer"
cells that formgrader leaves to people.

Each probe runs in the student's kernel right after the question's test cell and
calls the student's functions on synthetic data it builds from fixed seeds: group
names the notebook never uses, groups listed out of alphabetical order, groups of
very different sizes, and (Question 3) groups without negatives or without
positives, whose FPR or FNR is undefined, and a group without errors, whose rates
are defined and 0 (an answer that returns nan for a numerator of 0 instead of a
denominator of 0 passed every other check). Question 4 also runs the whole audit
(predict, then the three rates) on the shipped ``benefit_claims.csv``, which the
grader places next to the notebook.

Students may return NumPy arrays, CPU tensors or lists. The probes turn every
per-group result into a float64 NumPy array before recording it (anything that
cannot be converted is recorded as it is and fails with "returned a ..."); undefined
rates are recorded as -1 (``nan_to_num``) so that "0 instead of nan" fails with
an ordinary message (a student's own -1 is recorded as -2 first, so it still fails).

Tolerances: decisions and counts are integers, compared exactly. Rates are ratios
of counts below 2000, so a float64 solution is exact to ~1e-16 and a float32 one
(a torch solution) to ~1e-7; ``atol=1e-6`` accepts both while every
misconception targeted here moves some rate by at least 1 / (group size) > 1e-3
(wrong denominator, swapped rates, overall instead of per-group accuracy, rows in
the wrong order, 0 instead of nan or nan instead of 0, > instead of >=).
"""

from course_lib.judge import Check, Equal, Number, Question, Tensor

EXACT = Tensor(rtol=0, atol=0)
RATES = Tensor(rtol=0, atol=1e-6)


def probe_predict(student):
    import numpy as np

    def floats(x):
        if x is None or isinstance(x, (str, bytes, dict)):
            return x
        try:
            if hasattr(x, "detach"):
                x = x.detach().cpu()
            return np.asarray(x, dtype=np.float64)
        except Exception:
            return x

    rng = np.random.default_rng(9051)
    scores = rng.random(40)
    student.record("predict", floats(student.call("predict_raw", "predict", scores, 0.35)))
    ties = np.array([0.75, 0.2, 0.9, 0.75, 0.74, 0.76, 0.75, 0.0, 1.0, 0.5])
    student.record("ties", floats(student.call("ties_raw", "predict", ties, 0.75)))


def probe_confusion(student):
    import numpy as np

    def floats(x):
        if x is None or isinstance(x, (str, bytes, dict)):
            return x
        try:
            if hasattr(x, "detach"):
                x = x.detach().cpu()
            return np.asarray(x, dtype=np.float64)
        except Exception:
            return x

    rng = np.random.default_rng(7302)
    names = ["kappa", "alpha", "theta", "delta"]  # first appearances out of alphabetical order
    groups = np.array(names + list(rng.choice(names, size=196, p=[0.15, 0.55, 0.08, 0.22])))
    labels = (rng.random(groups.size) < 0.3).astype(np.int64)
    preds = np.where(rng.random(groups.size) < 0.75, labels, 1 - labels).astype(np.int64)

    names_out = student.call("names_raw", "group_names", groups)
    try:
        student.record("names", [str(n) for n in names_out])
    except Exception:
        student.record("names", names_out)
    student.record("counts", floats(student.call("counts_raw", "confusion_by_group", groups, labels, preds)))


def probe_error_rates(student):
    import numpy as np

    def floats(x):
        if x is None or isinstance(x, (str, bytes, dict)):
            return x
        try:
            if hasattr(x, "detach"):
                x = x.detach().cpu()
            return np.asarray(x, dtype=np.float64)
        except Exception:
            return x

    # every group has positives and negatives; sizes from 10 to ~150, rows shuffled
    rng = np.random.default_rng(6123)
    sizes = {"sigma": 61, "beta": 152, "omega": 14, "mu": 43}
    base = {"sigma": 0.35, "beta": 0.2, "omega": 0.5, "mu": 0.3}
    flip = {"sigma": 0.2, "beta": 0.1, "omega": 0.35, "mu": 0.25}
    groups, labels, preds = [], [], []
    for name, n in sizes.items():
        y = (rng.random(n) < base[name]).astype(np.int64)
        y[:2] = [0, 1]
        p = np.where(rng.random(n) < flip[name], 1 - y, y)
        groups += [name] * n
        labels.append(y)
        preds.append(p)
    # "pi" is classified without error: its FPR and FNR are defined and 0 (only a zero denominator gives nan)
    groups += ["pi"] * 10
    labels.append(np.array([0, 1] * 5))
    preds.append(np.array([0, 1] * 5))
    order = rng.permutation(len(groups))
    groups = np.array(groups)[order]
    labels = np.concatenate(labels)[order]
    preds = np.concatenate(preds)[order].astype(np.int64)
    for key, name in (("fpr", "fpr_by_group"), ("fnr", "fnr_by_group"), ("accuracy", "accuracy_by_group")):
        student.record(key, floats(student.call(key + "_raw", name, groups, labels, preds)))

    # "zeta" has no negatives (FPR undefined), "beta" no positives (FNR undefined)
    groups = np.array(["zeta"] * 9 + ["beta"] * 7 + ["eta"] * 12)
    labels = np.array([1] * 9 + [0] * 7 + [0, 1] * 6)
    preds = np.array([1, 1, 0, 1, 1, 1, 0, 1, 1] + [0, 1, 0, 0, 1, 0, 0] + [0, 1, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1])
    order = np.array([0, 9, 16, 1, 10, 17, 2, 11, 18, 3, 12, 19, 4, 13, 20, 5, 14, 21, 6, 15, 22, 7, 23, 8, 24,
                      25, 26, 27])
    groups, labels, preds = groups[order], labels[order], preds[order]
    fpr = floats(student.call("fpr_undefined_raw", "fpr_by_group", groups, labels, preds))
    fnr = floats(student.call("fnr_undefined_raw", "fnr_by_group", groups, labels, preds))
    if not isinstance(fpr, np.ndarray):
        student.record("undefined", fpr)
    elif not isinstance(fnr, np.ndarray):
        student.record("undefined", fnr)
    else:
        both = np.concatenate([fpr.reshape(-1), fnr.reshape(-1)])
        both = np.where(both == -1.0, -2.0, both)  # a home-made "-1 means undefined" is not nan
        student.record("undefined", np.nan_to_num(both, nan=-1.0))


def probe_gap_and_audit(student):
    import csv

    import numpy as np

    def floats(x):
        if x is None or isinstance(x, (str, bytes, dict)):
            return x
        try:
            if hasattr(x, "detach"):
                x = x.detach().cpu()
            return np.asarray(x, dtype=np.float64)
        except Exception:
            return x

    gap = student.call("gap_raw", "rate_gap", np.array([0.3125, np.nan, 0.0625, 0.5, np.nan, 0.25]))
    # "as a Python float": float and its subclass np.float64 are; a tensor or an array is not
    student.record("gap", float(gap) if isinstance(gap, float) else gap)

    with open("benefit_claims.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    groups = np.array([row["district"] for row in rows])
    labels = np.array([int(row["irregular"]) for row in rows])
    scores = np.array([float(row["risk_score"]) for row in rows])
    preds = student.call("audit_preds", "predict", scores, 0.5)
    if preds is None:
        return
    parts = []
    for key, name in (("audit_fpr", "fpr_by_group"), ("audit_fnr", "fnr_by_group"),
                      ("audit_accuracy", "accuracy_by_group")):
        out = floats(student.call(key, name, groups, labels, preds))
        if not isinstance(out, np.ndarray):
            student.record("audit", out)
            return
        parts.append(out.reshape(-1))
    student.record("audit", np.concatenate(parts))


QUESTIONS = [
    Question("predict_tests", probe_predict, [
        Check("predict_values", 1, EXACT, key="predict", needs=("predict_raw",),
              describe="predict flags the scores at or above the given threshold",
              hint="compare every score with the threshold argument, not with a fixed 0.5"),
        Check("predict_at_threshold", 1, EXACT, key="ties", needs=("ties_raw",),
              describe="predict flags a score exactly equal to the threshold",
              hint="the rule is score >= threshold: a tie is flagged"),
    ]),
    Question("confusion_tests", probe_confusion, [
        Check("group_order", 1, Equal(), key="names", needs=("names_raw",),
              describe="group_names lists each group once, sorted alphabetically",
              hint="sort the distinct names (sorted() or np.unique); the order in which they first appear "
                   "in the rows is not alphabetical"),
        Check("confusion_counts", 1, EXACT, key="counts", needs=("counts_raw",),
              describe="confusion_by_group counts TP, FP, FN, TN for each group, rows in group_names order",
              hint="one row per group in group_names order; columns TP (1, flagged), FP (0, flagged), "
                   "FN (1, not flagged), TN (0, not flagged)"),
    ]),
    Question("error_rates_tests", probe_error_rates, [
        Check("fpr_values", 1, RATES, key="fpr", needs=("fpr_raw",),
              describe="fpr_by_group returns FP / (FP + TN) of each group",
              hint="a false positive can only happen to a negative: divide by the group's negatives "
                   "(FP + TN), not by all its rows; one rate per group, in group_names order; only a zero "
                   "denominator makes a rate nan (no false positives is a rate of 0)"),
        Check("fnr_values", 1, RATES, key="fnr", needs=("fnr_raw",),
              describe="fnr_by_group returns FN / (FN + TP) of each group",
              hint="the FNR is the share of the group's positives (FN + TP) that were not flagged; "
                   "one rate per group, in group_names order; only a zero denominator makes a rate nan "
                   "(no false negatives is a rate of 0)"),
        Check("accuracy_values", 1, RATES, key="accuracy", needs=("accuracy_raw",),
              describe="accuracy_by_group returns the accuracy of each group's own rows",
              hint="compute (TP + TN) / rows separately for every group, not once for all rows; "
                   "one value per group, in group_names order"),
        Check("undefined_rates_nan", 1, RATES, key="undefined", needs=("fpr_undefined_raw", "fnr_undefined_raw"),
              describe="a rate whose denominator is zero (a group without negatives or without positives) is nan",
              hint="0 / 0 is undefined, not 0 %: return np.nan for that group, and keep the other groups' rates"),
    ]),
    Question("rate_gap_tests", probe_gap_and_audit, [
        Check("gap_ignores_undefined", 1, Number(rtol=0, atol=1e-6, allow_tensor=False), key="gap", needs=("gap_raw",),
              describe="rate_gap is the largest minus the smallest defined rate, ignoring nan, as a Python float",
              hint="the gap is the maximum minus the minimum of the defined rates, wherever they are in "
                   "the array; max and min of an array containing nan are nan, so drop the nan entries "
                   "first (or use np.nanmax and np.nanmin)"),
        Check("audit_shipped_file", 1, RATES, key="audit",
              needs=("audit_preds", "audit_fpr", "audit_fnr", "audit_accuracy"),
              describe="the audit of benefit_claims.csv: predict at 0.5, then FPR, FNR and accuracy per district",
              hint="the audit uses all of your Part 1 functions: check the threshold rule, the order of the "
                   "districts and each rate's denominator"),
    ]),
]
