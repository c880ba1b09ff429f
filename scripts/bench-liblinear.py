#!/usr/bin/env python3
"""The host side-by-side with LIBLINEAR 2.50 and its table (run by scripts/bench-liblinear.sh).

Asks our criterion bench (core/benches/train.rs) for its files and settings: one JSON object
per file with its path, C, class counts, our report and our weights. Then for each file:

0. runs the bench on that file alone and reads criterion's estimates of our training time;
1. exports the packed file's dequantised values with our own tool (`tinynewton export
   --libsvm`: the very f32 values our solver reads, in shortest round-trip decimal) and loads
   them into a LIBLINEAR problem (untimed);
2. trains LIBLINEAR once with its iteration log captured (iterations, CG steps), then times
   `train()` -- the C library's entry point through ctypes, nothing else inside the timer --
   with LIBLINEAR's own output silenced, in samples of back-to-back calls as criterion times
   ours (median and best of the sample means on both sides);
3. evaluates both weight vectors' objectives and relative gradients in f64 on the same data.

Matched settings: `-s 0` (L2-regularised logistic regression, primal Newton), `-B 1` (bias
feature 1, regularised like ours), `-c C` as ours (`-wi` when the two class costs differ),
and the stopping tolerance below.

Stopping rule. Ours stops when ||grad f(w)|| <= eps * ||grad f(0)|| with eps = 1e-5
(`Settings::epsilon`). LIBLINEAR 2.50's `train_one` (linear.cpp) hands its Newton solver
`eps_newton = e * max(min(#pos, #neg), 1) / n`, and `NEWTON::newton` (newton.cpp) stops when
||grad f(w)|| <= eps_newton * ||grad f(0)||, where grad f(0) is taken at w = 0 as ours is, on
the same objective (with -B 1 and without -R the bias is regularised, like
`BiasMode::Regularized`). Both tests are checked after every accepted Newton step, so the two
rules coincide exactly when

    e * max(min(#pos, #neg), 1) / n = eps   <=>   e = eps * n / max(min(#pos, #neg), 1),

e.g. 7-vs-1 MNIST (n = 1757, 852 sevens, 905 ones): e = 1e-5 * 1757 / 852 = 2.0622e-5;
digits 6-vs-rest (n = 1437, 156 sixes): e = 9.2115e-5. What still differs: LIBLINEAR computes
in f64, ours in f32; its CG stops on a quadratic-model test (`cg_iter * Qdiff >=
min(0.5, sqrt(||g||_M^-1)) * Q`) where ours stops on the residual (`||r|| <= min(0.5,
sqrt(||g||)) ||g||`); it also stops when a step changes f by <= 1e-12 |f|, ours when the change
is below f32 noise. So iteration counts may differ by one or two; the objectives must agree to
the accuracy both tolerances give (EVALUATION_SLACK below says by how much).
"""

import argparse
import ctypes
import gc
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np
from scipy import sparse

from liblinear import liblinear as ll
from liblinear.commonutil import svm_read_problem

# The C library (ctypes CDLL) the Python bindings call.
CLIB = ll.liblinear

# The clock both sides read (core/benches/train.rs reads the same variable): the calling
# thread's CPU time by default, so time the machine's other work takes is left out; `wall` for
# a quiet machine.
CLOCK = os.environ.get("TINYNEWTON_BENCH_CLOCK") or "cpu"
if CLOCK not in ("cpu", "wall"):
    sys.exit(f"TINYNEWTON_BENCH_CLOCK={CLOCK!r}: expected cpu or wall")
now_ns = time.thread_time_ns if CLOCK == "cpu" else time.perf_counter_ns

# How far apart two near-optimal objectives may be. f is 1-strongly convex (Hessian
# I + X~'DX~ >= I: every weight is regularised), so f(w) - f* <= ||grad f(w)||^2 / 2 for any w;
# both values are >= f*, hence |f(w_ours) - f(w_LL)| <= max(||g_ours||^2, ||g_LL||^2) / 2, with
# both gradients evaluated here in f64. The slack covers this evaluation's own round-off (a sum
# of n terms of f64: relative error below n * 2^-53 < 1e-12 for n < 9000, doubled for the two
# values). A difference beyond the bound means the two programs did not solve the same problem
# (another C, bias mode or data): a real error, not noise.
EVALUATION_SLACK = 2e-12


CLOCK_NAME = {"cpu": "the thread's CPU time", "wall": "wall-clock time"}


def liblinear_eps(epsilon, positives, negatives):
    """LIBLINEAR's `-e` that makes its -s 0 stopping rule ours (derivation in the module doc)."""
    n = positives + negatives
    return epsilon * n / max(min(positives, negatives), 1)


