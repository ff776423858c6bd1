//! `eventbench compare`: sweep strategies × worker counts over one workload, print one table
//! and a few histograms, write the exports after every run, and gate on a baseline.
//! With `--broker`, the sweep also runs through RabbitMQ ([`broker`]).

mod announce;
mod broker;
mod lists;

use lists::sweep_plans;
pub(crate) use lists::{Fraction, StrategyList, WorkerList};

use crate::broker::amqp::{self, QueueType};
use crate::broker::design::Target;
use crate::cli::{FaultArgs, GlobalArgs, RepeatArgs, TimingArgs};
use crate::engine::timer::TimerMode;
use crate::engine::{ClockKind, Plan};
use crate::error::{CheckFailed, UsageError};
use crate::export;
use crate::handler::HandlerArgs;
use crate::output::Format;
use crate::pipeline::fault::FaultSpec;
use crate::pipeline::repeat::run_repeated;
use crate::pipeline::{Intake, Spec};
use crate::report::baseline::{Comparison, Tolerance};
use crate::report::ranking::Ranking;
use crate::report::repeat::Repeat;
use crate::report::sweep::{run_label, CompareDoc};
use crate::report::{summary, Backend, Report};
use crate::workload::Workload;
use anyhow::{Context, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Flags of `compare`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:
  eventbench compare                  # built-in workload, virtual clock, default sweep
  eventbench compare -i events.csv -w 10,100,auto -s sharded,optimal --histograms
  eventbench compare --clock real --process-time 20ms -w 100,auto --min-efficiency 0.9
  eventbench compare -i results/baseline-events.csv -w 10,50,100,auto \\
      -s per-account,sharded,pool,optimal \\
      --baseline results/baseline.json --max-regression 2%     # the CI gate
  eventbench compare --clock real --process-time 20ms -w 100,auto --runs 5 --warmup 1  # mean ± σ
  eventbench compare -w 10,100,500 -s sharded,pool,optimal,per-account --fault slow:311:20
      # the blast radius of one slow account: the accounts it delays, per strategy and workers
  eventbench compare --clock real -w 4,16,auto --handler 'exec:./process.sh {account_id} {event_id}'
      # your own command per event; each run's lower bound comes from its measured times
  eventbench compare --broker amqp://127.0.0.1:5672/%2f -w 100,500 -s optimal --process-time 50ms
      # beside the in-memory runs: the original design (500 queues, one message at a time
      # each) and ours, through the same RabbitMQ, on the real clock

--broker adds, for every numeric worker count W (auto and per-account stay in memory), a run
of the original design (W queues, prefetch 1: the sharded schedule, labelled `RabbitMQ,
original`) and one of our consumer per strategy (W queues, W lanes: `RabbitMQ, ours`). Broker
runs always use the real clock; the in-memory runs keep --clock. Each broker run uses its own
queues PREFIX.compare-… and deletes them afterwards. In compare.json broker runs carry
\"backend\": \"broker-original\" or \"broker-ours\" (memory runs have no backend field), and
--baseline only matches runs of the same backend.

Exit codes: 0 ok; 1 a run failed its ordering check, regressed beyond --max-regression,
had no match in --baseline (unless --allow-missing; a baseline matching no run always
fails), fell below --min-efficiency or gave events up (unless --allow-failures); 2 bad usage
or input (nothing runs, no file is written); 130 interrupted by Ctrl-C (after the runs so far are
printed and written).")]
pub struct Args {
    /// Events CSV to process, `-` for standard input [default: standard input
    /// when piped or redirected, else ./events.csv if it exists, else the built-in workload]
    #[arg(long, short)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub reading: crate::cli::InputArgs,
    /// Worker counts to sweep, comma-separated: numbers ≥ 1 and/or `auto` (one per account)
    #[arg(long, short, default_value = "10,100,500,1000,auto")]
    pub workers: WorkerList,
    /// Strategies to sweep, comma-separated: per-account, sharded, pool, optimal
    /// (per-account runs once, with workers = auto)
    #[arg(long, short, default_value = "sharded,pool,optimal")]
    pub strategies: StrategyList,
    /// `virtual` computes each schedule exactly and instantly; `real` sleeps for real
    #[arg(long, value_enum, default_value_t = ClockKind::Virtual)]
    pub clock: ClockKind,
    #[command(flatten)]
    pub timing: TimingArgs,
    /// Folder for compare.{json,csv,md,svg,html} (created if missing)
    /// [default: results/<date>-compare-<time>/]
    #[arg(long, short)]
    pub output_dir: Option<PathBuf>,
    /// A compare.json to check against; runs match by strategy, workers, clock and workload
    #[arg(long)]
    pub baseline: Option<PathBuf>,
    /// Allowed slowdown against --baseline (wall time up or efficiency down), e.g. 2%, 0.5%
    /// or 0.02
    ///
    /// A single run regresses when its wall time rose, or its efficiency fell, by more than
    /// this. When the run and its baseline run both have a spread (--runs 2 or more on each
    /// side), the mean must also have moved by more than 2 σ, σ = √(σ_baseline² + σ_now²)
    /// of the two wall times (for the efficiency, each side's relative σ carried over to it);
    /// a move beyond this but within 2 σ is listed as noise and passes. The same holds for an
    /// improvement.
    #[arg(long, default_value = "2%", requires = "baseline")]
    pub max_regression: Tolerance,
    /// Pass although some runs have no match in --baseline (they are listed); a baseline that
    /// matches no run at all still fails
    #[arg(long, requires = "baseline")]
    pub allow_missing: bool,
    /// Fail (exit 1) when any run's efficiency is below this fraction, e.g. 0.9 or 90%
    #[arg(long)]
    pub min_efficiency: Option<Fraction>,
    /// Print the latency histogram of every run, not only the best and the worst
    #[arg(long)]
    pub histograms: bool,
    /// Write the compare.json document to this file too (besides the output folder)
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Summary format on stdout (json prints the compare.json document)
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also run through this RabbitMQ (amqp://…): the original design and ours, per numeric
    /// worker count, on the real clock. Repeat it for the nodes of a cluster: the first that
    /// answers is used, a lost connection is re-opened to the next
    #[arg(long, value_name = "URL", value_parser = crate::cli::BrokerUrl)]
    pub broker: Vec<String>,
    #[arg(long, value_enum, default_value_t = QueueType::Classic, requires = "broker",
          help = crate::cli::QUEUE_TYPE_HELP)]
    pub queue_type: QueueType,
    /// Queue name prefix of the --broker runs (each uses fresh PREFIX.compare-… queues)
    #[arg(long, default_value = amqp::DEFAULT_PREFIX, requires = "broker")]
    pub queue_prefix: String,
    #[command(flatten)]
    pub handlers: HandlerArgs,
    #[command(flatten)]
    pub fault: FaultArgs,
    #[command(flatten)]
    pub repeat: RepeatArgs,
}

