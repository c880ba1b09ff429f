/*
 * cycles.c: a QEMU TCG plugin that weights every executed Thumb/Thumb-2 instruction of a
 * Cortex-M4F guest by the Cortex-M4 TRM instruction timings, so an emulated run reports modelled
 * cycles beside its instruction count (issue 10, Deliver 1).
 *
 * Build: scripts/qemu-cycles/build.sh (plain gcc, no QEMU or glib headers needed: the few plugin
 * API declarations are written below, against QEMU 7.2's plugin API version 1).
 * Use:   qemu-system-arm ... -plugin scripts/qemu-cycles/libcycles.so,out=FILE[,refill=2][,div=12]
 *            [,lmul=1][,mark=0xADDR ...][,epoch=0xADDR ...]
 *        At exit it prints one summary line to stderr and, with out=FILE, writes the per-class
 *        totals, the snapshots and per-PC counts that scripts/qemu-cycles/attribute.py reads.
 *        mark=ADDR (repeatable): every execution of the instruction at ADDR records a snapshot
 *          `S <mark#> <instructions so far> <cycles so far>` (the profile marks the firmware's
 *          counter read, so instruction intervals can be matched with the logged counts).
 *        epoch=ADDR (repeatable): every execution of ADDR starts a new epoch for the per-PC
 *          counts (the profile marks each run's entry, giving one kernel table per run);
 *          at most 15 epochs after the first (0 = before any epoch mark), later ones merge.
 *
 * Timing model (cycles per executed instruction; Cortex-M4 TRM "Processor instruction timings"
 * and the FPU's "FPU instruction set" table; P = pipeline refill of a taken branch, N = number
 * of registers transferred):
 *
 *   ALU / shifts / compare / MOV / bit-field / extend / saturate / SIMD / DSP MAC (SMLAxy,
 *     SMLAD, SMMLA, USAD8 ...) / MUL / hints / IT / barriers   1
 *   MLA, MLS                                                   2
 *   UMULL, SMULL, UMLAL, SMLAL, UMAAL, SMLALxy, SMLALD/SMLSLD   1   (M4 single-cycle 32x32+64
 *                                                                    MAC; `lmul=` overrides)
 *   SDIV, UDIV                                                 12  (TRM 2-12 with early
 *                                                                    termination; upper bound,
 *                                                                    `div=` overrides)
 *   LDR/LDRB/LDRH/LDRSB/LDRSH (imm, reg, literal), LDREX      2,  1 when the previous executed
 *                                                                  instruction was a single LDR
 *                                                                  (TRM: "LDR [any] are
 *                                                                  pipelined when possible")
 *   STR/STRB/STRH with immediate offset, STREX                 1   (TRM: address phase only, the
 *                                                                  data goes to the write buffer)
 *   STR/STRB/STRH with register offset                         2,  1 after a single LDR
 *   LDRD, STRD                                                 3   (1+N, N=2, never pipelined)
 *   LDM, STM, PUSH, POP                                        1+N
 *   B, B<cond>, BL, BX, BLX, CBZ, CBNZ                         1, +P when taken
 *   TBB, TBH                                                   2, +P when taken
 *   any instruction that writes the PC (POP {..,pc}, LDR pc, MOV pc, ADD pc, LDM {..,pc})
 *                                                              its own cost +P
 *   VADD, VSUB, VMUL, VNMUL, VABS, VNEG, VCMP, VCVT, VMOV (imm, reg, core<->S), VMRS, VMSR   1
 *   VMOV two core registers <-> two S / one D                  2
 *   VMLA, VMLS, VNMLA, VNMLS, VFMA, VFMS, VFNMA, VFNMS         3
 *   VDIV, VSQRT                                                14
 *   VLDR, VSTR                                                 2
 *   VLDM, VSTM, VPUSH, VPOP                                    1+N (N = words transferred)
 *
 * Assumptions: P = 2 (TRM: 1-3 by target alignment/width and speculation; `refill=` overrides).
 * A branch is taken when the next executed PC is not its fall-through address (so conditional
 * branches, CBZ and IT-predicated branches are resolved from the trace; an interrupt entry right
 * after a not-taken branch would be counted as taken: negligible). Not modelled: flash wait states
 * and the STM32 ART accelerator / caches (5 wait states at 168 MHz on an F405: real code running
 * from flash can be slower), bus contention, the extra cycle when a load/store address depends on
 * the previous instruction's result, FPU register-dependency stalls (a VMLA result used by the
 * next instruction), LDR-from-PC fetch contention, IT folding (IT counts 1), conditional
 * instructions that fail their condition (counted at their full cost), exception entry/exit
 * (12 cycles each, the stacking itself is not an instruction). Instruction counts are QEMU's own:
 * every instruction the translator emits, the same events `-icount` counts.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the QEMU 7.2 plugin API (version 1) declarations this plugin needs ---- */
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t {
    const char *target_name;
    struct {
        int min;
        int cur;
    } version;
    bool system_emulation;
    union {
        struct {
            int smp_vcpus;
            int max_vcpus;
        } system;
    };
} qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
const void *qemu_plugin_insn_data(const struct qemu_plugin_insn *insn);
size_t qemu_plugin_insn_size(const struct qemu_plugin_insn *insn);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
void qemu_plugin_outs(const char *string);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

