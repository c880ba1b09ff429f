#!/usr/bin/env python3
"""Per-kernel cost per useful multiply-accumulate from cycle-plugin profiles (issue 10).

Usage: kernel-table.py [--details] SIDE:ELF:PROFILE_DIR:DATA_DIR ...

SIDE is a column label (`before`, `after`); PROFILE_DIR holds what scripts/profile.sh left for
ELF (counts.txt, run.log); DATA_DIR is the tree's data/ (the run's training file is
DATA_DIR/NAME-train.tnds or DATA_DIR/tables/NAME-train.tnds, NAME the log's `dataset`).
Prints one markdown table: kernel x file, calls, instructions and model cycles per useful MAC,
the first SIDE -> the second. Called by scripts/kernel-table.sh, which documents the method.

Attribution. Every executed PC (counts.txt `P` lines, per run = per epoch) gets its call stack
of function names: the PC's own inline chain from the ELF's DWARF (`addr2line -i`), then, for
an out-of-line function, its callers: each direct call site into it (`bl`/`b` to its entry,
from `llvm-objdump -d`) with the number of times it was taken in that run, or the one executed
indirect `blx` site whose count equals the entries the direct calls leave unexplained; the
function's cost split between the sites by those counts (every call of a row kernel reads one row, and every
pass reads all rows, so a call costs the same whichever pass makes it); entries not explained by
direct calls (an indirect call) get the stack `<indirect>`. A stack belongs to the first kernel
whose rule matches it (KERNELS below); the rest is "other" (loss, line search, Cholesky, ...).
"""
import bisect
import re
import struct
import subprocess
import sys
from collections import defaultdict

# Kernel rules, tried in order on the whole call stack (function names' last path segment;
# a closure keeps its parent's: `value_grad::{{closure}}`). `any`: one of these frames on the
# stack; `with`: and also one of these (outside it); `unless`: none of these inside the
# innermost `any` frame (the per-sample loss the gradient's row walk calls back). The
# kernels are the passes over the rows, with their row loops, folding/unfolding of the vector
# and the per-row overhead; not the per-sample loss, sigmoid, `expf`/`log1pf` (the objective).
KERNELS = [
    # Hv = X̃ᵀ(D ⊙ X̃v) + reg·v: `Logistic::hess_vec` (before: inlined in newton_direction,
    # `dot_codes` then `axpy_codes` per row), `hess_vec_keep` / `Rows::hess_vec_codes` (after:
    # the layout's whole pass; dense u8 via the fixed-point pass and its assembly row loops).
    ("Hv", {"hess_vec", "hess_vec_keep", "hess_vec_codes", "hess_vec_codes_each",
            "dot_axpy_codes"}, None, None),
    # The explicit Hessian X̃ᵀDX̃: `hessian_packed` with its row reads (`codes`, `gram_codes`)
    # and rank-one/two updates (`rank_one_sparse`, `rank_two_dense`, ...).
    ("explicit Hessian", {"hessian_packed"}, None, None),
    # X̃d for the line search: `prepare_line` -> `x_times` -> `margins` -> the row dots.
    # After, CG keeps X̃d from its products (`direction_step`: X̃d += α·X̃p per CG iteration,
    # no pass; the products' stores of X̃p are in Hv).
    ("X̃d kept", {"direction_step", "took_step"}, None, None),
    ("X̃d", {"x_times", "prepare_line"}, None, None),
    # The preconditioner's diagonal pass (before only; CG runs with M = I after).
    ("diag (preconditioner)", {"hess_diag"}, None, None),
    # The gradient X̃ᵀa: the row axpys inside `value_grad`/`grad` (before: `axpy_codes` per
    # row; after: `axpy_codes_rows`, dense u8 `axpy_rows_u8` with its assembly loop), and
    # `value_grad_keep` (the pass that also keeps σ(−y⊙z) for the line search).
    ("gradient", {"axpy_codes_rows", "axpy_rows_u8", "axpy_codes", "axpy_codes_rows_each"},
     {"value_grad", "value_grad_keep", "grad"},
     {"value_grad::{{closure}}", "value_grad_keep::{{closure}}", "grad::{{closure}}",
      "loss_and_sigmoids", "expf", "log1pf", "expm1f"}),
]
# Calls of a kernel: the largest entry count among these out-of-line functions (a wrapper and
# the function it wraps both out of line count once); when none is out of line, the log's
# figure named in FALLBACK.
ANCHORS = {
    "Hv": {"hess_vec", "hess_vec_keep", "hess_vec_codes"},
    "explicit Hessian": {"hessian_packed"},
    "X̃d": {"x_times", "prepare_line"},
    "X̃d kept": set(),
    "diag (preconditioner)": {"hess_diag"},
    "gradient": {"value_grad", "value_grad_keep", "grad"},
}
FALLBACK = {"Hv": "cg_iters", "explicit Hessian": "iters", "X̃d": "iters", "X̃d kept": "iters",
            "diag (preconditioner)": "iters", "gradient": "iters+1"}
