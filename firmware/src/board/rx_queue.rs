//! Every board's serial receive: the UART interrupt moves each byte into a fixed queue, and the
//! live app reads the queue through `embedded-io` 0.7's `Read` (module `serial` of the board;
//! shared by the emulated F405's USART2 driver, the STM32F411 and the nRF52840, which differ
//! only in how the byte arrives and how the interrupt's time is measured).
//!
//! Why a queue: the UARTs hold one byte (F411: DR; nRF52840: a few in the UARTE's RX FIFO), and
//! the next one overruns it unless it is read within about a character time (87 µs at 115 200
//! baud), while a retraining runs for tens of milliseconds without reading. The interrupt drains
//! the UART whatever the main loop is doing, so bytes that arrive during a retraining wait here.
//!
//! When the queue is full the interrupt stops receiving (a *stall*, counted) until the reader has
//! made room, and the board's `resume` hook starts it again. A byte the sender keeps sending
//! meanwhile overruns the UART: counted from its error flags (`overruns`), never silent. The
//! host's flow-control window (`tinynewton stream` keeps at most two checkpoint windows in
//! flight, about 5.5 KiB of digits frames) keeps a normal stream below the queue's size.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;

use cortex_m::interrupt::{free, CriticalSection, Mutex};
use heapless::spsc::{Consumer, Producer, Queue};

/// Queue slots (heapless keeps one free): two windows of digits frames and a batch of bad
/// frames fit with room to spare. `TINYNEWTON_RX_QUEUE=N` at build time sets another size
/// (at least 2): `scripts/live.sh --short` builds with 64, less than one frame, so the test
/// command drives the full-queue path (stall, resume) on every frame.
const SLOTS: usize = match option_env!("TINYNEWTON_RX_QUEUE") {
    Some(n) => parse_slots(n),
    None => 8192,
};

/// `TINYNEWTON_RX_QUEUE` as a number; a build error unless it is a decimal of at least 2.
const fn parse_slots(text: &str) -> usize {
    let digits = text.as_bytes();
    assert!(!digits.is_empty(), "TINYNEWTON_RX_QUEUE: a decimal number");
    let mut n = 0usize;
    let mut i = 0;
    while i < digits.len() {
        let d = digits[i];
        assert!(d.is_ascii_digit(), "TINYNEWTON_RX_QUEUE: a decimal number");
        n = n * 10 + (d - b'0') as usize;
        i += 1;
    }
    assert!(n >= 2, "TINYNEWTON_RX_QUEUE: at least 2 slots");
    n
}

/// Bytes the queue holds at most (heapless keeps one slot free).
pub const QUEUE_CAPACITY: usize = SLOTS - 1;

/// RAM the receive queue takes.
pub const QUEUE_BYTES: usize = core::mem::size_of::<Queue<u8, SLOTS>>();

/// Counters kept by the receive interrupt (read with [`stats`]).
#[derive(Clone, Copy, Default, defmt::Format)]
pub struct RxStats {
    /// Bytes moved from the UART into the queue.
    pub bytes: u64,
    /// Times the queue was full and the interrupt stopped receiving until the reader made room.
    pub stalls: u32,
    /// Bytes the UART lost: overruns (a byte arrived before the previous one was taken) and,
    /// on the F411, bytes with a noise, framing or parity error (the HAL discards them).
    pub overruns: u32,
    /// Most bytes waiting in the queue at once.
    pub high_water: usize,
}

/// The queue's storage; split once, in [`split`].
static mut QUEUE: Queue<u8, SLOTS> = Queue::new();

/// The interrupt's end of the queue.
static PRODUCER: Mutex<RefCell<Option<Producer<'static, u8>>>> = Mutex::new(RefCell::new(None));

static STATS: Mutex<Cell<RxStats>> = Mutex::new(Cell::new(RxStats {
    bytes: 0,
    stalls: 0,
    overruns: 0,
    high_water: 0,
}));

/// Time spent inside the receive interrupt since boot, in the board counter's unit (DWT cycles
/// on the real boards, SysTick ticks on the emulated one), as the handler measures it, and the
/// number of times it ran (each run also costs its entry and exit, which it cannot measure).
static ISR_TICKS: Mutex<Cell<(u64, u64)>> = Mutex::new(Cell::new((0, 0)));

/// The interrupt's counters.
pub fn stats() -> RxStats {
    free(|cs| STATS.borrow(cs).get())
}

/// Time the receive interrupt has taken since boot, in the board counter's unit, so the live
/// app can subtract it from its clock: what the handler measured between its two readings of
/// the counter, plus what it adds for its entry and exit (the emulated board: `usart::unseen`).
/// The real boards' handlers add nothing: their exception stacking, prologue and epilogue, a
/// few dozen cycles per byte, are in the app's figures.
pub fn isr_ticks() -> u64 {
    free(|cs| isr_time(cs).0)
}

