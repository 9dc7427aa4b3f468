"""Known submissions of 04-ethics that prove the hidden checks of Part 1.

Alternatives are correct answers written differently (PyTorch, plain Python,
vectorised NumPy): they must keep full marks. Mutants are plausible wrong answers
named after the misconception they encode: each must fail exactly the checks in
``fails``. Keys of ``answers`` are the solution cells' grade ids; values are the
whole cell as a student writes it. The written answers of Part 2 are graded by
hand: variants that fill them in (or leave them as the model answers) change no
autograded check.
"""

from course_lib.synth import Variant

SOLUTION_CONFUSION = (
    "def group_names(groups):\n"
    "    return sorted({str(g) for g in groups})\n\n\n"
    "def confusion_by_group(groups, labels, preds):\n"
    "    groups, labels, preds = np.asarray(groups).astype(str), np.asarray(labels), np.asarray(preds)\n"
    "    counts = []\n"
    "    for name in group_names(groups):\n"
    "        y, p = labels[groups == name], preds[groups == name]\n"
    "        counts.append([np.sum((y == 1) & (p == 1)), np.sum((y == 0) & (p == 1)),\n"
    "                       np.sum((y == 1) & (p == 0)), np.sum((y == 0) & (p == 0))])\n"
    "    return np.array(counts, dtype=np.int64).reshape(-1, 4)\n")


def rates_cell(fpr: str, fnr: str, accuracy: str) -> str:
    """The error_rates cell with the given bodies (each a list of already indented lines)."""
    return (
        "def fpr_by_group(groups, labels, preds):\n"
        "    tp, fp, fn, tn = confusion_by_group(groups, labels, preds).T.astype(np.float64)\n"
        f"{fpr}\n\n\n"
        "def fnr_by_group(groups, labels, preds):\n"
        "    tp, fp, fn, tn = confusion_by_group(groups, labels, preds).T.astype(np.float64)\n"
        f"{fnr}\n\n\n"
        "def accuracy_by_group(groups, labels, preds):\n"
        "    tp, fp, fn, tn = confusion_by_group(groups, labels, preds).T.astype(np.float64)\n"
        f"{accuracy}\n")


FPR = "    return np.divide(fp, fp + tn, out=np.full(len(fp), np.nan), where=(fp + tn) > 0)"
FNR = "    return np.divide(fn, fn + tp, out=np.full(len(fn), np.nan), where=(fn + tp) > 0)"
ACCURACY = "    return (tp + tn) / (tp + fp + fn + tn)"
AUDIT_AND_RATES = ("fpr_values", "fnr_values", "undefined_rates_nan", "audit_shipped_file")

