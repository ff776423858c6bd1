//! Locking shared by every module that holds a `std::sync::Mutex`.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, recovering the data if a holder panicked: no code in this crate panics while it
/// holds a lock (handlers and observers run outside them), so the state inside is consistent.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
