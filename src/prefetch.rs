//! Software prefetch for loops that read one slot of a large per-account table per event, in
//! an order the hardware cannot guess: asking for the slot of an event a few places ahead lets
//! the cache misses of several events overlap instead of queueing one after another.
//!
//! (Huge pages for the same tables were tried too: on this machine's kernel, whose transparent
//! huge pages compact memory on demand for `madvise`d regions, they cost 8 s of system time at
//! 100 million events for no gain in user time.)

/// How many events ahead the loops ask: enough misses in flight to cover a trip to memory,
/// few enough that the lines are still in cache when their event comes.
pub(crate) const AHEAD: usize = 16;

/// Hints that `slice[i]` will be read soon; nothing when `i` is out of range, and nothing on
/// processors without the instruction.
#[inline(always)]
pub(crate) fn prefetch<T>(slice: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(slot) = slice.get(i) {
        use core::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: prefetching is only a hint; the address is that of a live element.
        unsafe { _mm_prefetch::<_MM_HINT_T0>((slot as *const T).cast::<i8>()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (slice, i);
}
