//! Memory accounting from the linker's symbols, and the peak stack measured by painting.
//!
//! Painting: at the start of `main` every word between the end of the statics (`__sheap`) and a
//! little below the current stack pointer is set to a pattern; at the end the lowest word that
//! no longer holds it is the stack's high-water mark. (Only an estimate from below if a frame
//! reserved stack it never wrote, which is why the margin and the scan are word-exact.)

use core::ptr::{addr_of, read_volatile, write_volatile};

/// The paint. Any value works; this one is unlikely to be written by the solver (it is a NaN
/// payload as an f32 and an odd, unaligned address as a pointer).
const PAINT: u32 = 0xDEAD_BEEF;

/// Bytes below the stack pointer left unpainted, for the painting function's own frame.
const MARGIN: usize = 64;

// Taking the address of an extern static is safe (Rust 1.82+); they are never read.
extern "C" {
    static __vector_table: u32;
    // End of the vector table (build.rs's memory.x) and start of the code (cortex-m-rt): the
    // same address unless the board keeps flash between them (the F411's model sectors).
    static __evector_table: u32;
    static _stext: u32;
    static __sdata: u32;
    static __edata: u32;
    static __sidata: u32;
    static __sheap: u32;
    static _stack_start: u32;
}

fn sheap() -> usize {
    addr_of!(__sheap) as usize
}

fn stack_start() -> usize {
    addr_of!(_stack_start) as usize
}

/// Fills the free RAM between the statics and the stack pointer with `PAINT`.
#[inline(never)]
pub fn paint_stack() {
    let sp = cortex_m::register::msp::read() as usize;
    let mut at = sheap();
    while at + 4 <= sp - MARGIN {
        // SAFETY: [__sheap, sp - MARGIN) is RAM that belongs to no static and lies below every
        // live stack frame, so nothing reads it before it is written again.
        unsafe { write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// Deepest stack use since `paint_stack`, in bytes.
#[inline(never)]
pub fn peak_stack() -> usize {
    let mut at = sheap();
    let top = stack_start();
    // SAFETY: reads words of the painted region, all inside RAM.
    while at < top && unsafe { read_volatile(at as *const u32) } == PAINT {
        at += 4;
    }
    top - at
}

/// Bytes of RAM the statics take: `.data`, `.bss` and `.uninit`.
pub fn static_ram() -> usize {
    sheap() - addr_of!(__sdata) as usize
}

/// Bytes of flash in use: vector table, code, read-only data and the `.data` image (not the
/// pages a board keeps free between the vector table and the code).
pub fn flash_used() -> usize {
    let vectors = addr_of!(__evector_table) as usize - addr_of!(__vector_table) as usize;
    let data_image = addr_of!(__sidata) as usize;
    let data_len = addr_of!(__edata) as usize - addr_of!(__sdata) as usize;
    vectors + data_image + data_len - addr_of!(_stext) as usize
}

/// RAM size the linker script gives the stack and statics together.
pub fn ram_total() -> usize {
    stack_start() - addr_of!(__sdata) as usize
}
