//! `eventbench generate`: writes a seeded random events CSV (atomically, or to stdout).

use crate::cli::GlobalArgs;
use crate::error::UsageError;
use crate::output::AtomicFile;
use crate::workload::generate::{write_csv, Distribution, DurationDist, Spec};
use anyhow::Context;
use std::io::Write;
use std::path::PathBuf;

/// Generate random events into a CSV file: event ids 1..N in arrival order, account ids in
/// 1..=max. The same seed and flags always give a byte-identical file.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench generate                      # 10,000 events, accounts 1..=1000, into events.csv
  eventbench generate --seed 7             # the built-in workload of `run`, as a file
  eventbench generate --events 1000000 --distribution zipf:1.2 --output skewed.csv
  eventbench generate --distribution hot:0.3 --duration uniform:0ms..5ms --output -
  eventbench generate --duration exp:2ms --seed 42 | head")]
pub struct Args {
    /// Number of events (event ids 1..=N).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub events: u64,

    /// Largest account id; accounts are drawn from 1..=N (N >= 1).
    #[arg(long, value_name = "N", default_value_t = 1_000)]
    pub max_account_id: u64,

    /// Random seed. Without it a random seed is chosen and printed to stderr.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// How events spread over accounts: uniform, zipf:S (S > 0; account 1 most frequent) or
    /// hot:P (account 1 gets each event with probability P, 0 <= P <= 1).
    #[arg(long, value_name = "DIST", default_value = "uniform")]
    pub distribution: Distribution,

    /// Give every event its own processing time (a duration_us column): uniform:LO..HI
    /// (inclusive, e.g. uniform:0ms..5ms) or exp:MEAN (exponential, e.g. exp:2ms).
    #[arg(long, value_name = "DIST")]
    pub duration: Option<DurationDist>,

    /// Output file, or - for stdout. Written atomically: it appears only when complete.
    #[arg(long, short, value_name = "FILE|-", default_value = "events.csv")]
    pub output: PathBuf,
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> anyhow::Result<()> {
    if args.max_account_id == 0 {
        return Err(UsageError(
            "--max-account-id must be at least 1 (account ids are drawn from 1..=N)".into(),
        )
        .into());
    }
    if args.events > u64::from(u32::MAX) {
        return Err(UsageError(format!(
            "--events {} is too many: a workload holds at most {} events",
            args.events,
            u32::MAX
        ))
        .into());
    }
    if args.output.as_os_str() != "-" {
        super::check_output_paths([Some(args.output.as_path())])?;
    }
    let seed = match args.seed {
        Some(seed) => seed,
        None => {
            let seed = rand::random::<u64>();
            eprintln!("seed: {seed}");
            seed
        }
    };
    let spec = Spec {
        events: args.events,
        max_account_id: args.max_account_id,
        seed,
        distribution: args.distribution,
        duration: args.duration,
    };
    let to_stdout = args.output.as_os_str() == "-";
    if to_stdout {
        let stdout = std::io::stdout();
        write_csv(&spec, stdout.lock()).context("cannot write to stdout")?;
    } else {
        let mut file = AtomicFile::create(&args.output)?;
        write_csv(&spec, file.writer())
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        file.commit()?;
    }
    if !global.quiet {
        let target = if to_stdout {
            "stdout".to_owned()
        } else {
            args.output.display().to_string()
        };
        let mut err = std::io::stderr().lock();
        // A closed stderr must not turn a written file into a failure.
        let _ = writeln!(err, "wrote {target}: {spec}");
    }
    Ok(())
}
