//! The human report printed by `run`: one block with the bound and efficiency beside every time.

use super::stats::render_histogram;
use super::Report;
use crate::types::Micros;
use std::fmt::Write;

fn secs(s: f64) -> String {
    format!("{s:.3} s")
}

fn us(v: u64) -> String {
    Micros(v).to_string()
}

fn percentiles(p: &super::Percentiles) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  p99.9 {}  max {}",
        us(p.p50),
        us(p.p90),
        us(p.p99),
        us(p.p999),
        us(p.max)
    )
}

/// Renders a report as the multi-line terminal summary.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    let workers = if r.workers_requested == "auto" {
        format!("{} workers (auto: one per account)", r.workers)
    } else {
        format!("{} workers", r.workers)
    };
    let _ = writeln!(
        o,
        "eventbench {}: {} strategy, {workers}, {} clock",
        r.eventbench_version, r.strategy, r.clock
    );
    let _ = writeln!(
        o,
        "input        {}: {} events, {} accounts, longest chain {}",
        r.input, r.events, r.accounts, r.longest_chain
    );
    if r.events == 0 {
        let _ = writeln!(o, "nothing to process: the input has no events");
    }
    let per_event = if r.per_event_durations {
        format!(
            "per-event durations (mean {})",
            us((r.process_time_s * 1e6) as u64)
        )
    } else {
        format!("{} per event", us((r.process_time_s * 1e6).round() as u64))
    };
    let _ = writeln!(
        o,
        "processing   {per_event}, total work {}",
        secs(r.total_work_s)
    );
    let _ = writeln!(
        o,
        "wall time    {}   lower bound {}   efficiency {:.2}%",
        secs(r.wall_time_s),
        secs(r.lower_bound_s),
        r.efficiency * 100.0
    );
    let _ = writeln!(o, "throughput   {:.1} events/s", r.throughput_eps);
    let verdict = if r.passed() {
        format!(
            "ok: {} of {} events ran once each, in per-account order (max {} in flight)",
            r.events - r.unprocessed,
            r.events,
            r.max_in_flight
        )
    } else {
        format!(
            "FAILED: {} ordering violations, {} duplicates, {} short handlers, {} unprocessed",
            r.ordering_violations, r.duplicates, r.short_handlers, r.unprocessed
        )
    };
    let _ = writeln!(o, "ordering     {verdict}");
    if r.interrupted {
        let _ = writeln!(
            o,
            "interrupted  {} events never started (partial report)",
            r.unprocessed
        );
    }
    for v in &r.violations {
        let _ = writeln!(o, "  violation: {v}");
    }
    if let Some(q) = &r.queue {
        let _ = match &q.data_dir {
            Some(dir) => writeln!(
                o,
                "queue        durable in {dir}: {} resumed at start, {} of them redelivered",
                q.resumed, q.redelivered
            ),
            None => writeln!(o, "queue        {}", q.queue),
        };
    }
    let _ = writeln!(o, "latency      {}", percentiles(&r.latency_us));
    let _ = writeln!(o, "overshoot    {}", percentiles(&r.overshoot_us));
    if !r.latency_histogram.is_empty() {
        let _ = writeln!(o, "latency histogram (queue entry to done):");
        o.push_str(&render_histogram(&r.latency_histogram, 40, us));
    }
    o
}
