#!/usr/bin/env python3
"""Maps the cycle plugin's counts (scripts/qemu-cycles/cycles.c, `out=` file) to the firmware's
log and functions.

Usage: attribute.py ELF COUNTS LOG [--top N] [--annotated FILE]

- Annotates the decoded defmt log: every `iter=` line gets `cycles≈N` for its segment, every
  `result` line `cycles≈N cpi=X` for its training count, every `cost` line the cycles of its
  parse and evaluation. The plugin's snapshots (taken at each entry of the firmware's counter read,
  `board::qemu::ticks`) give instruction intervals that must equal the logged counts; a logged
  count with no matching interval is reported and the script exits 1.
- Prints the plugin's totals, the cycles per instruction class, and one per-function table per
  run (epochs start at each run's `RunVisitor::visit`): instructions, modelled cycles,
  cycles/instruction, share of the run's cycles.

Functions come from the ELF symbol table through binutils `nm -C` (reads ARM ELF; Rust names are
demangled), crate paths shortened. Exit status: 0, or 1 when a logged count is not matched.
"""
import re
import subprocess
import sys
from collections import defaultdict

# Instructions. A SysTick reading is exact to the instruction, but the plugin snapshots the
# entry of `board::qemu::ticks` while the firmware's reading comes a few instructions later, and
# one path is longer: when SysTick wrapped with interrupts masked, `ticks` re-reads the counter
# after the pending check (about ten instructions on). That happens when a wrap (one per ~97 k
# instructions) falls in those few instructions, so about one reading in 10 000; a long run
# (gradient descent on digits: 779 readings) met it once, 10 instructions off. Allow that path.
TOLERANCE = 16