/* ---- instruction classes ---- */
enum cls {
    C_ALU, C_MUL, C_MLA, C_LMUL, C_DIV, C_LDR, C_STR_IMM, C_STR_REG, C_LDRD, C_LDM, C_BRANCH,
    C_TB, C_FP1, C_FP2, C_FMAC, C_FDIV, C_VLDR, C_VLDM, C_OTHER, C_N
};
static const char *const cls_name[C_N] = {
    "alu", "mul", "mla/mls", "long-mul", "div", "ldr", "str-imm", "str-reg", "ldrd/strd",
    "ldm/stm/push/pop", "branch", "tbb/tbh", "fp-1cyc", "vmov-2reg", "vmla/vfma", "vdiv/vsqrt",
    "vldr/vstr", "vldm/vstm", "other",
};

#define F_WRITES_PC 1u /* may write the PC: +P when the next PC is not the fall-through */
#define F_LOAD1 2u     /* a single LDR: the next single load/store pipelines behind it */
#define F_PIPE 4u      /* a single load / register-offset store: 1 cycle less after an F_LOAD1 */

#define F_MARK 8u      /* a mark= address: record a snapshot */
#define F_EPOCH 16u    /* an epoch= address: start a new epoch */

#define MAX_EPOCHS 16
#define MAX_MARKS 16

struct insn {
    uint64_t pc;
    uint64_t fall;               /* fall-through address */
    uint64_t n[MAX_EPOCHS];      /* executions */
    uint64_t cycles[MAX_EPOCHS]; /* modelled cycles of those executions */
    uint64_t taken[MAX_EPOCHS];
    uint32_t base;               /* cycles of one execution before pipelining / refill */
    uint8_t cls, flags, mark;
    struct insn *next_alloc;
};

struct snap {
    uint8_t mark;
    uint64_t n, cycles;
};

static unsigned refill = 2, div_cycles = 12, lmul_cycles = 1;
static const char *out_path;
static struct insn *all_insns;
static struct insn *prev;
static uint64_t total_n, total_cycles, class_n[C_N], class_cycles[C_N];
static bool reported;
static uint64_t marks[MAX_MARKS], epochs[MAX_MARKS];
static int n_marks, n_epochs;
static unsigned epoch;
static struct snap *snaps;
static size_t n_snaps, cap_snaps;

static unsigned popcount16(uint32_t x) { return (unsigned)__builtin_popcount(x & 0xffffu); }

