//! `compare.csv`: one row per run, the report's scalar fields with percentiles flattened
//! (`latency_p50_us`, …) so a spreadsheet or pandas reads it without parsing JSON.

use super::Exporter;
use crate::report::stats::Percentiles;
use crate::report::sweep::CompareDoc;
use crate::report::Report;
use std::io::Write;

/// One CSV row per run.
pub(crate) struct Csv;

const SCALARS: [&str; 24] = [
    "eventbench_version",
    "input",
    "workload_fingerprint",
    "events",
    "accounts",
    "strategy",
    "workers",
    "workers_requested",
    "clock",
    "process_time_s",
    "per_event_durations",
    "longest_chain",
    "total_work_s",
    "lower_bound_s",
    "wall_time_s",
    "efficiency",
    "throughput_eps",
    "ordering_violations",
    "unprocessed",
    "duplicates",
    "short_handlers",
    "max_in_flight",
    "interrupted",
    "backend",
];

const PERCENTILES: [&str; 5] = ["p50", "p90", "p99", "p999", "max"];

/// The spread of repeated runs (`--runs`), empty for a single run; last, so the columns of
/// files written before `--runs` existed keep their places.
const SPREAD: [&str; 7] = [
    "runs",
    "wall_time_mean_s",
    "wall_time_stddev_s",
    "wall_time_min_s",
    "wall_time_max_s",
    "efficiency_min",
    "efficiency_max",
];

/// `--fault` runs: the bystander figures, after the spread; only when a run of the sweep had
/// faults, so the files of other sweeps keep their columns.
const BLAST: [&str; 8] = [
    "faults",
    "faulted_accounts",
    "bystanders",
    "bystanders_delayed",
    "bystander_delay_p50_s",
    "bystander_delay_p99_s",
    "bystander_delay_max_s",
    "blocked_s",
];

fn blast(r: &Report) -> [String; 8] {
    match &r.blast {
        Some(b) => [
            b.faults.join(" "),
            b.faulted_accounts.to_string(),
            b.bystanders.to_string(),
            b.bystanders_delayed.to_string(),
            b.bystander_delay_s.p50.to_string(),
            b.bystander_delay_s.p99.to_string(),
            b.bystander_delay_s.max.to_string(),
            b.blocked_s.to_string(),
        ],
        None => Default::default(),
    }
}

fn header() -> Vec<String> {
    let mut h: Vec<String> = SCALARS.iter().map(|s| s.to_string()).collect();
    for dist in ["latency", "overshoot"] {
        h.extend(PERCENTILES.iter().map(|p| format!("{dist}_{p}_us")));
    }
    h.extend(SPREAD.iter().map(|s| s.to_string()));
    h
}

fn spread(r: &Report) -> [String; 7] {
    match &r.repeats {
        Some(x) => [
            x.wall_times_s.len().to_string(),
            x.wall_time_mean_s.to_string(),
            x.wall_time_stddev_s
                .map_or(String::new(), |s| s.to_string()),
            x.wall_time_min_s.to_string(),
            x.wall_time_max_s.to_string(),
            x.efficiency_min.to_string(),
            x.efficiency_max.to_string(),
        ],
        None => Default::default(),
    }
}

fn percentiles(p: &Percentiles) -> [String; 5] {
    [p.p50, p.p90, p.p99, p.p999, p.max].map(|v| v.to_string())
}

fn row(r: &Report) -> Vec<String> {
    let mut v = vec![
        r.eventbench_version.clone(),
        r.input.clone(),
        r.workload_fingerprint.clone(),
        r.events.to_string(),
        r.accounts.to_string(),
        r.strategy.to_string(),
        r.workers.to_string(),
        r.workers_requested.clone(),
        r.clock.to_string(),
        r.process_time_s.to_string(),
        r.per_event_durations.to_string(),
        r.longest_chain.to_string(),
        r.total_work_s.to_string(),
        r.lower_bound_s.to_string(),
        r.wall_time_s.to_string(),
        // Empty, as compare.json's null: an interrupted run has no efficiency to compare.
        if r.interrupted {
            String::new()
        } else {
            r.efficiency.to_string()
        },
        r.throughput_eps.to_string(),
        r.ordering_violations.to_string(),
        r.unprocessed.to_string(),
        r.duplicates.to_string(),
        r.short_handlers.to_string(),
        r.max_in_flight.to_string(),
        r.interrupted.to_string(),
        r.backend.name().to_string(),
    ];
    debug_assert_eq!(v.len(), SCALARS.len());
    v.extend(percentiles(&r.latency_us));
    v.extend(percentiles(&r.overshoot_us));
    v.extend(spread(r));
    v
}

