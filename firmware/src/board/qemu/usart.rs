//! USART2 of the emulated STM32F405 (QEMU `netduinoplus2`, `0x4000_4400`, IRQ 38), driven by its
//! registers: receive by the RXNE interrupt into a fixed queue, transmit by polling TXE, both
//! behind `embedded-io`'s `Read`/`Write`, so the live-learning session reads frames that arrived
//! while it was retraining.
//!
//! What QEMU models (`hw/char/stm32f2xx_usart.c`, the same in 7.2 and 10.x), read and checked
//! here because the "no sample silently lost" claim rests on it:
//! * `can_receive` answers "one byte" only while SR.RXNE is clear, so the chardev hands the
//!   USART one byte at a time and keeps the rest (for a socket chardev: in the socket) until
//!   the guest reads DR. A guest that reads slowly throttles the host: backpressure, never an
//!   overrun; SR.ORE is never set.
//! * A byte that arrives while CR1.UE or CR1.RE is clear is *dropped* (`can_receive` still
//!   says yes, `receive` discards it): the USART is enabled before the board greets, and the
//!   host sends nothing before that greeting (`tinynewton stream` waits for `Ready`).
//! * TXE is always set; a DR write goes to the chardev synchronously.
//! * No clock tree: BRR and RCC are ignored (a HAL's clock setup would hang), so none is set.
//!
//! * QEMU 7.2 (the installed one, Debian's 7.2.22) lowers the USART's interrupt line only when
//!   DR is read (or SR written with RXNE clear); clearing CR1.RXNEIE leaves it high. (QEMU 9+
//!   recomputes the line on every CR1 write.) The NVIC re-pends a level-sensitive line that is
//!   still high when its handler returns.
//!
//! On silicon the queue is what keeps bytes: a second byte arriving with RXNE still set
//! overruns (ORE) and the first is lost, so the interrupt must drain DR within one character
//! time whatever the main loop is doing. When the queue is full the handler leaves the byte in
//! DR and takes USART2 out of the NVIC (a *stall*, counted) until the reader has made room:
//! lossless under QEMU (backpressure), an overrun on silicon (counted from SR.ORE), never
//! silent. It used to clear RXNEIE instead, which under QEMU 7.2 left the line high (above): the
//! handler re-entered at once, forever, and an emulated run with a 64-byte queue hung after its
//! greeting. Masking at the NVIC stops the interrupt whatever the peripheral does with its line;
//! the pending bit waits there and fires once the reader unmasks it. `scripts/live.sh --short`
//! (the test command's run) builds with a 64-byte queue, less than one frame, so every frame
//! stalls it; the full streams with 8 KiB never fill it (high-water marks of 0.9 to 5.1 KiB
//! seen on digits: the host's two-window flow control bounds it, its timing sets it).
//!
//! The instructions the handler executes are not the application's: their total is
//! [`isr_ticks`](rx_queue::isr_ticks), which the live app's clock subtracts. The handler
//! measures itself between two readings of SysTick; what lies outside them (the vector's
//! trampoline, the dispatch in the app's `DefaultHandler`, the prologues and the first reading
//! up to its SysTick load; the rest of the second reading, the epilogues and the return) is the
//! same instructions on every run, [`unseen`] of them, measured once when the USART is taken
//! ([`calibrate`]) and added at every run. Left out, they made a sample's predict + store cost
//! grow by some 55 instructions for every byte the handler took meanwhile, and how many bytes
//! arrive during a given sample depends on the host's timing: the largest per-sample cost of
//! two runs of one digits stream read 30 743 (81 bytes arrived during that sample) and 204 389
//! (by that count, a burst of ~3 200 bytes).
//! The queue, its counters and its `Read` are the board-independent `rx_queue`, which the real
//! boards' UARTs fill too.

use core::cell::Cell;
use core::convert::Infallible;
use core::ptr::{read_volatile, write_volatile};

use cortex_m::interrupt::{free, Mutex};
use cortex_m::peripheral::NVIC;

use super::super::rx_queue::{self, SerialRx};

/// USART2's registers (RM0090 §30.6): status, data, control 1.
const BASE: usize = 0x4000_4400;
const SR: *mut u32 = BASE as *mut u32;
const DR: *mut u32 = (BASE + 0x04) as *mut u32;
const CR1: *mut u32 = (BASE + 0x0C) as *mut u32;