VARIANTS = [
    Variant("solution", kind="solution"),
    # -- alternative correct solutions ----------------------------------------------------------
    Variant("alternative_torch", kind="alternative", answers={
        "predict": (
            "def predict(scores, threshold=0.5):\n"
            "    return (torch.as_tensor(scores) >= threshold).long()\n"),
        "confusion": (
            "def group_names(groups):\n"
            "    return np.unique(np.asarray(groups)).tolist()\n\n\n"
            "def confusion_by_group(groups, labels, preds):\n"
            "    names = group_names(groups)\n"
            "    index = torch.tensor([names.index(str(g)) for g in groups])\n"
            "    y = torch.as_tensor(labels).long()\n"
            "    p = torch.as_tensor(preds).long()\n"
            "    column = (1 - y) + 2 * (1 - p)  # TP 0, FP 1, FN 2, TN 3\n"
            "    return torch.bincount(index * 4 + column, minlength=4 * len(names)).reshape(-1, 4)\n"),
        "error_rates": (
            "def fpr_by_group(groups, labels, preds):\n"
            "    tp, fp, fn, tn = confusion_by_group(groups, labels, preds).float().unbind(dim=1)\n"
            "    return fp / (fp + tn)  # 0 / 0 is nan for float tensors\n\n\n"
            "def fnr_by_group(groups, labels, preds):\n"
            "    tp, fp, fn, tn = confusion_by_group(groups, labels, preds).float().unbind(dim=1)\n"
            "    return fn / (fn + tp)\n\n\n"
            "def accuracy_by_group(groups, labels, preds):\n"
            "    counts = confusion_by_group(groups, labels, preds).float()\n"
            "    return (counts[:, 0] + counts[:, 3]) / counts.sum(dim=1)\n"),
        "rate_gap": (
            "def rate_gap(rates):\n"
            "    r = torch.as_tensor(rates, dtype=torch.float64)\n"
            "    r = r[~torch.isnan(r)]\n"
            "    return (r.max() - r.min()).item()\n"),
    }),
    Variant("alternative_plain_python", kind="alternative", answers={
        "predict": (
            "def predict(scores, threshold=0.5):\n"
            "    return [1 if s >= threshold else 0 for s in scores]\n"),
        "confusion": (
            "def group_names(groups):\n"
            "    names = []\n"
            "    for g in groups:\n"
            "        if str(g) not in names:\n"
            "            names.append(str(g))\n"
            "    names.sort()\n"
            "    return names\n\n\n"
            "def confusion_by_group(groups, labels, preds):\n"
            "    names = group_names(groups)\n"
            "    table = [[0, 0, 0, 0] for _ in names]\n"
            "    column = {(1, 1): 0, (0, 1): 1, (1, 0): 2, (0, 0): 3}\n"
            "    for g, y, p in zip(groups, labels, preds):\n"
            "        table[names.index(str(g))][column[(int(y), int(p))]] += 1\n"
            "    return np.array(table)\n"),
        "error_rates": (
            "def ratio(num, den):\n"
            "    return num / den if den else float(\"nan\")\n\n\n"
            "def fpr_by_group(groups, labels, preds):\n"
            "    return [ratio(fp, fp + tn) for tp, fp, fn, tn in confusion_by_group(groups, labels, preds).tolist()]\n\n\n"
            "def fnr_by_group(groups, labels, preds):\n"
            "    return [ratio(fn, fn + tp) for tp, fp, fn, tn in confusion_by_group(groups, labels, preds).tolist()]\n\n\n"
            "def accuracy_by_group(groups, labels, preds):\n"
            "    return [(tp + tn) / (tp + fp + fn + tn)\n"
            "            for tp, fp, fn, tn in confusion_by_group(groups, labels, preds).tolist()]\n"),
        "rate_gap": (
            "def rate_gap(rates):\n"
            "    defined = [float(r) for r in rates if r == r]  # nan is the only value not equal to itself\n"
            "    return max(defined) - min(defined)\n"),
    }),
    Variant("alternative_vectorised_numpy", kind="alternative", answers={
        "predict": (
            "def predict(scores, threshold=0.5):\n"
            "    return np.where(np.asarray(scores) < threshold, 0, 1)\n"),
        "confusion": (
            "def group_names(groups):\n"
            "    return [str(name) for name in np.unique(groups)]\n\n\n"
            "def confusion_by_group(groups, labels, preds):\n"
            "    _, inverse = np.unique(np.asarray(groups), return_inverse=True)\n"
            "    y = np.asarray(labels).astype(bool)\n"
            "    p = np.asarray(preds).astype(bool)\n"
            "    onehot = np.stack([y & p, ~y & p, y & ~p, ~y & ~p], axis=1).astype(int)\n"
            "    out = np.zeros((inverse.max() + 1, 4), dtype=int)\n"
            "    np.add.at(out, inverse.reshape(-1), onehot)\n"
            "    return out\n"),
        "error_rates": (
            "def fpr_by_group(groups, labels, preds):\n"
            "    c = confusion_by_group(groups, labels, preds)\n"
            "    with np.errstate(invalid=\"ignore\", divide=\"ignore\"):\n"
            "        return c[:, 1] / (c[:, 1] + c[:, 3])\n\n\n"
            "def fnr_by_group(groups, labels, preds):\n"
            "    c = confusion_by_group(groups, labels, preds)\n"
            "    with np.errstate(invalid=\"ignore\", divide=\"ignore\"):\n"
            "        return c[:, 2] / (c[:, 2] + c[:, 0])\n\n\n"
            "def accuracy_by_group(groups, labels, preds):\n"
            "    c = confusion_by_group(groups, labels, preds)\n"
            "    return (c[:, 0] + c[:, 3]) / c.sum(axis=1)\n"),
        "rate_gap": (
            "def rate_gap(rates):\n"
            "    return float(np.nanmax(rates) - np.nanmin(rates))\n"),
    }),
    # a Counter of (group, label, pred), rates as lists of 0-d tensors, np.ptp
    Variant("alternative_counter_and_tensor_lists", kind="alternative", answers={
        "predict": (
            "def predict(scores, threshold=0.5):\n"
            "    return torch.from_numpy(np.asarray(scores)).float().ge(threshold).int().numpy()\n"),
        "confusion": (
            "from collections import Counter\n"
            "\n"
            "def group_names(groups):\n"
            "    return sorted(set(groups.tolist()))\n"
            "\n"
            "def confusion_by_group(groups, labels, preds):\n"
            "    counts = Counter(zip(groups.tolist(), np.asarray(labels).tolist(), np.asarray(preds).tolist()))\n"
            "    return np.array([[counts[(g, 1, 1)], counts[(g, 0, 1)], counts[(g, 1, 0)], counts[(g, 0, 0)]] for g in group_names(groups)])\n"),
        "error_rates": (
            "def fpr_by_group(groups, labels, preds):\n"
            "    out = []\n"
            "    for g in group_names(groups):\n"
            "        m = (groups == g) & (labels == 0)\n"
            "        out.append(torch.tensor(preds[m].mean() if m.any() else float('nan')))\n"
            "    return out\n"
            "\n"
            "def fnr_by_group(groups, labels, preds):\n"
            "    out = []\n"
            "    for g in group_names(groups):\n"
            "        m = (groups == g) & (labels == 1)\n"
            "        out.append(torch.tensor(1 - preds[m].mean() if m.any() else float('nan')))\n"
            "    return out\n"
            "\n"
            "def accuracy_by_group(groups, labels, preds):\n"
            "    return [torch.tensor((labels[groups == g] == preds[groups == g]).mean()) for g in group_names(groups)]\n"),
        "rate_gap": (
            "def rate_gap(rates):\n"
            "    r = np.asarray(rates)\n"
            "    return np.ptp(r[~np.isnan(r)])\n"),
    }),
    # an if per group and float32 rates; torch.where over a clamped denominator, a lambda, a tensor returned
    Variant("alternative_float32_ifs_and_torch_where", kind="alternative", answers={
        "error_rates": (
            "def _rate(num, den):\n"
            "    if den == 0:\n"
            "        return np.nan\n"
            "    return np.float32(num) / np.float32(den)\n\n\n"
            "def fpr_by_group(groups, labels, preds):\n"
            "    c = confusion_by_group(groups, labels, preds)\n"
            "    return np.array([_rate(r[1], r[1] + r[3]) for r in c], dtype=np.float32)\n\n\n"
            "def fnr_by_group(groups, labels, preds):\n"
            "    c = torch.as_tensor(confusion_by_group(groups, labels, preds), dtype=torch.float64)\n"
            "    den = c[:, 2] + c[:, 0]\n"
            "    return torch.where(den > 0, c[:, 2] / den.clamp(min=1), torch.tensor(float('nan'), dtype=torch.float64))\n\n\n"
            "accuracy_by_group = lambda groups, labels, preds: (\n"
            "    (lambda c: (c[:, 0] + c[:, 3]) / c.sum(axis=1))(confusion_by_group(groups, labels, preds)))\n"),
    }),
    # -- misconceptions ---------------------------------------------------------------------------
    Variant("threshold_exclusive", fails=("predict_at_threshold", "audit_shipped_file"), answers={
        "predict": (
            "def predict(scores, threshold=0.5):\n"
            "    return (np.asarray(scores) > threshold).astype(int)\n")}),
    Variant("threshold_argument_ignored", fails=("predict_values", "predict_at_threshold"), answers={
        "predict": (
            "def predict(scores, threshold=0.5):\n"
            "    return (np.asarray(scores) >= 0.5).astype(int)\n")}),
    Variant("groups_in_order_of_appearance",
            fails=("group_order", "confusion_counts", "fpr_values", "fnr_values", "accuracy_values",
                   "undefined_rates_nan", "audit_shipped_file"), answers={
        "confusion": SOLUTION_CONFUSION.replace(
            "    return sorted({str(g) for g in groups})\n",
            "    return list(dict.fromkeys(str(g) for g in groups))\n")}),
    Variant("confusion_fp_fn_swapped",
            fails=("confusion_counts", *AUDIT_AND_RATES), answers={
        "confusion": SOLUTION_CONFUSION.replace(
            "np.sum((y == 1) & (p == 1)), np.sum((y == 0) & (p == 1)),\n"
            "                       np.sum((y == 1) & (p == 0)),",
            "np.sum((y == 1) & (p == 1)), np.sum((y == 1) & (p == 0)),\n"
            "                       np.sum((y == 0) & (p == 1)),")}),
    Variant("fpr_divides_by_all_rows", fails=("fpr_values", "undefined_rates_nan", "audit_shipped_file"), answers={
        "error_rates": rates_cell(fpr="    return fp / (tp + fp + fn + tn)", fnr=FNR, accuracy=ACCURACY)}),
    Variant("fnr_swapped_with_fpr", fails=AUDIT_AND_RATES, answers={
        "error_rates": rates_cell(fpr=FNR, fnr=FPR, accuracy=ACCURACY)}),
    Variant("accuracy_overall_not_per_group", fails=("accuracy_values", "audit_shipped_file"), answers={
        "error_rates": rates_cell(
            fpr=FPR, fnr=FNR,
            accuracy="    return np.full(len(tp), np.mean(np.asarray(labels) == np.asarray(preds)))")}),
    Variant("undefined_rate_as_zero", fails=("undefined_rates_nan",), answers={
        "error_rates": rates_cell(fpr="    return fp / np.maximum(fp + tn, 1)", fnr="    return fn / np.maximum(fn + tp, 1)",
                                  accuracy=ACCURACY)}),
    # nan where nothing went wrong: np.divide's where= tests the numerator instead of the denominator
    Variant("fpr_nan_where_no_false_positives", fails=("fpr_values",), answers={
        "error_rates": rates_cell(
            fpr="    return np.divide(fp, fp + tn, out=np.full(len(fp), np.nan), where=fp > 0)",
            fnr=FNR, accuracy=ACCURACY)}),
    Variant("zero_rate_taken_for_undefined", fails=("fpr_values", "fnr_values"), answers={
        "error_rates": rates_cell(fpr="    rate = fp / np.maximum(fp + tn, 1)\n    return np.where(rate == 0, np.nan, rate)",
                                  fnr="    rate = fn / np.maximum(fn + tp, 1)\n    return np.where(rate == 0, np.nan, rate)",
                                  accuracy=ACCURACY)}),
    Variant("undefined_rate_raises", fails=("undefined_rates_nan",), answers={
        "error_rates": (
            "def fpr_by_group(groups, labels, preds):\n"
            "    return [fp / (fp + tn) for tp, fp, fn, tn in confusion_by_group(groups, labels, preds).tolist()]\n\n\n"
            "def fnr_by_group(groups, labels, preds):\n"
            "    return [fn / (fn + tp) for tp, fp, fn, tn in confusion_by_group(groups, labels, preds).tolist()]\n\n\n"
            "def accuracy_by_group(groups, labels, preds):\n"
            "    return [(tp + tn) / (tp + fp + fn + tn)\n"
            "            for tp, fp, fn, tn in confusion_by_group(groups, labels, preds).tolist()]\n")}),
    Variant("gap_keeps_nan", fails=("gap_ignores_undefined",), answers={
        "rate_gap": (
            "def rate_gap(rates):\n"
            "    return float(np.max(rates) - np.min(rates))\n")}),
    Variant("gap_returns_a_tensor", fails=("gap_ignores_undefined",), answers={
        "rate_gap": (
            "def rate_gap(rates):\n"
            "    r = torch.as_tensor(rates, dtype=torch.float64)\n"
            "    r = r[~torch.isnan(r)]\n"
            "    return r.max() - r.min()\n")}),
    Variant("gap_first_minus_last", fails=("gap_ignores_undefined",), answers={
        "rate_gap": (
            "def rate_gap(rates):\n"
            "    defined = [float(r) for r in rates if not np.isnan(r)]\n"
            "    return abs(defined[0] - defined[-1])\n")}),
    # -- a run that goes wrong part-way: only what depends on the broken cell is lost -------------
    Variant("error_in_one_cell", kind="error",
            fails=("group_order", "confusion_counts", "fpr_values", "fnr_values", "accuracy_values",
                   "undefined_rates_nan", "audit_shipped_file"), answers={
        "confusion": "older_claims = load_claims(\"claims_2023.csv\")  # a file only the student has\n\n"
                     + SOLUTION_CONFUSION}),
]
