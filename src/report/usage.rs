//! CPU time used by this process and its finished children (getrusage), for `cpu_time_s`.

/// User + system CPU seconds so far: this process, and the children it has waited for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CpuTime {
    pub own_s: f64,
    pub children_s: f64,
}

impl CpuTime {
    pub fn now() -> Self {
        CpuTime {
            own_s: usage(libc::RUSAGE_SELF),
            children_s: usage(libc::RUSAGE_CHILDREN),
        }
    }

    /// CPU used since `earlier`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            own_s: (self.own_s - earlier.own_s).max(0.0),
            children_s: (self.children_s - earlier.children_s).max(0.0),
        }
    }
}

fn usage(who: libc::c_int) -> f64 {
    // SAFETY: getrusage fills the zeroed struct it is given and touches nothing else.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return 0.0;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_grows_with_work() {
        let before = CpuTime::now();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let used = CpuTime::now().since(before);
        assert!(used.own_s > 0.0, "{x}");
        assert!(used.children_s >= 0.0);
    }
}
