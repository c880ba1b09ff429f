#!/usr/bin/env python3
"""One-off comparison of the softmax reference with scikit-learn's multinomial LogisticRegression.

Not used by any test (tests must not need Python). Two subcommands:

  sklearn-multinomial.py dump {digits,iris} OUT.csv
      scikit-learn's bundled dataset, min-max scaled per feature over the whole data,
      (x - min) / (max - min) (a constant feature becomes 0), written as CSV: a header, then one
      row per sample, the m feature values (shortest round-trip repr, so the Rust side parses
      the identical f64 matrix) and the class index 0..K-1 last.

  sklearn-multinomial.py fit IN.csv [--solver newton-cg|lbfgs]
      Fits LogisticRegression(C=1.0, tol=1e-10, max_iter=10000) (multinomial: the only
      behaviour for K > 2 in scikit-learn >= 1.8) and prints, computed here in numpy,

          f = 1/2 ||coef||^2 + sum_i ( logsumexp(s_i) - s_{i, y_i} ),   s = X coef^T + intercept

      the intercept not penalised. That is the objective scikit-learn minimises up to a positive
      factor: `_logistic_regression_path` passes `l2_reg_strength = 1 / (C * sw_sum)` to
      `LinearModelLoss`, whose objective is the *mean* loss plus `l2_reg_strength / 2 ||coef||^2`
      (intercept excluded), i.e. (1 / (C n)) * (C * sum_i CE_i + 1/2 ||coef||^2). With C = 1 it
      has the minimiser and (times n) the value of the reference's free-bias objective.
      With K = 2 scikit-learn fits a binary model instead; the script then fits C = 2 and halves
      the value (the two-class softmax correspondence), which the reference must also match.

The companion Rust side: `cargo run -p host-tests --release --example softmax_oneoff -- objective
IN.csv` (and `csv-from-packed` to write IN.csv from a packed file).
"""

import argparse
import sys

import numpy as np


def dump(name, out):
    from sklearn import datasets

    loader = {"digits": datasets.load_digits, "iris": datasets.load_iris}[name]
    data = loader()
    x = np.asarray(data.data, dtype=np.float64)
    y = np.asarray(data.target, dtype=np.int64)
    lo = x.min(axis=0)
    span = x.max(axis=0) - lo
    x = (x - lo) / np.where(span > 0, span, 1.0)
    with open(out, "w") as f:
        f.write(",".join([f"x{j}" for j in range(x.shape[1])] + ["class"]) + "\n")
        for row, c in zip(x, y):
            f.write(",".join([repr(float(v)) for v in row] + [str(int(c))]) + "\n")
    print(f"{name}: n = {x.shape[0]}, m = {x.shape[1]}, K = {len(np.unique(y))} -> {out}")


def read_csv(path):
    raw = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return raw[:, :-1], raw[:, -1].astype(np.int64)


def fit(path, solver):
    import math

    import sklearn
    from sklearn.linear_model import LogisticRegression

    x, y = read_csv(path)
    k = len(np.unique(y))
    # K = 2: scikit-learn fits one binary vector, not two softmax columns. The two-class softmax
    # optimum is w_0 = -w_1 = v/2 with v the binary optimum at doubled cost, and its value is
    # half the binary one (softmax_reference.rs module doc), so fit C = 2 and halve.
    c = 2.0 if k == 2 else 1.0
    model = LogisticRegression(C=c, tol=1e-10, max_iter=10000, solver=solver)
    model.fit(x, y)
    coef, intercept = model.coef_, model.intercept_
    s = x @ coef.T + intercept
    if k == 2:
        # s is the logit of class 1; the loss of class y is log(1 + exp(-(2y - 1) s)).
        t = (2 * y - 1) * s[:, 0]
        ce = c * np.logaddexp(0.0, -t)
        scale = 0.5
    else:
        assert coef.shape == (k, x.shape[1]), "multinomial: one weight vector per class"
        smax = s.max(axis=1, keepdims=True)
        lse = smax[:, 0] + np.log(np.exp(s - smax).sum(axis=1))
        ce = lse - s[np.arange(len(y)), y]
        scale = 1.0
    reg = 0.5 * np.sum(coef * coef)
    # math.fsum rounds the sum once: the printed value carries only the terms' own round-off.
    objective = scale * math.fsum([reg] + list(ce))
    print(f"scikit-learn {sklearn.__version__}, solver {solver}, n_iter {model.n_iter_}")
    print(f"n = {x.shape[0]}, m = {x.shape[1]}, K = {k}" + (" (binary fit at C = 2, value halved)" if k == 2 else ""))
    print(f"objective {objective:.17g}")
    print(f"regulariser {scale * reg:.17g}")
    print(f"loss {scale * math.fsum(ce):.17g}")
    print(f"sum of intercepts {intercept.sum():.3e}")
    print(f"training accuracy {np.mean(model.predict(x) == y):.6f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("dump")
    d.add_argument("dataset", choices=["digits", "iris"])
    d.add_argument("out")
    f = sub.add_parser("fit")
    f.add_argument("csv")
    f.add_argument("--solver", default="newton-cg", choices=["newton-cg", "lbfgs"])
    args = parser.parse_args()
    if args.command == "dump":
        dump(args.dataset, args.out)
    else:
        fit(args.csv, args.solver)
    return 0


if __name__ == "__main__":
    sys.exit(main())
