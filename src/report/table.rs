//! The human report printed by `run`: one block with the bound and efficiency beside every time.

use super::stats::render_histogram;
use super::Report;
use crate::color::{paint, FAIL, NOTE, OK, WARN};
use crate::engine::ClockKind;
use crate::types::Micros;
use std::fmt::Write;

fn secs(s: f64) -> String {
    crate::types::seconds(s)
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
pub(crate) fn render(r: &Report) -> String {
    let mut o = String::new();
    header(&mut o, r);
    alarms(&mut o, r);
    setup(&mut o, r);
    outcome(&mut o, r);
    o.push_str(&super::blast::render(r));
    distributions(&mut o, r);
    o
}

/// The first line: the build, strategy, workers and clock.
fn header(o: &mut String, r: &Report) {
    let workers = if r.workers_requested == "auto" {
        format!("{} workers (auto: one per account)", r.workers)
    } else {
        format!("{} workers", r.workers)
    };
    let _ = writeln!(
        o,
        "eventbench {}: {} strategy, {workers}, {} clock",
        r.build
            .as_ref()
            .map_or_else(|| r.eventbench_version.clone(), |b| b.label()),
        r.strategy,
        r.clock
    );
}

/// Right under the first line, before any figure: what went wrong (see [`super::alarms`]).
fn alarms(o: &mut String, r: &Report) {
    for a in super::alarms::alarms(r) {
        let style = if a.failed { FAIL } else { WARN };
        let headline = if a.failed {
            a.headline.replacen("FAILED", &paint(FAIL, "FAILED"), 1)
        } else {
            paint(WARN, &a.headline)
        };
        let _ = writeln!(o, "{:<12} {headline}", a.what);
        for (kind, e) in &a.examples {
            let _ = writeln!(o, "{}", paint(style, format!("  {kind}: {e}")));
        }
    }
}

/// What ran: input, processing time, and a real handler's calls.
fn setup(o: &mut String, r: &Report) {
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
    let h = &r.handling;
    if h.bound_basis == super::BoundBasis::Measured {
        let _ = writeln!(
            o,
            "handler      {}: {} calls, {} failed, {} retries, {} given up, {} not attempted",
            h.handler, h.handler_calls, h.handler_failures, h.retries, h.given_up, h.not_attempted
        );
        let _ = writeln!(o, "handler time {} (per call)", percentiles(&h.handler_us));
        let _ = writeln!(
            o,
            "lower bound  from the measured handler times (all tries and waits of each event)"
        );
    }
}

/// How it went: time against the bound, throughput, CPU, the ordering verdict, the queue.
fn outcome(o: &mut String, r: &Report) {
    let h = &r.handling;
    let _ = writeln!(o, "{}", wall_line(r));
    let _ = writeln!(o, "throughput   {:.1} events/s", r.throughput_eps);
    // A judged log has no CPU of ours, and an instant simulation none worth a line (below
    // a millisecond it would read `0.000 s`).
    let cpu_shown = r.external.is_none() && h.cpu_time_s + h.children_cpu_time_s >= 0.001;
    if cpu_shown && h.children_cpu_time_s > 0.0 {
        let _ = writeln!(
            o,
            "cpu time     {} this process, {} handler processes",
            secs(h.cpu_time_s),
            secs(h.children_cpu_time_s)
        );
    } else if cpu_shown {
        let _ = writeln!(o, "cpu time     {} this process", secs(h.cpu_time_s));
    }
    if r.passed() {
        let _ = writeln!(o, "ordering     {}", verdict(r));
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
        if let Some(l) = &q.data_loss {
            let line = format!(
                "DATA LOST    started with --accept-data-loss: the data dir held {} of the {} \
                 accepted events of its high-water mark {} ({} missing, refused with 409), last \
                 sequence {} of {}",
                l.found_accepted,
                l.mark_accepted,
                l.mark_file,
                l.missing_accepted,
                l.found_last_seq.map_or("none".into(), |s| s.to_string()),
                l.mark_last_seq.map_or("none".into(), |s| s.to_string()),
            );
            let _ = writeln!(o, "{}", paint(FAIL, line));
            for d in &l.damage {
                let _ = writeln!(o, "{}", paint(FAIL, format!("  damage: {d}")));
            }
        }
    }
    if let Some(x) = &r.external {
        o.push_str(&x.render());
    }
}

/// Latency and overshoot percentiles, the timer, and the latency histogram.
fn distributions(o: &mut String, r: &Report) {
    match &r.external {
        Some(x) if r.latency_us.max == 0 => {
            let _ = writeln!(o, "latency      {}", x.latency_basis);
        }
        _ => {
            let _ = writeln!(o, "latency      {}", percentiles(&r.latency_us));
        }
    }
    // The virtual clock ends every event on time by construction: no overshoot to show.
    if r.clock != ClockKind::Virtual && r.overshoot_us.max > 0 {
        let _ = writeln!(o, "overshoot    {}", percentiles(&r.overshoot_us));
    }
    if let Some(t) = r.timer {
        let _ = writeln!(o, "timer        {t} {}", paint(NOTE, "(--timer)"));
    }
    if !r.latency_histogram.is_empty() {
        let from = if r.external.is_some() {
            "acceptance"
        } else {
            "queue entry"
        };
        let _ = writeln!(o, "latency histogram ({from} to done):");
        o.push_str(&render_histogram(&r.latency_histogram, 40, us));
    }
}

/// Wall time, bound and efficiency on one line; a run that stopped early says which bound its
/// efficiency is measured against (that of the events that ran, see `Report::build`).
fn wall_line(r: &Report) -> String {
    let partial = if r.unprocessed > 0 && r.external.is_none() {
        let note = format!(
            "(against the bound of the {} events that ran)",
            r.events - r.unprocessed
        );
        format!(" {}", paint(NOTE, note))
    } else {
        String::new()
    };
    // A live run's figures count from the first arrival, not from when it started listening.
    let from = match r.timing_basis {
        super::TimingBasis::Arrivals => " from the first arrival",
        super::TimingBasis::Batch => "",
    };
    if let Some(x) = &r.repeats {
        // The spread on a line of its own: the mean's line stays as short as a single run's.
        return format!(
            "wall time    {}   lower bound {}   efficiency {:.2}% {}\nspread       {}",
            secs(r.wall_time_s),
            secs(r.lower_bound_s),
            r.efficiency * 100.0,
            paint(
                NOTE,
                format!(
                    "(of the mean; runs {:.2}%..{:.2}%)",
                    x.efficiency_min * 100.0,
                    x.efficiency_max * 100.0
                )
            ),
            x.describe()
        );
    }
    format!(
        "wall time    {}{from}   lower bound {}   efficiency {:.2}%{partial}",
        wall(r),
        secs(r.lower_bound_s),
        r.efficiency * 100.0
    )
}

/// The wall time with the precision it has: a judged log's times may be coarse, or absent.
fn wall(r: &Report) -> String {
    match &r.external {
        Some(x) => match x.wall_time_uncertainty_s {
            Some(u) => format!("{} ± {}", secs(r.wall_time_s), us((u * 1e6).round() as u64)),
            None => "unknown".into(),
        },
        None => secs(r.wall_time_s),
    }
}

fn verdict(r: &Report) -> String {
    let in_flight = if r.max_in_flight > 0 {
        format!(
            " {}",
            paint(NOTE, format!("(max {} in flight)", r.max_in_flight))
        )
    } else {
        String::new()
    };
    let given_up = match r.handling.given_up {
        0 => String::new(),
        n => format!(", {}", paint(WARN, format!("{n} given up by the handler"))),
    };
    match (&r.external, r.passed()) {
        (_, true) => format!(
            "{}: {} of {} events ran once each, in per-account order{given_up}{in_flight}",
            paint(OK, "ok"),
            r.events - r.unprocessed,
            r.events
        ),
        // A failed check leads the report (see `alarms`).
        (_, false) => String::new(),
    }
}
