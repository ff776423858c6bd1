//! The time columns of [`Records`](super::Records), each as narrow as the run allows: start
//! times in 4 bytes while they fit, and no handler-time column at all while every event took
//! the same time.

use super::NOT_RUN;

/// Start times, 4 bytes each while every start fits in 32 bits (runs shorter than 71
/// minutes: 400 MB less at 100 million events), widened to 8 bytes by the first start that
/// does not.
#[derive(Clone, Debug)]
pub(super) enum Starts {
    /// `u32::MAX`: not run.
    Narrow(Vec<u32>),
    /// [`NOT_RUN`]: not run.
    Wide(Vec<u64>),
}

impl Default for Starts {
    fn default() -> Self {
        Starts::Narrow(Vec::new())
    }
}

impl Starts {
    pub(super) fn not_run(events: usize) -> Self {
        Starts::Narrow(vec![u32::MAX; events])
    }

    pub(super) fn len(&self) -> usize {
        match self {
            Starts::Narrow(v) => v.len(),
            Starts::Wide(v) => v.len(),
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The start of event `i`, or [`NOT_RUN`].
    pub(super) fn get(&self, i: usize) -> u64 {
        match self {
            Starts::Narrow(v) if v[i] == u32::MAX => NOT_RUN,
            Starts::Narrow(v) => u64::from(v[i]),
            Starts::Wide(v) => v[i],
        }
    }

    pub(super) fn set(&mut self, i: usize, start: u64) {
        if let Starts::Narrow(v) = self {
            match u32::try_from(start) {
                Ok(s) if s != u32::MAX => return v[i] = s,
                _ if start == NOT_RUN => return v[i] = u32::MAX,
                _ => self.widen(),
            }
        }
        if let Starts::Wide(v) = self {
            v[i] = start;
        }
    }

    pub(super) fn push_not_run(&mut self) {
        match self {
            Starts::Narrow(v) => v.push(u32::MAX),
            Starts::Wide(v) => v.push(NOT_RUN),
        }
    }

    fn widen(&mut self) {
        if let Starts::Narrow(v) = self {
            *self = Starts::Wide(std::mem::take(v).into_iter().map(wide).collect());
        }
    }

    pub(super) fn into_wide(self) -> Vec<u64> {
        match self {
            Starts::Narrow(v) => v.into_iter().map(wide).collect(),
            Starts::Wide(v) => v,
        }
    }
}

/// A narrow start as a wide one (`u32::MAX`, not run, becomes [`NOT_RUN`]).
fn wide(s: u32) -> u64 {
    if s == u32::MAX {
        NOT_RUN
    } else {
        u64::from(s)
    }
}

/// `end - start` of each event in µs, 4 bytes each (a handler that ran 71 minutes or more
/// stores `u32::MAX`; its exact time is kept beside, in `Records::long`). On the virtual clock
/// every event of a workload without a `duration_us` column takes the same time: then there
/// is no column, 4 GB less at a billion events, until an event takes another time.
#[derive(Clone, Debug)]
pub(super) enum Took {
    /// Every event that ran took this (`None`: none has run yet).
    Same(Option<u32>),
    /// By event; 0 for an event that did not run.
    Each(Vec<u32>),
}

impl Default for Took {
    fn default() -> Self {
        Took::Same(None)
    }
}

impl Took {
    /// The time event `i` took, if it ran (anything for an event that did not).
    pub(super) fn get(&self, i: usize) -> u32 {
        match self {
            Took::Same(t) => t.unwrap_or(0),
            Took::Each(v) => v[i],
        }
    }

    /// Event `i` took `t`; `starts` tells which events ran, should the column be needed.
    pub(super) fn set(&mut self, i: usize, t: u32, starts: &Starts) {
        match self {
            Took::Same(same @ None) => *same = Some(t),
            Took::Same(Some(same)) if *same == t => {}
            Took::Same(Some(same)) => {
                let same = *same;
                let mut v: Vec<u32> = (0..starts.len())
                    .map(|k| if starts.get(k) == NOT_RUN { 0 } else { same })
                    .collect();
                v[i] = t;
                *self = Took::Each(v);
            }
            Took::Each(v) => v[i] = t,
        }
    }

    /// Event `i` did not run after all.
    pub(super) fn clear(&mut self, i: usize) {
        if let Took::Each(v) = self {
            v[i] = 0;
        }
    }

    /// A slot for one more event, not run.
    pub(super) fn push_not_run(&mut self) {
        if let Took::Each(v) = self {
            v.push(0);
        }
    }
}