const SR_ORE: u32 = 1 << 3;
const SR_RXNE: u32 = 1 << 5;
const SR_TC: u32 = 1 << 6;
const SR_TXE: u32 = 1 << 7;
const CR1_RE: u32 = 1 << 2;
const CR1_TE: u32 = 1 << 3;
const CR1_RXNEIE: u32 = 1 << 5;
const CR1_UE: u32 = 1 << 13;

/// USART2's position in the F405's vector table (RM0090 table 61; QEMU's `usart_irq[1]`).
pub const IRQ: u16 = 38;

/// The USART2 interrupt number as the NVIC API wants it.
#[derive(Clone, Copy)]
struct Usart2Irq;

// SAFETY: 38 is USART2's interrupt number on the F405 (see `IRQ`).
unsafe impl cortex_m::interrupt::InterruptNumber for Usart2Irq {
    fn number(self) -> u16 {
        IRQ
    }
}

fn read(reg: *mut u32) -> u32 {
    // SAFETY: `reg` is one of USART2's memory-mapped registers (always mapped on the F405 and
    // in QEMU); a volatile 32-bit access is how the reference manual says to use them.
    unsafe { read_volatile(reg) }
}

fn write(reg: *mut u32, value: u32) {
    // SAFETY: as in `read`.
    unsafe { write_volatile(reg, value) }
}

/// The receive interrupt: the application that uses the USART calls it from its
/// `DefaultHandler` for [`IRQ`] (`cortex-m-rt` without a device crate binds every interrupt
/// there). Not dispatched by the library, so that binaries without the USART do not link its
/// 8 KiB queue.
pub fn on_interrupt() {
    let start = super::ticks();
    // Reading SR then DR clears ORE as well as RXNE.
    let sr = read(SR);
    free(|cs| {
        if sr & SR_ORE != 0 {
            rx_queue::count_overrun(cs);
        }
        if sr & SR_RXNE != 0 {
            if rx_queue::has_room(cs) {
                rx_queue::push(cs, read(DR) as u8);
            } else {
                // Full (or not yet taken): keep the byte in DR and stop this interrupt at the
                // NVIC until the reader has room (`resume` unmasks it); QEMU holds the rest of
                // the input meanwhile. Not by clearing RXNEIE: QEMU 7.2 keeps the line high.
                NVIC::mask(Usart2Irq);
                rx_queue::count_stall(cs);
            }
        }
        // Before the closing reading, so that its own (varying) instructions are measured.
        let unseen = unseen_ticks(cs);
        rx_queue::add_isr_ticks(cs, super::ticks() - start + unseen);
    });
}

/// The entry and exit of [`on_interrupt`], which its own SysTick readings do not see: their
/// instructions (0 until [`calibrate`] has measured them) and, since one instruction is 172.032
/// ticks, their ticks as a whole part and a fraction in 125ths (`instructions · 21504 / 125`),
/// with the fraction carried from run to run, so that the sum over any number of runs is within
/// one tick of exact.
#[derive(Clone, Copy)]
struct Unseen {
    instructions: u32,
    whole: u64,
    fraction: u32,
    carried: u32,
}

static UNSEEN: Mutex<Cell<Unseen>> = Mutex::new(Cell::new(Unseen {
    instructions: 0,
    whole: 0,
    fraction: 0,
    carried: 0,
}));

/// Instructions of each receive interrupt outside its own measurement, as [`calibrate`] found
/// them (0: not calibrated); [`rx_queue::isr_ticks`] includes them.
pub fn unseen() -> u32 {
    free(|cs| UNSEEN.borrow(cs).get().instructions)
}

/// In the handler: the ticks of one run's entry and exit (see [`Unseen`]).
fn unseen_ticks(cs: &cortex_m::interrupt::CriticalSection) -> u64 {
    let cell = UNSEEN.borrow(cs);
    let mut u = cell.get();
    u.carried += u.fraction;
    let carry = u.carried >= 125;
    if carry {
        u.carried -= 125;
    }
    cell.set(u);
    u.whole + u64::from(carry)
}