RELEVANT = set().union(*[k[1] | (k[2] or set()) | (k[3] or set()) for k in KERNELS]) | {"<indirect>"}


def last_segment(name):
    """`<a::B<T> as c::D>::hess_vec` -> `hess_vec`; `a::b::{{closure}}` -> `b::{{closure}}`."""
    for _ in range(4):
        name = re.sub(r"<[^<>]*>", "", name)  # generic arguments, innermost first
    parts = name.strip().split("::")
    if len(parts) > 1 and parts[-1].startswith("{{"):
        return "::".join(parts[-2:])
    return parts[-1]


def run(cmd, stdin=None):
    return subprocess.run(cmd, input=stdin, check=True, capture_output=True, text=True).stdout


class Elf:
    def __init__(self, path):
        self.path = path
        self.funcs = []  # (start, end, name)
        for line in run(["nm", "-C", "-n", "-S", "--defined-only", path]).splitlines():
            parts = line.split(" ", 3)
            if len(parts) == 4 and parts[2] in "tTwW" and not parts[3].startswith("$"):
                start = int(parts[0], 16) & ~1
                self.funcs.append((start, start + int(parts[1], 16), parts[3]))
        self.funcs.sort()
        self.starts = [f[0] for f in self.funcs]
        self.by_start = {f[0]: f for f in self.funcs}
        # Direct calls and tail calls: branch PC -> target function start.
        self.calls = {}
        self.indirect = set()  # `blx rN` sites
        indirect = re.compile(r"^\s*([0-9a-f]+):\s+blx\s+r\d+\s*$")
        branch = re.compile(r"^\s*([0-9a-f]+):\s+(b[a-z]*(?:\.[wn])?)\s+0x([0-9a-f]+)\b")
        for line in run(["llvm-objdump", "-d", "--no-show-raw-insn", path]).splitlines():
            mi = indirect.match(line)
            if mi:
                self.indirect.add(int(mi.group(1), 16))
                continue
            m = branch.match(line)
            if not m or not re.fullmatch(r"b(l|lx)?(eq|ne|cs|cc|hs|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?(\.[wn])?",
                                         m.group(2)):
                continue
            pc, target = int(m.group(1), 16), int(m.group(3), 16) & ~1
            if target in self.by_start and self.func(pc) != self.by_start[target]:
                self.calls[pc] = target
        self.chains = {}

    def func(self, pc):
        i = bisect.bisect_right(self.starts, pc) - 1
        if i < 0:
            return None
        f = self.funcs[i]
        return f if pc < f[1] or f[1] == f[0] else None

    def load_chains(self, pcs):
        """Inline chain (innermost first, ending with the containing function) of every PC."""
        todo = sorted(set(pcs) - set(self.chains))
        if not todo:
            return
        out = run(["addr2line", "-i", "-f", "-C", "-a", "-e", self.path],
                  "".join("0x%x\n" % pc for pc in todo)).splitlines()
        # Per address: its line, then (function, file:line) per frame, innermost first.
        pc, slot = None, 0
        for line in out:
            if slot == 0 and re.fullmatch(r"0x[0-9a-fA-F]+", line):
                pc = int(line, 16)
                self.chains[pc] = []
                continue
            if pc is not None and slot == 0 and line != "??":
                self.chains[pc].append(last_segment(line))
            slot ^= 1
        for pc in todo:
            f = self.func(pc)
            if f is not None:
                seg = last_segment(f[2])
                if not self.chains.get(pc) or self.chains[pc][-1] != seg:
                    self.chains.setdefault(pc, []).append(seg)


