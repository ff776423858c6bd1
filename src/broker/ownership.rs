//! The queues a cooperative worker owned and when, and their one-line summary.

/// A queue this worker owned for a while; seconds on the run's clock.
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct Ownership {
    pub queue: u32,
    pub from_s: f64,
    /// When it was handed over, lost with the connection, or the run ended.
    pub to_s: Option<f64>,
    /// The same two moments on the machine's clock (ms since the Unix epoch), to line up the
    /// reports of several workers.
    pub from_unix_ms: u64,
    pub to_unix_ms: Option<u64>,
}

impl Ownership {
    /// One line for a person: runs of consecutive queues held until the same moment (as shown,
    /// to 0.1 s) are one span, so 500 queues taken together read as `0-499`.
    pub(crate) fn summary(owned: &[Self]) -> String {
        struct Span {
            queues: (u32, u32),
            taken: (f64, f64),
            until: Option<String>,
        }
        let mut spans: Vec<Span> = Vec::new();
        for o in owned {
            let until = o.to_s.map(|t| format!("{t:.1}"));
            match spans.last_mut() {
                Some(s) if o.queue == s.queues.1 + 1 && until == s.until => {
                    s.queues.1 = o.queue;
                    s.taken = (s.taken.0.min(o.from_s), s.taken.1.max(o.from_s));
                }
                _ => spans.push(Span {
                    queues: (o.queue, o.queue),
                    taken: (o.from_s, o.from_s),
                    until,
                }),
            }
        }
        let shown: Vec<String> = spans
            .iter()
            .map(|s| {
                let queues = match s.queues {
                    (a, b) if a == b => a.to_string(),
                    (a, b) => format!("{a}-{b}"),
                };
                let (from, to) = (format!("{:.1}", s.taken.0), format!("{:.1}", s.taken.1));
                let taken = if from == to {
                    from
                } else {
                    format!("{from}-{to}")
                };
                match &s.until {
                    Some(t) => format!("{queues} taken {taken}s, until {t}s"),
                    None => format!("{queues} taken {taken}s, held to the end"),
                }
            })
            .collect();
        shown.join("; ")
    }
}

/// Now on the machine's clock, in ms since the Unix epoch.
pub(super) fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::Ownership;

    fn owned(queue: u32, from_s: f64, to_s: Option<f64>) -> Ownership {
        Ownership {
            queue,
            from_s,
            to_s,
            from_unix_ms: 0,
            to_unix_ms: None,
        }
    }

    #[test]
    fn consecutive_queues_held_until_the_same_moment_are_one_span() {
        let mut all: Vec<Ownership> = (0..500)
            .map(|q| owned(q, 1.6 + f64::from(q) * 0.004, Some(26.04)))
            .collect();
        // After a reconnect: taken back, one of them handed over early.
        all.extend([
            owned(0, 30.0, Some(40.0)),
            owned(1, 30.0, Some(31.0)),
            owned(2, 30.1, None),
        ]);
        assert_eq!(
            Ownership::summary(&all),
            "0-499 taken 1.6-3.6s, until 26.0s; 0 taken 30.0s, until 40.0s; \
             1 taken 30.0s, until 31.0s; 2 taken 30.1s, held to the end"
        );
        assert_eq!(Ownership::summary(&[]), "");
    }
}