/// Two SysTick readings around a pend of USART2's interrupt: whether the handler runs between
/// them is up to its NVIC mask, the instructions here are the same either way. DSB + ISB: the
/// pend takes effect before the second reading (ARM's rule for NVIC writes).
#[inline(never)]
fn probe() -> u64 {
    let before = super::ticks();
    NVIC::pend(Usart2Irq);
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
    super::ticks() - before
}

/// Measures [`unseen`]: [`probe`] with the interrupt masked at the NVIC (the pend waits) and
/// unmasked (the handler runs once, with RXNE clear: it reads SR and counts its time); the
/// difference less what the handler measured of itself is its entry and exit. The path outside
/// its readings does not depend on SR, so it is the same for a run that queues a byte. Call
/// with the interrupt unmasked and nothing received yet (the host sends nothing before the
/// board's greeting); leaves it unmasked. `None` if the handler did not run exactly once.
fn calibrate() -> Option<u32> {
    NVIC::mask(Usart2Irq);
    let quiet = probe();
    NVIC::unpend(Usart2Irq);
    let before = free(rx_queue::isr_time);
    // SAFETY: as in `take`, which calls this after installing the handler's state.
    unsafe { NVIC::unmask(Usart2Irq) };
    let loud = probe();
    let after = free(rx_queue::isr_time);
    if after.1 != before.1 + 1 {
        return None;
    }
    let unseen = loud.checked_sub(quiet)?.checked_sub(after.0 - before.0)?;
    u32::try_from(super::instructions(unseen)).ok()
}

/// USART2's transmitting half: `Write` by polling TXE.
pub struct Usart2Tx {
    _private: (),
}

/// USART2, split into its halves (the session reads and writes through separate borrows).
pub struct Usart2;

impl Usart2 {
    /// Enables USART2 (receiver, transmitter, RXNE interrupt) and its NVIC line; `None` on a
    /// second call.
    pub fn take() -> Option<(SerialRx, Usart2Tx)> {
        static TAKEN: Mutex<Cell<bool>> = Mutex::new(Cell::new(false));
        if free(|cs| TAKEN.borrow(cs).replace(true)) {
            return None;
        }
        // The queue's producer goes to the handler before its interrupt is unmasked below.
        let rx = rx_queue::split(resume)?;
        // 8N1 at whatever BRR says (QEMU ignores it): enable the USART, then the receiver and
        // transmitter and the receive interrupt.
        write(CR1, CR1_UE);
        write(CR1, CR1_UE | CR1_TE | CR1_RE | CR1_RXNEIE);
        // SAFETY: the handler is ready (producer installed) and no critical section is active
        // here that unmasking could break.
        unsafe { NVIC::unmask(Usart2Irq) };
        match calibrate() {
            Some(n) => {
                let (whole, fraction) = super::ticks_of(n);
                free(|cs| {
                    UNSEEN.borrow(cs).set(Unseen {
                        instructions: n,
                        whole,
                        fraction,
                        carried: 0,
                    })
                });
                defmt::info!(
                    "USART2: the receive interrupt's entry and exit take {=u32} instructions its own readings miss (added to isr_ticks at every run)",
                    n
                );
            }
            None => defmt::warn!(
                "USART2: the receive interrupt's entry and exit could not be measured: isr_ticks leaves them out"
            ),
        }
        Some((rx, Usart2Tx { _private: () }))
    }
}

/// Lets the handler read DR again after it stalled on a full queue (the reader calls this after
/// taking bytes, or finding none, so there is room). A byte that arrived meanwhile left the
/// interrupt pending: it runs as soon as it is unmasked.
fn resume() {
    if !NVIC::is_enabled(Usart2Irq) {
        // SAFETY: the handler's state (the queue's producer) was installed before the first
        // unmask in `take`; the reader calls this outside any critical section.
        unsafe { NVIC::unmask(Usart2Irq) };
    }
}

impl embedded_io::ErrorType for Usart2Tx {
    type Error = Infallible;
}

impl embedded_io::Write for Usart2Tx {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
        for &b in buf {
            while read(SR) & SR_TXE == 0 {}
            write(DR, u32::from(b));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Infallible> {
        while read(SR) & SR_TC == 0 {}
        Ok(())
    }
}