def read_counts(path):
    per = defaultdict(dict)  # epoch -> pc -> (n, cycles, taken)
    for line in open(path):
        f = line.split()
        if f and f[0] == "P":
            per[int(f[1])][int(f[2], 16)] = (int(f[3]), int(f[4]), int(f[5]))
    return per


def kernel_of(stack):
    """The kernel of a call stack (innermost frame first)."""
    names = set(stack)
    for kernel, anyof, withof, unless in KERNELS:
        if names & anyof and (withof is None or names & withof):
            inner = next(i for i, s in enumerate(stack) if s in anyof)
            if unless and set(stack[:inner]) & unless:
                continue
            return kernel
    return "other"


def attribute(elf, counts, where=None):
    """kernel -> [instructions, cycles] for one run (epoch); `where`, when a dict, gets
    (kernel, function, innermost frame) -> [instructions, cycles]."""
    elf.load_chains(counts.keys())
    callers = defaultdict(list)  # function start -> [(site pc, taken)]
    for pc, target in elf.calls.items():
        if pc in counts and counts[pc][2]:
            callers[target].append((pc, counts[pc][2]))
    # Indirect calls (`blx rN`: a function pointer, a `dyn` closure): a function whose entries
    # exceed its direct calls by exactly the count of one executed indirect site is taken to be
    # called from there (the row kernel a layout picks per pass is called once per row).
    sites = defaultdict(list)
    for pc in elf.indirect:
        if pc in counts:
            sites[counts[pc][0]].append(pc)
    for start, _, _ in elf.funcs:
        if start not in counts:
            continue
        rest = counts[start][0] - sum(t for _, t in callers.get(start, []))
        if rest > 0 and len(sites.get(rest, [])) == 1:
            callers[start].append((sites[rest][0], rest))
    memo = {}

    def stacks_of_function(start, depth):
        """[(reduced caller stack, weight)], weights summing to 1."""
        if start in memo:
            return memo[start]
        if depth > 24:
            return [(("<deep>",), 1.0)]
        memo[start] = [(("<recursive>",), 1.0)]
        entries = counts.get(start, (0, 0, 0))[0]
        sites = callers.get(start, [])
        total = max(entries, sum(t for _, t in sites), 1)
        dist = defaultdict(float)
        for site, taken in sites:
            for stack, w in stacks_of_pc(site, depth + 1):
                dist[stack] += w * taken / total
        rest = 1.0 - sum(dist.values())
        if rest > 1e-9:
            dist[("<indirect>",)] += rest
        memo[start] = list(dist.items())
        return memo[start]

    def stacks_of_pc(pc, depth):
        own = tuple(s for s in elf.chains.get(pc, []) if s in RELEVANT)
        f = elf.func(pc)
        if f is None:
            return [(own, 1.0)]
        return [(own + up, w) for up, w in stacks_of_function(f[0], depth)]

    totals = defaultdict(lambda: [0.0, 0.0])
    fn_cache = {}
    for pc, (n, cyc, _) in counts.items():
        f = elf.func(pc)
        key = (tuple(s for s in elf.chains.get(pc, []) if s in RELEVANT), f[0] if f else None)
        if key not in fn_cache:
            fn_cache[key] = [(kernel_of(s), w) for s, w in stacks_of_pc(pc, 0)]
        for kernel, w in fn_cache[key]:
            totals[kernel][0] += n * w
            totals[kernel][1] += cyc * w
            if where is not None:
                inner = (elf.chains.get(pc) or ["?"])[0]
                at = where.setdefault((kernel, last_segment(f[2]) if f else "?", inner), [0.0, 0.0])
                at[0] += n * w
                at[1] += cyc * w
    return totals