/* Classifies one instruction; sets *base cycles and *flags. */
static enum cls classify(const uint8_t *p, size_t size, uint32_t *base, uint8_t *flags)
{
    uint32_t hw1 = p[0] | (uint32_t)p[1] << 8;
    *flags = 0;
    *base = 1;
    if (size == 2) {
        if ((hw1 >> 11) == 0x09) { /* LDR literal */
            *base = 2;
            *flags = F_LOAD1 | F_PIPE;
            return C_LDR;
        }
        if ((hw1 >> 12) == 0x5) { /* load/store register offset */
            uint32_t opb = (hw1 >> 9) & 7;
            *base = 2;
            if (opb <= 2) {
                *flags = F_PIPE;
                return C_STR_REG;
            }
            *flags = F_LOAD1 | F_PIPE;
            return C_LDR;
        }
        if ((hw1 >> 13) == 0x3 || (hw1 >> 12) == 0x8 || (hw1 >> 12) == 0x9) {
            /* LDR/STR imm (word, byte), LDRH/STRH imm, LDR/STR SP-relative */
            bool load = (hw1 >> 11) & 1;
            if (load) {
                *base = 2;
                *flags = F_LOAD1 | F_PIPE;
                return C_LDR;
            }
            return C_STR_IMM;
        }
        if ((hw1 >> 12) == 0xc) { /* STM/LDM */
            *base = 1 + popcount16(hw1 & 0xff);
            return C_LDM;
        }
        if ((hw1 >> 12) == 0xd) { /* B<cond>, UDF, SVC */
            uint32_t cond = (hw1 >> 8) & 0xf;
            if (cond < 0xe) {
                *flags = F_WRITES_PC;
                return C_BRANCH;
            }
            return C_OTHER;
        }
        if ((hw1 >> 11) == 0x1c) { /* B */
            *flags = F_WRITES_PC;
            return C_BRANCH;
        }
        if ((hw1 >> 10) == 0x11) { /* special data processing, BX, BLX */
            uint32_t op = (hw1 >> 8) & 3;
            if (op == 3) {
                *flags = F_WRITES_PC;
                return C_BRANCH;
            }
            uint32_t rd = ((hw1 >> 4) & 8) | (hw1 & 7);
            if (op != 1 && rd == 15)
                *flags = F_WRITES_PC;
            return C_ALU;
        }
        if ((hw1 >> 12) == 0xb) { /* miscellaneous */
            if ((hw1 & 0x0500) == 0x0100) { /* CBZ, CBNZ */
                *flags = F_WRITES_PC;
                return C_BRANCH;
            }
            if ((hw1 & 0x0e00) == 0x0400) { /* PUSH */
                *base = 1 + popcount16(hw1 & 0x1ff);
                return C_LDM;
            }
            if ((hw1 & 0x0e00) == 0x0c00) { /* POP */
                *base = 1 + popcount16(hw1 & 0x1ff);
                if (hw1 & 0x100)
                    *flags = F_WRITES_PC;
                return C_LDM;
            }
            return C_ALU; /* ADD/SUB SP, extend, REV, IT, hints, CPS, BKPT */
        }
        if ((hw1 >> 6) == 0x10d) /* MULS */
            return C_MUL;
        return C_ALU; /* shifts, add/sub/mov/cmp imm, data processing, ADR, ADD SP */
    }

