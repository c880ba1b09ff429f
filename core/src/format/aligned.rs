//! A 4-byte aligned wrapper for `include_bytes!`, so an `f32` payload can be viewed in place.

/// Wraps `B` (typically `[u8; N]`, unsized to `[u8]`) with 4-byte alignment.
///
/// `include_bytes!` yields `&[u8; N]` with alignment 1; a packed file's payload offset is a
/// multiple of 4, so storing the file in an `Aligned` makes its `f32` rows 4-byte aligned:
///
/// ```
/// use tinynewton::format::{parse, Aligned, FormatError};
/// // In firmware: `&Aligned(*include_bytes!("train.tnds"))`.
/// static DATA: &Aligned<[u8]> = &Aligned(*b"not a packed file");
/// assert_eq!(DATA.0.as_ptr() as usize % 4, 0);
/// assert_eq!(parse(&DATA.0).unwrap_err(), FormatError::BadMagic);
/// ```
///
/// [`include_packed!`](crate::include_packed) expands to exactly this.
#[repr(C, align(4))]
#[derive(Debug)]
pub struct Aligned<B: ?Sized>(pub B);

/// `include_packed!("path")` is `include_bytes!("path")` as a 4-byte aligned `&'static [u8]`
/// (the path is resolved like `include_bytes!`, relative to the invoking file).
#[macro_export]
macro_rules! include_packed {
    ($path:expr) => {{
        static ALIGNED: &$crate::format::Aligned<[u8]> =
            &$crate::format::Aligned(*include_bytes!($path));
        &ALIGNED.0
    }};
}