def anchor_calls(elf, counts, kernel):
    best = 0
    for start, _, name in elf.funcs:
        if last_segment(name) in ANCHORS[kernel] and start in counts:
            best = max(best, counts[start][0])
    return best


def rows_nnz(path):
    """Non-zero codes per row of a packed file (core/src/format/mod.rs, the documented layout)."""
    b = open(path, "rb").read()
    n, m = struct.unpack_from("<II", b, 8)
    enc = b[20]
    stride, _, po, pl = struct.unpack_from("<IIII", b, 40)
    pay = b[po:po + pl]
    if enc == 1:  # u8
        return "u8", [sum(1 for c in pay[i * stride:(i + 1) * stride] if c) for i in range(n)]
    if enc == 2:  # u4, two codes a byte, low nibble first
        out = []
        for i in range(n):
            row = pay[i * stride:(i + 1) * stride]
            out.append(sum(1 for j in range(m) if (row[j // 2] >> (4 * (j % 2))) & 15))
        return "u4", out
    if enc == 3:  # u8-sparse: row offsets
        off = struct.unpack_from("<%dI" % (n + 1), pay, 0)
        return "u8-sparse", [off[i + 1] - off[i] for i in range(n)]
    if enc == 0:  # f32
        vals = struct.unpack_from("<%df" % (n * m), pay, 0)
        return "f32", [sum(1 for v in vals[i * m:(i + 1) * m] if v != 0.0) for i in range(n)]
    raise SystemExit("kernel-table.py: %s: unknown encoding %d" % (path, enc))


def useful_macs(kernel, k):
    nnz = sum(k)
    if kernel == "Hv":
        return 2 * nnz  # x̃_i·v and the update, per non-zero
    if kernel == "explicit Hessian":
        return sum((x + 1) * (x + 2) // 2 for x in k)  # k_i(k_i+1)/2 with the bias
    return nnz  # gradient, X̃d, diagonal: one per non-zero


def runs_of(log):
    runs = []
    for line in open(log, encoding="utf-8", errors="replace"):
        m = re.search(r" dataset (\S+?): train n=", line)
        if m:
            runs.append({"name": m.group(1)})
        m = re.search(r"result dataset=(\S+) solver=(\S+) .*?iters=(\d+) cg_iters=(\d+)", line)
        if m and runs:
            runs[-1].update(solver=m.group(2), iters=int(m.group(3)), cg_iters=int(m.group(4)))
    return runs


def main(argv):
    details = "--details" in argv
    specs = [a for a in argv if a != "--details"]
    if not specs:
        sys.exit(__doc__)
    sides = []
    cells = {}  # (kernel, run name) -> side -> figures
    order = []
    for spec in specs:
        side, elf_path, prof, data = spec.split(":", 3)
        if side not in sides:
            sides.append(side)
        elf = Elf(elf_path)
        per = read_counts(prof + "/counts.txt")
        runs = runs_of(prof + "/run.log")
        for e, r in enumerate(runs, start=1):
            if e not in per:
                continue
            name = r["name"]
            train = None
            for cand in (data + "/" + name + "-train.tnds", data + "/tables/" + name + "-train.tnds"):
                try:
                    open(cand, "rb").close()
                    train = cand
                    break
                except OSError:
                    pass
            if train is None:
                sys.exit("kernel-table.py: no training file for run %s under %s" % (name, data))
            layout, k = rows_nnz(train)
            where = {} if details else None
            totals = attribute(elf, per[e], where)
            if details:
                print("# %s %s (%s, %s):" % (side, name, layout, r.get("solver")), file=sys.stderr)
                for kern, (n, c) in sorted(totals.items(), key=lambda kv: -kv[1][1]):
                    print("#   %-22s %14.0f instr %14.0f cycles" % (kern, n, c), file=sys.stderr)
                    parts = sorted(((v, w) for v, w in where.items() if v[0] == kern),
                                   key=lambda vw: -vw[1][1])
                    for (_, fn, inner), (pn, pc) in parts[:6]:
                        print("#       %12.0f %12.0f  %s / %s" % (pn, pc, fn, inner), file=sys.stderr)
            # X̃d kept during CG is X̃d's cost in that run (a pass where CG was not used).
            kept = totals.pop("X̃d kept", [0.0, 0.0])
            if kept[0] >= 1:
                xd = totals.setdefault("X̃d", [0.0, 0.0])
                r["kept"] = kept[0] > xd[0]
                xd[0] += kept[0]
                xd[1] += kept[1]
            for kern, *_ in KERNELS:
                if kern not in totals or totals[kern][0] < 1:
                    continue
                calls = anchor_calls(elf, per[e], kern)
                how = "entries"
                if calls == 0 or (kern == "X̃d" and r.get("kept")):
                    f = FALLBACK[kern]
                    calls = r.get(f.split("+")[0], 0) + (1 if f.endswith("+1") else 0)
                    how = "log " + f
                macs = calls * useful_macs(kern, k)
                key = (kern, name)
                if key not in order:
                    order.append(key)
                n, c = totals[kern]
                cells.setdefault(key, {})[side] = dict(
                    layout=layout, solver=r.get("solver"), calls=calls, how=how, instr=n, cycles=c,
                    macs=macs, ipm=n / max(macs, 1), cpm=c / max(macs, 1),
                    kept=kern == "X̃d" and r.get("kept", False))
    rank = {"Hv": 0, "gradient": 1, "X̃d": 2, "explicit Hessian": 3, "diag (preconditioner)": 4}
    category = {"u8": (0, "u8 dense"), "u8-sparse": (1, "u8 sparse"), "u4": (2, "u4"),
                "f32": (3, "f32")}

    # A file's layout on each side (from any of its kernels: a kernel gone after still names
    # the file's layout today).
    file_layout = defaultdict(dict)
    for (_, name), row in cells.items():
        for side, c in row.items():
            file_layout[name][side] = c["layout"]

    def layout_of(row):
        name = next(n for (_, n), r in cells.items() if r is row)
        lay = file_layout[name]
        last = lay[sides[-1]] if sides[-1] in lay else next(iter(lay.values()))
        cat = category[last]
        was = [lay[s] for s in sides[:-1] if s in lay and lay[s] != last]
        return cat[0], cat[1] + ("" if not was else " (%s: %s)" % (
            sides[0], "dense u8" if was[0] == "u8" else was[0]))

    order.sort(key=lambda kn: (rank[kn[0]], layout_of(cells[kn])[0], kn[1]))

    def fig(row, side, key):
        c = row.get(side)
        if not c:
            return "—"
        return ("%.2f" % c[key]) + (" (kept)" if c["kept"] else "")

    arrow = " → ".join(sides)
    print("| kernel | layout | file, solver | calls %s | useful MACs a call | instructions per MAC %s"
          " | model cycles per MAC %s |" % (arrow, arrow, arrow))
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kern, name in order:
        row = cells[(kern, name)]
        any_cell = next(iter(row.values()))
        print("| %s | %s | %s, %s | %s | %d | %s | %s |" % (
            kern, layout_of(row)[1], name, any_cell["solver"],
            " → ".join(str(row[s]["calls"]) if s in row else "—" for s in sides),
            any_cell["macs"] // max(any_cell["calls"], 1),
            " → ".join(fig(row, s, "ipm") for s in sides),
            " → ".join(fig(row, s, "cpm") for s in sides)))
    if details:
        for (kern, name), row in ((k, cells[k]) for k in order):
            for s in sides:
                if s in row:
                    c = row[s]
                    print("# %s %s %s: calls %d (%s), %.0f instructions, %.0f cycles, %d MACs" % (
                        kern, name, s, c["calls"], c["how"], c["instr"], c["cycles"], c["macs"]),
                        file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