    uint32_t hw2 = p[2] | (uint32_t)p[3] << 8;
    uint32_t op1 = (hw1 >> 11) & 3, op2 = (hw1 >> 4) & 0x7f;
    if ((hw1 & 0xec00) == 0xec00) { /* coprocessor space: the FPU (cp10/cp11) */
        uint32_t cop = (hw2 >> 8) & 0xf;
        uint32_t c1 = (hw1 >> 4) & 0x3f;
        if (cop != 10 && cop != 11)
            return C_OTHER;
        if ((c1 & 0x3e) == 0x04) /* VMOV two core registers <-> two S / one D */
        {
            *base = 2;
            return C_FP2;
        }
        if ((c1 & 0x20) == 0) { /* extension register load/store */
            uint32_t pbit = (hw1 >> 8) & 1, wbit = (hw1 >> 5) & 1;
            if (pbit && !wbit) {
                *base = 2;
                return C_VLDR;
            }
            *base = 1 + (hw2 & 0xff); /* imm8 = words transferred */
            return C_VLDM;
        }
        if ((c1 & 0x30) == 0x20 && ((hw2 >> 4) & 1) == 0) { /* VFP data processing */
            uint32_t opc1 = (hw1 >> 4) & 0xb, opc2 = hw1 & 0xf, opc3 = (hw2 >> 6) & 3;
            switch (opc1) {
            case 0x0: case 0x1: case 0x9: case 0xa: /* VMLA/VMLS, VNMLA/VNMLS, VFNMA/S, VFMA/S */
                *base = 3;
                return C_FMAC;
            case 0x8: /* VDIV */
                *base = 14;
                return C_FDIV;
            case 0xb:
                if (opc2 == 1 && opc3 == 3) { /* VSQRT */
                    *base = 14;
                    return C_FDIV;
                }
                return C_FP1;
            default: /* VMUL, VNMUL, VADD, VSUB */
                return C_FP1;
            }
        }
        return C_FP1; /* VMOV core <-> S, VMRS, VMSR */
    }
    if (op1 == 1) {
        if ((op2 & 0x64) == 0x00) { /* load/store multiple (STM, LDM, PUSH, POP .W) */
            uint32_t l = (hw1 >> 4) & 1;
            *base = 1 + popcount16(hw2);
            if (l && (hw2 & 0x8000))
                *flags = F_WRITES_PC;
            return C_LDM;
        }
        if ((op2 & 0x64) == 0x04) { /* dual, exclusive, table branch */
            uint32_t o1 = (hw1 >> 7) & 3, o2 = (hw1 >> 4) & 3, o3 = (hw2 >> 4) & 0xf;
            if (o1 == 1 && o2 == 1 && o3 <= 1) { /* TBB, TBH */
                *base = 2;
                *flags = F_WRITES_PC;
                return C_TB;
            }
            if (o1 == 0 && o2 <= 1) { /* STREX, LDREX */
                if (o2 == 1) {
                    *base = 2;
                    *flags = F_LOAD1 | F_PIPE;
                    return C_LDR;
                }
                return C_STR_IMM;
            }
            if (o1 == 1 && o2 <= 1 && o3 >= 4) { /* STREXB/H, LDREXB/H */
                if (o2 == 1) {
                    *base = 2;
                    *flags = F_LOAD1 | F_PIPE;
                    return C_LDR;
                }
                return C_STR_IMM;
            }
            *base = 3; /* LDRD, STRD */
            if (((hw1 >> 4) & 1) && ((hw2 >> 12) == 15 || ((hw2 >> 8) & 15) == 15))
                *flags = F_WRITES_PC;
            return C_LDRD;
        }
        if ((op2 & 0x60) == 0x20) /* data processing, shifted register (Rd = PC unpredictable) */
            return C_ALU;
        return C_OTHER;
    }
    if (op1 == 2) {
        if ((hw2 & 0x8000) == 0)
            return C_ALU; /* data processing, modified / plain immediate */
        /* branches and miscellaneous control */
        uint32_t o1 = (hw2 >> 12) & 7;
        if ((o1 & 5) == 0) { /* B<cond>.W, or MSR/MRS/hints/barriers */
            if (((hw1 >> 7) & 7) != 7) {
                *flags = F_WRITES_PC;
                return C_BRANCH;
            }
            return C_ALU;
        }
        *flags = F_WRITES_PC; /* B.W, BL */
        return C_BRANCH;
    }
    /* op1 == 3 */
    if ((op2 & 0x71) == 0x00) { /* store single */
        bool reg = (op2 & 0x08) == 0 && ((hw2 >> 6) & 0x3f) == 0;
        if (reg) {
            *base = 2;
            *flags = F_PIPE;
            return C_STR_REG;
        }
        return C_STR_IMM;
    }
    if ((op2 & 0x67) == 0x01 || (op2 & 0x67) == 0x03 || (op2 & 0x67) == 0x05) { /* loads, PLD */
        *base = 2;
        *flags = F_LOAD1 | F_PIPE;
        if ((op2 & 0x67) == 0x05 && (hw2 >> 12) == 15)
            *flags |= F_WRITES_PC; /* LDR pc */
        return C_LDR;
    }
    if ((op2 & 0x70) == 0x20) /* data processing, register */
        return C_ALU;
    if ((op2 & 0x78) == 0x30) { /* multiply, multiply-accumulate, absolute difference */
        uint32_t o1 = (hw1 >> 4) & 7, o2 = (hw2 >> 4) & 3, ra = (hw2 >> 12) & 15;
        if (o1 == 0 && o2 == 0 && ra == 15)
            return C_MUL;
        if (o1 == 0 && o2 <= 1) { /* MLA, MLS */
            *base = 2;
            return C_MLA;
        }
        return C_MUL; /* SMULxy/SMLAxy, SMUAD/SMLAD, SMULWy/SMLAWy, SMMUL/SMMLA, USAD8 ... */
    }
    if ((op2 & 0x78) == 0x38) { /* long multiply, long multiply-accumulate, divide */
        uint32_t o1 = (hw1 >> 4) & 7;
        if (o1 == 1 || o1 == 3) {
            *base = div_cycles;
            return C_DIV;
        }
        *base = lmul_cycles;
        return C_LMUL;
    }
    return C_OTHER;
}