/// The handler's time (what [`isr_ticks`] reports) and how many times it ran, read together.
pub(super) fn isr_time(cs: &CriticalSection) -> (u64, u64) {
    ISR_TICKS.borrow(cs).get()
}

/// Splits the queue: the producer goes to the interrupt, the consumer into the returned reader.
/// `None` on a second call.
pub(super) fn split(resume: fn()) -> Option<SerialRx> {
    static TAKEN: Mutex<Cell<bool>> = Mutex::new(Cell::new(false));
    if free(|cs| TAKEN.borrow(cs).replace(true)) {
        return None;
    }
    // SAFETY: the only reference ever made to QUEUE (guarded by TAKEN above); its halves are
    // then owned by the interrupt (producer) and the reader (consumer).
    let queue = unsafe { &mut *core::ptr::addr_of_mut!(QUEUE) };
    let (producer, consumer) = queue.split();
    free(|cs| PRODUCER.borrow(cs).replace(Some(producer)));
    Some(SerialRx { consumer, resume })
}

/// In the interrupt: is there room for a byte?
pub(super) fn has_room(cs: &CriticalSection) -> bool {
    PRODUCER
        .borrow(cs)
        .borrow()
        .as_ref()
        .is_some_and(|p| p.ready())
}

/// In the interrupt: queues `byte` (the caller checked [`has_room`]; a byte without room is
/// counted as an overrun rather than dropped silently).
pub(super) fn push(cs: &CriticalSection, byte: u8) {
    let stats = STATS.borrow(cs);
    let mut s = stats.get();
    let mut producer = PRODUCER.borrow(cs).borrow_mut();
    match producer.as_mut().map(|p| (p.enqueue(byte), p.len())) {
        Some((Ok(()), len)) => {
            s.bytes = s.bytes.saturating_add(1);
            s.high_water = s.high_water.max(len);
        }
        _ => s.overruns = s.overruns.saturating_add(1),
    }
    stats.set(s);
}

/// In the interrupt: the UART reported an overrun.
pub(super) fn count_overrun(cs: &CriticalSection) {
    let stats = STATS.borrow(cs);
    let mut s = stats.get();
    s.overruns = s.overruns.saturating_add(1);
    stats.set(s);
}

/// In the interrupt: the queue is full and receiving stops until the reader makes room.
pub(super) fn count_stall(cs: &CriticalSection) {
    let stats = STATS.borrow(cs);
    let mut s = stats.get();
    s.stalls = s.stalls.saturating_add(1);
    stats.set(s);
}

/// Runs the interrupt's body and adds its duration in DWT cycles (the real boards' counter) to
/// [`isr_ticks`].
#[cfg(any(feature = "stm32f411", feature = "nrf52840"))]
pub(super) fn timed(body: impl FnOnce(&CriticalSection)) {
    let start = cortex_m::peripheral::DWT::cycle_count();
    free(|cs| {
        body(cs);
        let spent = cortex_m::peripheral::DWT::cycle_count().wrapping_sub(start);
        add_isr_ticks(cs, u64::from(spent));
    });
}

/// In the interrupt, once per run of the handler: adds `spent` (the board counter's unit) to
/// its measured time and counts the run.
pub(super) fn add_isr_ticks(cs: &CriticalSection, spent: u64) {
    let isr = ISR_TICKS.borrow(cs);
    let (ticks, runs) = isr.get();
    isr.set((ticks.saturating_add(spent), runs.saturating_add(1)));
}

/// The receiving half of the board's serial port: `Read` from the queue the interrupt fills.
pub struct SerialRx {
    consumer: Consumer<'static, u8>,
    /// The board's "receive again" after a stall (idempotent; called after every read).
    resume: fn(),
}

impl embedded_io::ErrorType for SerialRx {
    type Error = Infallible;
}

impl embedded_io::Read for SerialRx {
    /// Waits (WFI) for at least one byte, then takes what is queued, up to `buf.len()`.
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Infallible> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let mut n = 0;
            for slot in buf.iter_mut() {
                match self.consumer.dequeue() {
                    Some(b) => {
                        *slot = b;
                        n += 1;
                    }
                    None => break,
                }
            }
            (self.resume)();
            if n > 0 {
                return Ok(n);
            }
            // Sleep with interrupts masked: a byte that arrives between the check and the WFI
            // still wakes it (pending), and the interrupt runs when `free` ends.
            free(|_| {
                if !self.consumer.ready() {
                    cortex_m::asm::wfi();
                }
            });
        }
    }
}