def load(tool, run, workdir):
    """The file's samples as (y, csr X of shape n x m), through `tinynewton export --libsvm`."""
    text = os.path.join(workdir, run["label"] + ".libsvm")
    subprocess.run([tool, "export", "--libsvm", run["path"], "-o", text], check=True)
    y, x = svm_read_problem(text, return_scipy=True)
    n, m = run["n"], run["m"]
    if len(y) != n:
        sys.exit(f"{run['label']}: export has {len(y)} samples, the bench trained on {n}")
    # Columns all zero at the end are absent from LIBSVM text: give X its full width so
    # LIBLINEAR's weight vector (and the bias index m + 1) lines up with ours.
    x = sparse.csr_matrix((x.data, x.indices, x.indptr), shape=(n, m))
    if run["method"] == "ovr":
        counts = [int(np.sum(y == k)) for k in range(len(run["class_counts"]))]
        if counts != run["class_counts"]:
            sys.exit(f"{run['label']}: class counts differ between the export and the bench")
        return y, x
    positives = int(np.sum(y > 0))
    if (positives, n - positives) != (run["positives"], run["negatives"]):
        sys.exit(f"{run['label']}: class counts differ between the export and the bench")
    return y, x


def binary_problems(run, y):
    """The run's binary problems as (name, labels +-1, positives, negatives, our weights):
    the file itself, or for one-vs-rest class k against the rest (LIBLINEAR's -s 0 on K
    classes trains exactly these K problems; here each gets its own matched -e, since the
    stopping rule's scale min(#pos, #neg) / n differs from class to class)."""
    w = np.array(run["weights"], dtype=np.float64)
    if run["method"] != "ovr":
        return [(run["label"], y, run["positives"], run["negatives"], w)]
    dim = run["m"] + 1
    n = run["n"]
    return [
        (f"{run['label']} class {k}", np.where(y == k, 1.0, -1.0), count, n - count,
         w[k * dim:(k + 1) * dim])
        for k, count in enumerate(run["class_counts"])
    ]


def objective_and_grad(w_full, y, x, c_pos, c_neg):
    """f(w) = 1/2 ||w~||^2 + sum_i C_yi log(1 + exp(-y_i w~.x~_i)), ||grad f(w)|| and
    ||grad f(0)||, in f64 (bias last, regularised)."""
    w, b = w_full[:-1], w_full[-1]
    c = np.where(y > 0, c_pos, c_neg)
    z = x @ w + b
    f = 0.5 * (w @ w + b * b) + np.sum(c * np.logaddexp(0.0, -y * z))
    # d/dz of the loss: C y (sigma(y z) - 1) = -C y sigma(-y z)
    s = -c * y * 0.5 * (1.0 - np.tanh(0.5 * y * z))
    g = np.append(w + x.T @ s, b + np.sum(s))
    s0 = -c * y * 0.5
    g0 = np.append(x.T @ s0, np.sum(s0))
    return f, np.linalg.norm(g), np.linalg.norm(g0)


def liblinear_options(run, e, quiet):
    c_pos, c_neg = run["c_pos"], run["c_neg"]
    opts = f"-s 0 -B 1 -e {e!r}"
    if c_pos == c_neg:
        opts += f" -c {c_pos!r}"
    else:
        opts += f" -c 1 -w1 {c_pos!r} -w-1 {c_neg!r}"
    return opts + (" -q" if quiet else "")


def train_logged(prob, opts):
    """One LIBLINEAR run with its log captured: (weights with the bias last, for the +1 class;
    Newton iterations; CG steps; log lines)."""
    lines = []
    callback = ll.PRINT_STRING_FUN(lambda s: lines.append(s.decode()))
    param = ll.parameter(opts)
    # What liblinearutil.train does before calling the library: the bias node of every row.
    prob.set_bias(param.bias)
    CLIB.set_print_string_function(callback)
    err = CLIB.check_parameter(prob, param)
    if err:
        sys.exit(f"LIBLINEAR refuses {opts!r}: {err.decode()}")
    model = ll.toPyModel(CLIB.train(prob, param))
    CLIB.set_print_string_function(ll.ctypes_print_null)
    w, b = model.get_decfun()
    # The decision function is positive for the model's first label.
    sign = 1.0 if model.get_labels()[0] == 1 else -1.0
    w_full = sign * np.array(list(w) + [b])
    log = "".join(lines).splitlines()
    iters = [ln for ln in log if ln.startswith("iter")]
    cg = sum(int(ln.split("CG")[1].split()[0]) for ln in iters)
    return w_full, len(iters), cg, log


