//! Locking shared by every module that holds a `std::sync::Mutex` or `RwLock`: the one place
//! that decides what a poisoned lock means.

use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Locks `m`, recovering the data if a holder panicked: no code in this crate panics while it
/// holds a lock (handlers and observers run outside them), so the state inside is consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Takes the data out of `m`, recovering it if a holder panicked (see [`lock`] for why).
pub(crate) fn into_inner<T>(m: Mutex<T>) -> T {
    m.into_inner().unwrap_or_else(|p| p.into_inner())
}

/// Read-locks `l`, recovering the data if a writer panicked (see [`lock`] for why).
pub(crate) fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

/// Write-locks `l`, recovering the data if a holder panicked (see [`lock`] for why).
pub(crate) fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}