def symbols(elf):
    out = subprocess.run(["nm", "-C", "-n", "-S", "--defined-only", elf], check=True,
                         capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        parts = line.split(" ", 3)
        if parts[-1].startswith("$"):  # ARM mapping symbols ($t, $d), not functions
            continue
        if len(parts) == 4 and parts[2] in "tTwW":
            addr, size, name = int(parts[0], 16) & ~1, int(parts[1], 16), parts[3]
            syms.append((addr, size, name))
        elif len(parts) == 3 and parts[1] in "tTwW":
            syms.append((int(parts[0], 16) & ~1, 0, parts[2]))
    syms.sort()
    return syms


def short(name):
    name = re.sub(r"\b[a-z_][a-z0-9_]*::", "", name)  # crate and module paths
    return name


def lookup(syms, starts, pc):
    import bisect
    i = bisect.bisect_right(starts, pc) - 1
    if i < 0:
        return "?"
    addr, size, name = syms[i]
    if size and pc >= addr + size:
        return "? (after %s)" % short(name)
    return short(name)


def read_counts(path):
    total = None
    classes, snaps = [], []
    pcs = defaultdict(list)  # epoch -> [(pc, n, cycles)]
    for line in open(path):
        f = line.split()
        if not f:
            continue
        if f[0] == "T":
            total = (int(f[1]), int(f[2]), " ".join(f[3:]))
        elif f[0] == "C":
            classes.append((f[1], int(f[2]), int(f[3])))
        elif f[0] == "S":
            snaps.append((int(f[2]), int(f[3])))
        elif f[0] == "P":
            pcs[int(f[1])].append((int(f[2], 16), int(f[3]), int(f[4])))
    return total, classes, snaps, pcs


def field(line, key):
    m = re.search(r"\b%s=(\d+)" % re.escape(key), line)
    return int(m.group(1)) if m else None


def main(argv):
    top = 12
    annotated = None
    args = []
    i = 0
    while i < len(argv):
        if argv[i] == "--top":
            top = int(argv[i + 1])
            i += 2
        elif argv[i] == "--annotated":
            annotated = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 3:
        sys.exit(__doc__)
    elf, counts, log = args
    total, classes, snaps, pcs = read_counts(counts)
    if total is None:
        sys.exit("attribute.py: %s has no totals (did QEMU exit normally?)" % counts)
    lines = open(log, encoding="utf-8", errors="replace").read().splitlines()

    # Instruction intervals between consecutive counter reads.
    intervals = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(snaps, snaps[1:])]
    pos = 0
    unmatched = []

    def match(value, what):
        nonlocal pos
        for k in range(pos, len(intervals)):
            if abs(intervals[k][0] - value) <= TOLERANCE:
                pos = k + 1
                return intervals[k]
        unmatched.append("%s=%d" % (what, value))
        return None

    # Group the log into runs: iter lines, then result, then cost (parse/eval come from the cost
    # line but were measured first/last).
    runs = []
    cur = None
    for idx, line in enumerate(lines):
        if " dataset " in line and "train n=" in line:
            cur = {"name": line.split(" dataset ", 1)[1].split(":", 1)[0], "iters": [],
                   "result": None, "cost": None}
            runs.append(cur)
        elif cur is not None and "iter=" in line and field(line, "instructions") is not None:
            cur["iters"].append(idx)
        elif cur is not None and "result dataset=" in line:
            cur["result"] = idx
        elif cur is not None and " cost dataset=" in line:
            cur["cost"] = idx

    notes = {}
    run_cycles = []
    if snaps:
        for run in runs:
            cost = lines[run["cost"]] if run["cost"] is not None else ""
            parse_n, eval_n = field(cost, "parse_instructions"), field(cost, "eval_instructions")
            parse = match(parse_n, run["name"] + " parse") if parse_n is not None else None
            train_n = train_c = 0
            ok = True
            for idx in run["iters"]:
                v = field(lines[idx], "instructions")
                m = match(v, run["name"] + " iter")
                if m is None:
                    ok = False
                    continue
                train_n += m[0]
                train_c += m[1]
                notes[idx] = " cycles≈%d" % m[1]
            if run["result"] is not None:
                res = field(lines[run["result"]], "instructions")
                rest = res - train_n
                m = match(rest, run["name"] + " final segment")
                if m is None or not ok:
                    ok = False
                else:
                    train_n += m[0]
                    train_c += m[1]
                    notes[run["result"]] = " cycles≈%d cpi=%.3f" % (train_c, train_c / max(train_n, 1))
                    run_cycles.append((run["name"], res, train_n, train_c))
            ev = match(eval_n, run["name"] + " eval") if eval_n is not None else None
            if run["cost"] is not None:
                extra = ""
                if parse:
                    extra += " parse_cycles≈%d" % parse[1]
                if ev:
                    extra += " eval_cycles≈%d" % ev[1]
                if ok and train_n:
                    iters = max(len(run["iters"]), 1)
                    extra += " cycles_per_iter≈%d" % round(train_c / iters)
                notes[run["cost"]] = extra

    out = []
    for idx, line in enumerate(lines):
        out.append(line + notes.get(idx, ""))
    if annotated:
        with open(annotated, "w", encoding="utf-8") as f:
            f.write("\n".join(out) + "\n")

    print("== log with modelled cycles (Cortex-M4 TRM timings; flash wait states not modelled)")
    for line in out:
        print(line)
    n, c, params = total
    print()
    print("== cycle model: whole emulation %d instructions, %d modelled cycles, %.3f cycles/instruction (%s)"
          % (n, c, c / max(n, 1), params))
    logged = sum(r[1] for r in run_cycles)
    for name, res, plug_n, plug_c in run_cycles:
        print("   %-22s firmware instructions=%d plugin=%d (diff %+d) cycles≈%d cpi=%.3f"
              % (name, res, plug_n, plug_n - res, plug_c, plug_c / max(plug_n, 1)))
    if run_cycles:
        print("   logged training instructions %d of %d executed (%.2f %%): the rest is boot, parsing,"
              " evaluation and logging" % (logged, n, 100.0 * logged / max(n, 1)))
    print()
    print("== cycles by instruction class (whole emulation)")
    print("   %-18s %14s %14s %6s %7s" % ("class", "instructions", "cycles", "cpi", "share"))
    for name, cn, cc in sorted(classes, key=lambda x: -x[2]):
        print("   %-18s %14d %14d %6.2f %6.1f%%" % (name, cn, cc, cc / max(cn, 1), 100.0 * cc / max(c, 1)))

    syms = symbols(elf)
    starts = [s[0] for s in syms]
    names = ["before the first run (boot)"] + [
        "run %s (its parse, training, evaluation, logging)" % r["name"] for r in runs]
    for e in sorted(pcs):
        per = defaultdict(lambda: [0, 0])
        for pc, pn, pcyc in pcs[e]:
            k = lookup(syms, starts, pc)
            per[k][0] += pn
            per[k][1] += pcyc
        en = sum(v[0] for v in per.values())
        ec = sum(v[1] for v in per.values())
        label = names[e] if e < len(names) else "epoch %d" % e
        print()
        print("== per function, %s: %d instructions, %d cycles, cpi %.3f"
              % (label, en, ec, ec / max(en, 1)))
        print("   %14s %14s %6s %7s  %s" % ("instructions", "cycles", "cpi", "share", "function"))
        rows = sorted(per.items(), key=lambda kv: -kv[1][1])
        for k, (fn_n, fn_c) in rows[:top]:
            print("   %14d %14d %6.2f %6.1f%%  %s" % (fn_n, fn_c, fn_c / max(fn_n, 1), 100.0 * fn_c / max(ec, 1), k))
        if len(rows) > top:
            rn = sum(v[0] for _, v in rows[top:])
            rc = sum(v[1] for _, v in rows[top:])
            print("   %14d %14d %6.2f %6.1f%%  (%d other functions)" % (rn, rc, rc / max(rn, 1), 100.0 * rc / max(ec, 1), len(rows) - top))
    if unmatched:
        print()
        print("attribute.py: no plugin interval matches the logged count(s): " + ", ".join(unmatched))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