def time_liblinear(problems, samples, seconds):
    """Seconds per training as criterion measures ours: after a warm-up, `samples` samples of
    `k` back-to-back trainings each (k chosen so the samples take about `seconds` in all), one
    mean per sample. A training is one `train()` call per (problem, options) in `problems`
    (one-vs-rest: the K class problems in turn, as LIBLINEAR's own multi-class loop does).
    Samples of many calls, like criterion's, see the machine's other load the way our samples
    do; a single short call can slip between two interruptions that a criterion sample of the
    same program would absorb."""
    params = []
    for prob, opts in problems:
        param = ll.parameter(opts)
        prob.set_bias(param.bias)
        params.append((prob, param))
    CLIB.set_print_string_function(ll.ctypes_print_null)

    def calls(k):
        # Each model is freed at once (two small `free`s, nothing beside a training run), so
        # every call finds the allocator as a single call would.
        t0 = now_ns()
        for _ in range(k):
            for prob, param in params:
                CLIB.free_and_destroy_model(ctypes.pointer(CLIB.train(prob, param)))
        return (now_ns() - t0) * 1e-9

    gc.disable()
    try:
        # Warm-up (criterion's default share: 3 s of 8), which also estimates one call.
        warm, n = 0.0, 0
        while warm < 0.375 * seconds or n < 3:
            warm += calls(1)
            n += 1
        k = max(1, round(seconds / samples / (warm / n)))
        means = [calls(k) / k for _ in range(samples)]
    finally:
        gc.enable()
    return means, k


def ours_times(criterion_dir, label):
    """(median, best) seconds per training from criterion's estimates and samples."""
    base = os.path.join(criterion_dir, "train-files", label, "new")
    with open(os.path.join(base, "estimates.json")) as f:
        median = json.load(f)["median"]["point_estimate"] * 1e-9
    with open(os.path.join(base, "sample.json")) as f:
        sample = json.load(f)
    best = min(t / k for t, k in zip(sample["times"], sample["iters"])) * 1e-9
    return median, best


def fmt_time(s):
    if s >= 1.0:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} us"