/// One run of a sweep: a plan on a clock, in memory or through RabbitMQ.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SweepRun {
    pub plan: Plan,
    pub clock: ClockKind,
    /// How real-clock sleeps end.
    pub timer: TimerMode,
    pub backend: Backend,
}

pub(crate) fn run(args: Args, global: &GlobalArgs) -> Result<()> {
    args.handlers
        .validate_with(args.clock, args.fault.has_fail())?;
    args.handlers.check_sweep(!args.broker.is_empty())?;
    super::check_fault_flags(
        &args.fault,
        &[
            ("--handler exec:/http:", !args.handlers.handler.is_sleep()),
            ("--broker", !args.broker.is_empty()),
        ],
    )?;
    let faults = args.fault.faults()?;
    let repeat = args.repeat.repeat(args.clock)?;
    let (runs, notes) = all_runs(&args);
    let target = (!args.broker.is_empty()).then(|| Target {
        brokers: amqp::Brokers::new(args.broker.clone()),
        queue_type: args.queue_type,
        prefix: args.queue_prefix.clone(),
    });
    let baseline = args
        .baseline
        .as_deref()
        .map(|p| CompareDoc::load_baseline(p, args.reading.max_line_length))
        .transpose()?;
    if let Some(dir) = args
        .output_dir
        .as_deref()
        .filter(|d| d.exists() && !d.is_dir())
    {
        return Err(UsageError(format!("--output-dir {}: is not a folder", dir.display())).into());
    }
    // Every output is checked before any work: a folder that cannot be made or written is
    // bad usage (exit 2), not a failure after the sweep.
    let dir = args.output_dir.clone().unwrap_or_else(dated_dir);
    crate::output::check_output_dir(&dir)?;
    crate::output::check_output_paths([args.json.as_deref()])?;
    let lead = format!(
        "output folder: {}/{}",
        dir.display(),
        if args.output_dir.is_some() {
            ""
        } else {
            " (--output-dir to choose another)"
        }
    );
    let workload = super::load_workload_led(
        args.input.as_deref(),
        args.timing.process_time,
        global.quiet,
        args.reading,
        &lead,
    )?;
    if let Some(t) = &target {
        crate::broker::design::preflight(&t.brokers)?;
    }
    let dir = prepare_output_dir(&dir)?;
    let fault_spec = (!faults.is_empty()).then_some(FaultSpec {
        faults: &faults,
        model: args.handlers.fail_model(),
    });
    let expected = announce::expected(&workload, &runs, &args.handlers, repeat, fault_spec)?;
    if !global.quiet {
        announce::announce(&workload, &runs, &notes, expected);
    }
    announce::warn_if_long(expected);
    let how = How {
        target: target.as_ref(),
        handlers: &args.handlers,
        faults: fault_spec,
        repeat,
        quiet: global.quiet,
        expected,
    };
    let (reports, interrupted) = sweep(workload, &runs, &how, &dir)?;
    let doc = CompareDoc::new(reports);
    let comparison = baseline
        .as_ref()
        .map(|b| Comparison::of(b, &doc.runs, args.max_regression));
    print_summary(&doc, &args, comparison.as_ref())?;
    if let Some(path) = &args.json {
        crate::output::write_json_atomic(path, &doc)?;
    }
    if let Some(c) = &comparison {
        // The page written during the sweep had no verdict yet.
        let page = export::html::compare_page(&doc, Some(c))?;
        crate::output::write_atomic(&dir.join("compare.html"), |f| {
            Ok(f.write_all(page.as_bytes())?)
        })?;
    }
    if !global.quiet {
        eprintln!("wrote {}/compare.{{json,csv,md,svg,html}}", dir.display());
    }
    if interrupted {
        return Err(crate::error::Interrupted::Sweep(doc.runs.len()).into());
    }
    verdict(
        &doc.runs,
        comparison.as_ref(),
        args.min_efficiency,
        args.allow_missing,
    )?;
    let given_up: u64 = doc.runs.iter().map(|r| r.handling.given_up).sum();
    if given_up > 0 && !args.handlers.allow_failures {
        return Err(CheckFailed(format!(
            "{given_up} events were given up across the sweep; --allow-failures to accept"
        ))
        .into());
    }
    Ok(())
}

