#!/usr/bin/env python3
"""Cross-checks the plugin's instruction classes against a disassembler.

Usage: check-decode.py ELF COUNTS

Disassembles ELF with `llvm-objdump` (LLVM's, reads Thumb-2 and the FPU) and checks, for every
executed PC in COUNTS (the plugin's `out=` file), that the plugin's class agrees with the
mnemonic. Mnemonics the table below does not know are listed, weighted by executions, not failed.
Exit status 0 when every known mnemonic agrees, 1 otherwise, 2 when llvm-objdump is missing.
"""
import re
import shutil
import subprocess
import sys
from collections import defaultdict

CONDS = {"eq", "ne", "hs", "cs", "lo", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt",
         "gt", "le", "al"}

CLASSES = {
    "alu": "adc adcs add adds addw adr and ands asr asrs bfc bfi bic bics clz cmn cmp eor eors "
           "lsl lsls lsr lsrs mov movs movt movw mvn mvns neg negs orn orns orr orrs rbit rev rev16 "
           "revsh ror rors rrx rrxs rsb rsbs sbc sbcs sbfx sub subs subw sxtb sxth teq tst ubfx uxtb uxth "
           "uxtab uxtah sxtab sxtah nop it itt ite ittt itte itet itee itttt ittte ittet ittee "
           "itett itete iteet iteee cpsid cpsie mrs msr dmb dsb isb wfi wfe sev yield ssat usat "
           "bkpt svc sel",
    "mul": "mul muls smulbb smulbt smultb smultt smlabb smlabt smlatb smlatt smlad smladx smlsd "
           "smuad smusd smmul smmla smmls smulwb smulwt smlawb smlawt usad8 usada8",
    "mla/mls": "mla mls",
    "long-mul": "umull smull umlal smlal umaal smlald smlsld smlalbb",
    "div": "udiv sdiv",
    "ldr": "ldr ldrb ldrh ldrsb ldrsh ldrex ldrexb ldrexh pld",
    "str-imm": "str strb strh strex strexb strexh",
    "str-reg": "str strb strh",
    "ldrd/strd": "ldrd strd",
    "ldm/stm/push/pop": "ldm ldmia ldmdb stm stmia stmdb push pop",
    "branch": "b bl blx bx cbz cbnz",
    "tbb/tbh": "tbb tbh",
    "fp-1cyc": "vadd vsub vmul vnmul vabs vneg vcmp vcmpe vcvt vcvtr vcvtb vcvtt vmov vmrs vmsr",
    "vmov-2reg": "vmov",
    "vmla/vfma": "vmla vmls vnmla vnmls vfma vfms vfnma vfnms",
    "vdiv/vsqrt": "vdiv vsqrt",
    "vldr/vstr": "vldr vstr",
    "vldm/vstm": "vldmia vldmdb vstmia vstmdb vpush vpop vldm vstm",
    "other": "udf",
}


def base_mnemonic(m, known):
    m = m.split(".")[0]
    if m in known:
        return m
    if m[-2:] in CONDS and m[:-2] in known:
        return m[:-2]
    return m


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    elf, counts = argv
    tool = shutil.which("llvm-objdump")
    if not tool:
        print("check-decode.py: llvm-objdump not found: decoder cross-check skipped")
        return 2
    known = set()
    for names in CLASSES.values():
        known.update(names.split())
    dis = subprocess.run([tool, "-d", "--triple=thumbv7em-none-eabihf", "--mattr=+vfp4d16sp,+dsp",
                          elf], check=True, capture_output=True, text=True).stdout
    mnem = {}
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*\t(\S+)", line)
        if m:
            mnem[int(m.group(1), 16)] = m.group(2)
    bad = defaultdict(int)
    unknown = defaultdict(int)
    checked = 0
    for line in open(counts):
        f = line.split()
        if not f or f[0] != "P":
            continue
        pc, n, cls = int(f[2], 16), int(f[3]), f[6]
        raw = mnem.get(pc)
        if raw is None:
            unknown["(no disassembly at %#x)" % pc] += n
            continue
        b = base_mnemonic(raw, known)
        if b not in known:
            unknown[raw] += n
            continue
        checked += n
        if b not in CLASSES.get(cls, "").split():
            bad["%s classed %s at %#x" % (raw, cls, pc)] += n
    print("check-decode: %d executed instructions checked against llvm-objdump" % checked)
    for k, v in sorted(unknown.items(), key=lambda kv: -kv[1]):
        print("  not in the table (unchecked): %s x%d" % (k, v))
    for k, v in sorted(bad.items(), key=lambda kv: -kv[1]):
        print("  MISMATCH: %s x%d" % (k, v))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