static void exec_cb(unsigned int vcpu, void *ud)
{
    struct insn *c = ud;
    struct insn *p = prev;
    (void)vcpu;
    uint32_t cy = c->base;
    if (p) {
        if ((p->flags & F_WRITES_PC) && c->pc != p->fall) {
            p->cycles[epoch] += refill;
            p->taken[epoch]++;
            class_cycles[p->cls] += refill;
            total_cycles += refill;
        }
        if ((c->flags & F_PIPE) && (p->flags & F_LOAD1) && cy > 1)
            cy--;
    }
    if (c->flags & (F_MARK | F_EPOCH)) {
        if ((c->flags & F_EPOCH) && epoch + 1 < MAX_EPOCHS)
            epoch++;
        if (c->flags & F_MARK) {
            if (n_snaps == cap_snaps) {
                cap_snaps = cap_snaps ? 2 * cap_snaps : 1024;
                snaps = realloc(snaps, cap_snaps * sizeof *snaps);
                if (!snaps)
                    abort();
            }
            /* the counts before this instruction */
            snaps[n_snaps++] = (struct snap){c->mark, total_n, total_cycles};
        }
    }
    c->n[epoch]++;
    c->cycles[epoch] += cy;
    class_n[c->cls]++;
    class_cycles[c->cls] += cy;
    total_n++;
    total_cycles += cy;
    prev = c;
}

static void tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *qi = qemu_plugin_tb_get_insn(tb, i);
        struct insn *r = calloc(1, sizeof *r);
        if (!r)
            abort();
        size_t size = qemu_plugin_insn_size(qi);
        uint8_t bytes[4] = {0, 0, 0, 0};
        memcpy(bytes, qemu_plugin_insn_data(qi), size < 4 ? size : 4);
        /* The width comes from the first halfword: QEMU 7.2 reports size 4 for some 16-bit
         * instructions that end a 1 KiB-aligned block (it has peeked at the next halfword). */
        uint32_t hw1 = bytes[0] | (uint32_t)bytes[1] << 8;
        size = (hw1 >> 11) >= 0x1d ? 4 : 2;
        r->pc = qemu_plugin_insn_vaddr(qi);
        r->fall = r->pc + size;
        r->cls = (uint8_t)classify(bytes, size, &r->base, &r->flags);
        for (int k = 0; k < n_marks; k++)
            if (marks[k] == r->pc) {
                r->flags |= F_MARK;
                r->mark = (uint8_t)k;
            }
        for (int k = 0; k < n_epochs; k++)
            if (epochs[k] == r->pc)
                r->flags |= F_EPOCH;
        r->next_alloc = all_insns;
        all_insns = r;
        qemu_plugin_register_vcpu_insn_exec_cb(qi, exec_cb, QEMU_PLUGIN_CB_NO_REGS, r);
    }
}

static int by_pc(const void *a, const void *b)
{
    const struct insn *x = *(struct insn *const *)a, *y = *(struct insn *const *)b;
    return x->pc < y->pc ? -1 : x->pc > y->pc;
}

