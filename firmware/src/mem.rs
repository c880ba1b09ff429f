//! Memory accounting from the linker's symbols, and the peak stack from cortex-m-rt's paint.
//!
//! Painting: with cortex-m-rt's `paint-stack` feature the reset handler fills the whole stack
//! region, `[_stack_end, _stack_start)`, with [`STACK_PAINT_VALUE`] (`0xCCCC_CCCC`) before
//! `main` (before `.data` is copied, in assembly, with no stack in use). The stack grows down
//! from `_stack_start`, so the lowest word that no longer holds the paint is the high-water mark.
//! (Only an estimate from below if a frame reserved stack it never wrote, which is why the scan
//! is word-exact.)
//!
//! Layout: flip-link (the linker, `.cargo/config.toml`) puts the stack at the bottom of RAM and
//! the statics above it, so an overflow runs off the start of RAM into a fault instead of into
//! the statics: `_stack_end` is RAM's origin and `_stack_start` the start of the statics. Linked
//! without flip-link the statics come first and the stack sits above them
//! (`_stack_end = __sheap`, `_stack_start` = RAM's end). Every figure below holds for both.

use core::ptr::{addr_of, read_volatile};

pub use cortex_m_rt::STACK_PAINT_VALUE;

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
    static _stack_end: u32;
    static _ram_end: u32;
}

fn sheap() -> usize {
    addr_of!(__sheap) as usize
}

fn sdata() -> usize {
    addr_of!(__sdata) as usize
}

fn stack_start() -> usize {
    addr_of!(_stack_start) as usize
}

fn stack_end() -> usize {
    addr_of!(_stack_end) as usize
}

/// Deepest stack use since reset, in bytes: from the top of the stack down to the lowest word
/// that lost the paint.
#[inline(never)]
pub fn peak_stack() -> usize {
    let mut at = stack_end();
    let top = stack_start();
    // SAFETY: reads words of the painted stack region, all inside RAM; the words below the
    // stack pointer belong to no live frame, and a volatile read of a stale value is harmless.
    while at < top && unsafe { read_volatile(at as *const u32) } == STACK_PAINT_VALUE {
        at += 4;
    }
    top - at
}

/// Stack in use at the call, in bytes: from the top of the stack to the stack pointer.
#[inline(always)]
pub fn stack_depth() -> usize {
    stack_start().saturating_sub(cortex_m::register::msp::read() as usize)
}

/// Bytes of RAM the statics take: `.data`, `.bss` and `.uninit`.
pub fn static_ram() -> usize {
    sheap() - sdata()
}

/// Bytes of flash in use: vector table, code, read-only data and the `.data` image (not the
/// pages a board keeps free between the vector table and the code).
pub fn flash_used() -> usize {
    let vectors = addr_of!(__evector_table) as usize - addr_of!(__vector_table) as usize;
    let data_image = addr_of!(__sidata) as usize;
    let data_len = addr_of!(__edata) as usize - sdata();
    vectors + data_image + data_len - addr_of!(_stext) as usize
}

/// RAM the memory map gives the stack and statics together: from the lower of the stack's and
/// the statics' starts to the end of RAM.
pub fn ram_total() -> usize {
    addr_of!(_ram_end) as usize - stack_end().min(sdata())
}