impl Exporter for Csv {
    fn file_name(&self) -> &'static str {
        "compare.csv"
    }

    fn write(&self, doc: &CompareDoc, out: &mut dyn Write) -> anyhow::Result<()> {
        let mut w = ::csv::Writer::from_writer(out);
        let faulted = doc.runs.iter().any(|r| r.blast.is_some());
        let mut h = header();
        if faulted {
            h.extend(BLAST.iter().map(|s| s.to_string()));
        }
        w.write_record(h)?;
        for r in &doc.runs {
            let mut v = row(r);
            if faulted {
                v.extend(blast(r));
            }
            w.write_record(v)?;
        }
        w.flush()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::render;
    use crate::report::fixture;

    #[test]
    fn snapshot_of_the_fixture() {
        let text = render(&Csv, &fixture::doc()).unwrap();
        let expected = "\
eventbench_version,input,workload_fingerprint,events,accounts,strategy,workers,workers_requested,clock,process_time_s,per_event_durations,longest_chain,total_work_s,lower_bound_s,wall_time_s,efficiency,throughput_eps,ordering_violations,unprocessed,duplicates,short_handlers,max_in_flight,interrupted,backend,latency_p50_us,latency_p90_us,latency_p99_us,latency_p999_us,latency_max_us,overshoot_p50_us,overshoot_p90_us,overshoot_p99_us,overshoot_p999_us,overshoot_max_us,runs,wall_time_mean_s,wall_time_stddev_s,wall_time_min_s,wall_time_max_s,efficiency_min,efficiency_max
0.1.0,\"events, small.csv\",00c0ffee00c0ffee,20,4,sharded,2,2,virtual,1,false,8,20,10,16,0.625,1.25,0,0,0,0,2,false,memory,8000000,14000000,16000000,16000000,16000000,0,0,0,0,0,,,,,,,
0.1.0,\"events, small.csv\",00c0ffee00c0ffee,20,4,pool,2,2,virtual,1,false,8,20,10,10,1,2,0,0,0,0,2,false,memory,5000000,8750000,10000000,10000000,10000000,0,0,0,0,0,,,,,,,
0.1.0,\"events, small.csv\",00c0ffee00c0ffee,20,4,optimal,4,auto,virtual,1,false,8,20,8,8,1,2.5,0,0,0,0,4,false,memory,4000000,7000000,8000000,8000000,8000000,0,0,0,0,0,,,,,,,
0.1.0,\"events, small.csv\",00c0ffee00c0ffee,20,4,per-account,4,auto,virtual,1,false,8,20,8,8,1,2.5,0,0,0,0,4,false,memory,4000000,7000000,8000000,8000000,8000000,0,0,0,0,0,,,,,,,
";
        assert_eq!(text, expected);
    }

    #[test]
    fn repeated_runs_fill_the_spread_columns() {
        let mut doc = fixture::doc();
        doc.runs[0].repeats = Some(crate::report::repeat::Repeats {
            warmup_runs: 1,
            wall_times_s: vec![15.0, 17.0],
            wall_time_mean_s: 16.0,
            wall_time_stddev_s: Some(1.5),
            wall_time_min_s: 15.0,
            wall_time_max_s: 17.0,
            efficiency_min: 0.5,
            efficiency_max: 0.75,
        });
        let text = render(&Csv, &doc).unwrap();
        let first = text.lines().nth(1).unwrap();
        assert!(first.ends_with(",2,16,1.5,15,17,0.5,0.75"), "{first}");
        assert!(text.lines().nth(2).unwrap().ends_with(",,,,,,,"));
    }
}
