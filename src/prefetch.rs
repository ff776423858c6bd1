//! Large per-account tables read one slot per event, in an order the hardware cannot guess:
//! software prefetch (asking for the slot of an event a few places ahead lets the cache misses
//! of several events overlap instead of queueing one after another), and huge pages for the
//! tables themselves.

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

/// A table of `n` copies of `value` for such loops, in huge pages where the kernel has them
/// for the asking (Linux's transparent huge pages in `madvise` mode): at ten million accounts
/// a table spans 10-20 thousand 4 KiB pages, far more than the TLB holds, so nearly every
/// slot read also walked the page tables. Measured at 100M events over 10M accounts with the
/// loader's, the simulator's and the order check's tables so advised: 4% less user time (7
/// alternating pairs, 6 won), no more system time. (Advising the per-event columns too, GBs,
/// cost 8 s of system time compacting memory for no gain: they are read in order.)
pub(crate) fn table<T: Clone>(n: usize, value: T) -> Vec<T> {
    let mut v: Vec<T> = Vec::with_capacity(n);
    #[cfg(target_os = "linux")]
    advise_huge(v.as_ptr().cast(), n * std::mem::size_of::<T>());
    v.resize(n, value);
    v
}

/// Asks for huge pages on the whole 2 MiB pages of `len` bytes at `start` (not yet touched);
/// nothing for smaller tables, nor where the kernel says no.
#[cfg(target_os = "linux")]
fn advise_huge(start: *const u8, len: usize) {
    const HUGE: usize = 2 << 20;
    let from = (start as usize).div_ceil(HUGE) * HUGE;
    let to = (start as usize + len) / HUGE * HUGE;
    if to > from {
        // SAFETY: advice about pages of an allocation this process owns and keeps; it changes
        // how they are backed, never their contents. A refusal (no THP) is harmless.
        unsafe { libc::madvise(from as *mut libc::c_void, to - from, libc::MADV_HUGEPAGE) };
    }
}
