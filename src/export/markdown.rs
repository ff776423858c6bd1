//! `compare.md`: the sweep as a Markdown table, ready to paste into a README.

use super::Exporter;
use crate::engine::Strategy;
use crate::report::ranking::Ranking;
use crate::report::summary::{efficiency_cell, ordering_cell, workers_cell, PER_ACCOUNT_NOTE};
use crate::report::sweep::CompareDoc;
use crate::report::Report;
use crate::types::Micros;
use std::io::Write;

/// A one-line workload summary and a table with one row per run.
pub(crate) struct Markdown;

/// Keeps a cell from breaking the table or turning into emphasis.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('*', "\\*")
}

fn workload_line(r: &Report) -> String {
    let per_event = Micros((r.process_time_s * 1e6).round() as u64);
    let durations = if r.per_event_durations {
        format!("per-event durations (mean {per_event})")
    } else {
        format!("{per_event} per event")
    };
    format!(
        "Workload `{}` (fingerprint `{}`): {} events, {} accounts, longest chain {}, {durations}, \
         {} clock; eventbench {}.",
        r.input.replace('`', "'"),
        r.workload_fingerprint,
        r.events,
        r.accounts,
        r.longest_chain,
        r.clock,
        r.build
            .as_ref()
            .map_or_else(|| r.eventbench_version.clone(), |b| b.label())
    )
}

/// The wall time in seconds, `mean ± σ` for repeated runs.
fn wall_cell(r: &Report) -> String {
    match r.repeats.as_ref().and_then(|x| x.wall_time_stddev_s) {
        Some(sd) => format!("{:.3} ± {sd:.3}", r.wall_time_s),
        None => format!("{:.3}", r.wall_time_s),
    }
}

fn row(r: &Report) -> String {
    let cells = [
        r.strategy.to_string(),
        workers_cell(r),
        wall_cell(r),
        format!("{:.3}", r.lower_bound_s),
        efficiency_cell(r),
        Micros(r.latency_us.p50).to_string(),
        Micros(r.latency_us.p99).to_string(),
        ordering_cell(r),
    ];
    let cells: Vec<String> = cells.iter().map(|c| cell(c)).collect();
    format!("| {} |", cells.join(" | "))
}

impl Exporter for Markdown {
    fn file_name(&self) -> &'static str {
        "compare.md"
    }

    fn write(&self, doc: &CompareDoc, out: &mut dyn Write) -> anyhow::Result<()> {
        write_doc(doc, out)
    }
}

fn write_doc(doc: &CompareDoc, out: &mut dyn Write) -> anyhow::Result<()> {
    if let Some(first) = doc.runs.first() {
        writeln!(out, "{}\n", workload_line(first))?;
    }
    writeln!(
        out,
        "| Strategy | Workers | Wall time (s) | Lower bound (s) | Efficiency | p50 latency | p99 latency | Ordering |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---|")?;
    for r in &doc.runs {
        writeln!(out, "{}", row(r))?;
    }
    if doc.runs.iter().any(|r| r.strategy == Strategy::PerAccount) {
        writeln!(out, "\n{}", cell(PER_ACCOUNT_NOTE))?;
    }
    write_blast(doc, out)?;
    let ranking = Ranking::of(&doc.runs);
    if !ranking.is_empty() {
        writeln!(out, "\n**Summary**\n")?;
        for line in ranking.lines() {
            writeln!(out, "- {}", cell(&line))?;
        }
    }
    Ok(())
}

/// `--fault`: a second table of the bystanders each run delayed.
fn write_blast(doc: &CompareDoc, out: &mut dyn Write) -> anyhow::Result<()> {
    let Some(first) = doc.runs.iter().find_map(|r| r.blast.as_ref()) else {
        return Ok(());
    };
    writeln!(
        out,
        "\n**Blast radius** of `{}`: other accounts whose last event ended more than half an \
         event later than without the fault\n",
        first.faults.join(" ")
    )?;
    writeln!(
        out,
        "| Strategy | Workers | Accounts delayed | Delay p50 (s) | Delay p99 (s) | Delay max (s) | Blocked (s) |"
    )?;
    writeln!(out, "|---|---:|---:|---:|---:|---:|---:|")?;
    for r in &doc.runs {
        let Some(b) = &r.blast else { continue };
        let d = &b.bystander_delay_s;
        writeln!(
            out,
            "| {} | {} | {} of {} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.strategy,
            cell(&workers_cell(r)),
            b.bystanders_delayed,
            b.bystanders,
            d.p50,
            d.p99,
            d.max,
            b.blocked_s
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::render;
    use crate::report::fixture;

    #[test]
    fn snapshot_of_the_fixture() {
        let text = render(&Markdown, &fixture::doc()).unwrap();
        let expected = "\
Workload `events, small.csv` (fingerprint `00c0ffee00c0ffee`): 20 events, 4 accounts, longest chain 8, 1.000s per event, virtual clock; eventbench 0.1.0.

| Strategy | Workers | Wall time (s) | Lower bound (s) | Efficiency | p50 latency | p99 latency | Ordering |
|---|---:|---:|---:|---:|---:|---:|---|
| sharded | 2 | 16.000 | 10.000 | 62.50% | 8.000s | 16.000s | ok |
| pool | 2 | 10.000 | 10.000 | 100.00% | 5.000s | 10.000s | ok |
| optimal | auto (4) | 8.000 | 8.000 | 100.00% | 4.000s | 8.000s | ok |
| per-account | auto (4)\\* | 8.000 | 8.000 | 100.00% | 4.000s | 8.000s | ok |

\\* per-account has one lane per account by definition: it runs once, with workers = auto.

**Summary**

- fastest: optimal (auto, 4 workers) and per-account (auto, 4 workers), tied at 8.000 s
- pool (2 workers) ran 1.60 times faster than sharded (2 workers)
- optimal (auto, 4 workers) ran as fast as per-account (auto, 4 workers)
";
        assert_eq!(text, expected);
    }

    #[test]
    fn repeated_runs_show_their_sigma() {
        let mut doc = fixture::doc();
        doc.runs.truncate(2);
        for (r, walls) in doc
            .runs
            .iter_mut()
            .zip([[15.0, 16.0, 17.0], [9.0, 10.0, 11.0]])
        {
            let runs = walls
                .iter()
                .map(|&w| fixture::report(r.strategy, "2", 10.0, w))
                .collect();
            *r = crate::report::repeat::combine(runs, 1);
        }
        let text = render(&Markdown, &doc).unwrap();
        assert!(text.contains("| sharded | 2 | 16.000 ± 1.000 |"), "{text}");
        // 1.6 · √((1/16)² + (1/10)²) = 0.189 → 0.19.
        assert!(
            text.ends_with(
                "\n- fastest: pool (2 workers), 10.000 s ± 1.000 s\n\
                 - pool (2 workers) ran 1.60 ± 0.19 times faster than sharded (2 workers)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_empty_sweep_is_a_header_only_table() {
        let doc = CompareDoc::new(Vec::new());
        assert_eq!(render(&Markdown, &doc).unwrap().lines().count(), 2);
    }
}