def run_bench(args, files, summary, extra):
    """Our criterion bench on `files` (comma-separated labels; empty: all), its summary to
    `summary`."""
    env = dict(os.environ)
    env.update(
        TINYNEWTON_BENCH_FILES=files,
        TINYNEWTON_BENCH_SUMMARY=os.path.abspath(summary),
        CRITERION_HOME=os.path.abspath(args.criterion),
    )
    cmd = ["cargo", "bench", "--quiet", "-p", "tinynewton", "--bench", "train", "--"] + extra
    subprocess.run(cmd, env=env, check=True)
    with open(summary) as f:
        return [json.loads(line) for line in f if line.strip()]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", default="", help="comma-separated bench labels (default all)")
    ap.add_argument("--criterion", required=True, help="CRITERION_HOME for our bench")
    ap.add_argument(
        "--criterion-args", default="", help="extra arguments of the criterion bench binary"
    )
    ap.add_argument("--tool", required=True, help="the `tinynewton` binary (for export)")
    ap.add_argument("--workdir", required=True, help="summaries and exports go here")
    ap.add_argument("--samples", type=int, default=20, help="LIBLINEAR samples (as criterion's)")
    ap.add_argument("--seconds", type=float, default=5.0, help="LIBLINEAR's measurement time")
    ap.add_argument("--verbose", action="store_true", help="print LIBLINEAR's iteration logs")
    args = ap.parse_args()

    # The file list and settings have one home, the bench: ask it (criterion's --list trains
    # each file once for the summary and times nothing).
    runs = run_bench(args, args.files, os.path.join(args.workdir, "ours.jsonl"), ["--list"])
    if not runs:
        sys.exit("the bench's summary is empty")

    rows, failures = [], []
    for run in runs:
        # Ours, then LIBLINEAR, file by file: the two timings of a file are taken within
        # seconds of each other, so a change in the machine's other load moves both.
        timed = run_bench(
            args,
            run["label"],
            os.path.join(args.workdir, "ours-" + run["label"] + ".jsonl"),
            args.criterion_args.split() + ["--noplot"],
        )
        if [r["weights"] for r in timed] != [run["weights"]]:
            sys.exit(f"{run['label']}: the timed bench trained to other weights")
        t_ours, best_ours = ours_times(args.criterion, run["label"])

        y, x = load(args.tool, run, args.workdir)
        timed_problems = []
        f_ours = f_ll = 0.0
        worst_ours = worst_ll = 0.0
        it_ll = cg_ll = 0
        es = []
        for name, yk, pos, neg, w_ours in binary_problems(run, y):
            e = liblinear_eps(run["epsilon"], pos, neg)
            es.append(e)
            prob = ll.problem(yk, x)
            w_ll, it, cg, log = train_logged(prob, liblinear_options(run, e, quiet=False))
            it_ll, cg_ll = it_ll + it, cg_ll + cg
            if args.verbose:
                print(f"--- LIBLINEAR on {name} ({liblinear_options(run, e, False)})")
                print("\n".join(log))
            timed_problems.append((prob, liblinear_options(run, e, quiet=True)))
            if len(w_ours) != run["m"] + 1 or len(w_ll) != run["m"] + 1:
                sys.exit(f"{name}: weight counts {len(w_ours)} / {len(w_ll)}, expected m + 1")
            fo, go, g0 = objective_and_grad(w_ours, yk, x, run["c_pos"], run["c_neg"])
            fl, gl, _ = objective_and_grad(w_ll, yk, x, run["c_pos"], run["c_neg"])
            f_ours, f_ll = f_ours + fo, f_ll + fl
            worst_ours, worst_ll = max(worst_ours, go / g0), max(worst_ll, gl / g0)
            # LIBLINEAR stopped on ||g|| <= eps ||g(0)|| evaluated in f64 on its problem: on
            # ours (the same one, if the settings match) the same test must hold up to
            # round-off.
            if not gl / g0 <= run["epsilon"] * (1.0 + 1e-6):
                failures.append(
                    f"{name}: LIBLINEAR's weights have ||g||/||g(0)|| = {gl / g0:.3e} on our "
                    f"objective, above eps = {run['epsilon']}: it solved another problem"
                )
            bound = 0.5 * max(go, gl) ** 2 + EVALUATION_SLACK * abs(fl)
            if not abs(fo - fl) <= bound:
                failures.append(
                    f"{name}: objectives differ by {abs(fo - fl):.3e}, more than "
                    f"max(||g||)^2/2 = {bound:.3e} allows between two points near one optimum"
                )
        means, k = time_liblinear(timed_problems, args.samples, args.seconds)
        t_ll, best_ll = statistics.median(means), min(means)
        rel = (f_ours - f_ll) / abs(f_ll)
        gr_ours, gr_ll = worst_ours, worst_ll
        # One -e for a binary file, the range of the classes' for one-vs-rest.
        e_text = f"{es[0]:.4g}" if len(es) == 1 else f"{min(es):.4g}-{max(es):.4g}"
        rows.append(
            (
                run["label"],
                run["solver"],
                f"{fmt_time(t_ours)} ({fmt_time(best_ours)})",
                f"{fmt_time(t_ll)} ({fmt_time(best_ll)}, {len(means)}x{k})",
                f"{t_ours / t_ll:.2f} ({best_ours / best_ll:.2f})",
                f"{f_ours:.9g}",
                f"{f_ll:.9g}",
                f"{rel:+.1e}",
                f"{run['iterations']}/{run['cg_iterations']}",
                f"{it_ll}/{cg_ll}",
                f"{gr_ours:.1e}/{gr_ll:.1e}",
                e_text,
            )
        )

    head = (
        "file",
        "ours",
        "ours median (best)",
        "LIBLINEAR median (best, samples x calls)",
        "ratio (of bests)",
        "f ours (f64)",
        "f LIBLINEAR",
        "rel. diff",
        "ours Newton/CG",
        "LIBLINEAR Newton/CG",
        "grad_rel ours/LL",
        "-e",
    )
    print()
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join(" --- " for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    print(
        "One-vs-rest rows (-ovr): K binary problems, class k against the rest, each with its "
        "own matched -e; times, objectives (summed over the classes), Newton/CG counts "
        "(summed) and grad_rel (the largest class's) are the whole run's. "
        "ratio = our median / LIBLINEAR's (< 1: we are faster); in parentheses best / best, "
        "the estimate least moved by other load on the machine. Both: median and best of "
        f"per-sample means (criterion's for ours) of {CLOCK_NAME[CLOCK]}. Ours: criterion, whole "
        "`tinynewton::train` (f32); LIBLINEAR 2.50: `train()` only (f64), -s 0 -B 1, -e matched "
        "to eps = 1e-5 relative gradient. Objectives and grad_rel recomputed in f64 from both "
        "weight vectors on the same dequantised data. Single thread each."
    )
    for msg in failures:
        print(f"error: {msg}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