/// The in-memory runs on `--clock`, then (with `--broker`) the broker runs on the real clock;
/// and notes on what the broker part leaves out.
fn all_runs(args: &Args) -> (Vec<SweepRun>, Vec<String>) {
    let mut runs: Vec<SweepRun> = sweep_plans(&args.strategies, &args.workers)
        .into_iter()
        .map(|plan| SweepRun {
            plan,
            clock: args.clock,
            timer: args.timing.timer,
            backend: Backend::Memory,
        })
        .collect();
    if args.broker.is_empty() {
        return (runs, Vec::new());
    }
    let (more, notes) = broker::runs(&args.strategies, &args.workers, args.timing.timer);
    runs.extend(more);
    (runs, notes)
}

/// What every run of the sweep shares: the broker, the handler, the repetition, the noise.
struct How<'a> {
    target: Option<&'a Target>,
    handlers: &'a HandlerArgs,
    faults: Option<FaultSpec<'a>>,
    repeat: Repeat,
    quiet: bool,
    /// How long the real-clock runs should take together (see [`announce::expected`]).
    expected: Option<announce::Expected>,
}

/// Runs the sweep in order, rewriting the exports after each so a late failure keeps the earlier runs.
fn sweep(
    mut workload: Workload,
    runs: &[SweepRun],
    how: &How<'_>,
    dir: &Path,
) -> Result<(Vec<Report>, bool)> {
    let quiet = how.quiet;
    let started = std::time::Instant::now();
    let mut reports = Vec::with_capacity(runs.len());
    for (i, &run) in runs.iter().enumerate() {
        if run.clock == ClockKind::Real && !quiet {
            let via = match run.backend {
                Backend::Memory => String::new(),
                b => format!(" through RabbitMQ ({})", b.name()),
            };
            eprintln!(
                "run {}/{}: {} strategy, {} workers{via}",
                i + 1,
                runs.len(),
                run.plan.strategy(),
                run.plan.workers()
            );
        }
        let (w, report) = run_one(workload, run, how)?;
        workload = w;
        if run.clock == ClockKind::Real && !quiet {
            let at = (i + 1, runs.len(), started.elapsed());
            announce::row_done(&report, at, how.expected);
        }
        let interrupted = report.interrupted;
        reports.push(report);
        export::write_all(dir, &CompareDoc::new(reports.clone()))?;
        if interrupted {
            return Ok((reports, true));
        }
    }
    Ok((reports, false))
}