static void report(void)
{
    if (reported)
        return;
    reported = true;
    char line[256];
    snprintf(line, sizeof line,
             "cycles-plugin: instructions=%" PRIu64 " cycles=%" PRIu64 " cpi=%.3f "
             "(Cortex-M4 TRM timings, refill=%u div=%u lmul=%u; flash wait states not modelled)\n",
             total_n, total_cycles, total_n ? (double)total_cycles / (double)total_n : 0.0, refill,
             div_cycles, lmul_cycles);
    fputs(line, stderr);
    if (!out_path)
        return;
    FILE *f = fopen(out_path, "w");
    if (!f) {
        fprintf(stderr, "cycles-plugin: cannot write %s\n", out_path);
        return;
    }
    fprintf(f, "T %" PRIu64 " %" PRIu64 " refill=%u div=%u lmul=%u\n", total_n, total_cycles,
            refill, div_cycles, lmul_cycles);
    for (int k = 0; k < C_N; k++)
        if (class_n[k])
            fprintf(f, "C %s %" PRIu64 " %" PRIu64 "\n", cls_name[k], class_n[k],
                    class_cycles[k]);
    for (size_t k = 0; k < n_snaps; k++)
        fprintf(f, "S %u %" PRIu64 " %" PRIu64 "\n", snaps[k].mark, snaps[k].n, snaps[k].cycles);
    /* per PC, translations of the same address merged */
    size_t count = 0;
    for (struct insn *r = all_insns; r; r = r->next_alloc)
        count++;
    struct insn **v = malloc(count * sizeof *v);
    if (v) {
        size_t i = 0;
        for (struct insn *r = all_insns; r; r = r->next_alloc)
            v[i++] = r;
        qsort(v, count, sizeof *v, by_pc);
        for (i = 0; i < count;) {
            size_t j = i;
            for (; j < count && v[j]->pc == v[i]->pc; j++)
                ;
            for (unsigned e = 0; e <= epoch; e++) {
                uint64_t n = 0, cy = 0, tk = 0;
                for (size_t k = i; k < j; k++) {
                    n += v[k]->n[e];
                    cy += v[k]->cycles[e];
                    tk += v[k]->taken[e];
                }
                if (n)
                    fprintf(f, "P %u %08" PRIx64 " %" PRIu64 " %" PRIu64 " %" PRIu64 " %s\n", e,
                            v[i]->pc, n, cy, tk, cls_name[v[i]->cls]);
            }
            i = j;
        }
        free(v);
    }
    fclose(f);
}

static void at_exit_cb(qemu_plugin_id_t id, void *ud)
{
    (void)id;
    (void)ud;
    report();
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info, int argc,
                                                               char **argv)
{
    (void)info;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "out=", 4))
            out_path = strdup(a + 4);
        else if (!strncmp(a, "refill=", 7))
            refill = (unsigned)strtoul(a + 7, NULL, 10);
        else if (!strncmp(a, "div=", 4))
            div_cycles = (unsigned)strtoul(a + 4, NULL, 10);
        else if (!strncmp(a, "lmul=", 5))
            lmul_cycles = (unsigned)strtoul(a + 5, NULL, 10);
        else if (!strncmp(a, "mark=", 5) && n_marks < MAX_MARKS)
            marks[n_marks++] = strtoull(a + 5, NULL, 0) & ~1ull; /* Thumb bit off */
        else if (!strncmp(a, "epoch=", 6) && n_epochs < MAX_MARKS)
            epochs[n_epochs++] = strtoull(a + 6, NULL, 0) & ~1ull;
        else {
            fprintf(stderr,
                    "cycles-plugin: bad argument %s (out=, refill=, div=, lmul=, mark=, epoch=)\n",
                    a);
            return -1;
        }
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, tb_trans);
    qemu_plugin_register_atexit_cb(id, at_exit_cb, NULL);
    /* Semihosting SYS_EXIT ends QEMU with exit(): make sure the figures are written either way. */
    atexit(report);
    return 0;
}