/// One configuration of the sweep (`--runs` times after `--warmup`), verified and reported;
/// hands the workload back, with its declared durations, for the next.
fn run_one(workload: Workload, run: SweepRun, how: &How<'_>) -> Result<(Workload, Report)> {
    let handlers = how.handlers;
    if let (Backend::Broker(_), None) = (run.backend, how.target) {
        anyhow::bail!("a broker run without --broker");
    }
    let intake = || match (run.backend, how.target) {
        (Backend::Broker(design), Some(t)) => Intake::Design {
            target: t.clone(),
            design,
        },
        _ => Intake::Memory {
            handler: (!handlers.handler.is_sleep()).then_some(handlers),
            board: None,
        },
    };
    let done = run_repeated(how.repeat, workload, None, how.quiet, || Spec {
        plan: run.plan,
        clock: run.clock,
        timer: run.timer,
        intake: intake(),
        quiet: how.quiet,
        faults: how.faults,
    })?;
    Ok((done.workload, done.report))
}

/// The default output folder: `results/<YYYY-MM-DD>-compare-<HHMMSS>` (UTC), never reused.
fn dated_dir() -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let (date, time) = stamp.split_once('T').unwrap_or((&stamp, ""));
    let time: String = time.chars().filter(char::is_ascii_digit).collect();
    let base = PathBuf::from("results").join(format!("{date}-compare-{time}"));
    let mut dir = base.clone();
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    dir
}

fn prepare_output_dir(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    Ok(dir.to_path_buf())
}

fn print_summary(doc: &CompareDoc, args: &Args, cmp: Option<&Comparison>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Table => {
            let mut out = anstream::AutoStream::auto(&mut out);
            out.write_all(summary::render_table(&doc.runs).as_bytes())?;
            if let Some(note) = broker::clock_note(&doc.runs) {
                writeln!(out, "{note}")?;
            }
            out.write_all(crate::report::blast::render_sweep(&doc.runs).as_bytes())?;
            out.write_all(summary::render_histograms(&doc.runs, args.histograms).as_bytes())?;
            if let Some(c) = cmp {
                writeln!(out)?;
                out.write_all(c.render().as_bytes())?;
            }
            let ranking = Ranking::of(&doc.runs);
            if !ranking.is_empty() {
                writeln!(out)?;
                out.write_all(ranking.render().as_bytes())?;
            }
            if let Some(line) = ranking.conclusion() {
                writeln!(out, "conclusion: {line}")?;
            }
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, doc)?;
            writeln!(out)?;
            // stdout stays one JSON document; the comparison goes to stderr.
            if let Some(c) = cmp {
                anstream::eprint!("{}", c.render());
            }
            let ranking = Ranking::of(&doc.runs);
            eprint!("{}", ranking.render());
            if let Some(line) = ranking.conclusion() {
                eprintln!("conclusion: {line}");
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// Exit 1 on any failed ordering check, regression, run the baseline could not judge, or
/// efficiency below the floor.
fn verdict(
    runs: &[Report],
    cmp: Option<&Comparison>,
    floor: Option<Fraction>,
    allow_missing: bool,
) -> Result<()> {
    let mut failures = Vec::new();
    let broken: Vec<String> = runs.iter().filter(|r| !r.passed()).map(run_label).collect();
    if !broken.is_empty() {
        failures.push(format!("ordering check failed: {}", broken.join("; ")));
    }
    failures.extend(cmp.map_or_else(Vec::new, |c| c.failures(allow_missing)));
    if let Some(Fraction(min)) = floor {
        let low: Vec<String> = runs
            .iter()
            .filter(|r| r.efficiency < min)
            .map(|r| format!("{} ({:.2}%)", run_label(r), r.efficiency * 100.0))
            .collect();
        if !low.is_empty() {
            failures.push(format!(
                "efficiency below {:.2}%: {}",
                min * 100.0,
                low.join("; ")
            ));
        }
    }
    if failures.is_empty() {
        return Ok(());
    }
    Err(CheckFailed(failures.join("\n")).into())
}
