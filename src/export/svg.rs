//! `compare.svg`: wall time against workers, one line per strategy, the lower bound as a
//! dashed line, drawn with plotters' SVG backend.

use super::Exporter;
use crate::engine::Strategy;
use crate::report::sweep::CompareDoc;
use crate::report::Backend;
use crate::report::Design;
use crate::report::Report;
use crate::types::Micros;
use anyhow::anyhow;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
use std::io::Write;

/// The sweep as a line chart.
pub(crate) struct Svg;

const SIZE: (u32, u32) = (1000, 650);

/// A strategy keeps its colour across plots, and the HTML page's (see [`super::palette`]).
fn colour(s: Strategy) -> RGBColor {
    let (r, g, b) = super::palette::colour(s);
    RGBColor(r, g, b)
}

/// Points `(lanes, seconds)` sorted by lanes; `auto` sits at the account count.
fn series(runs: &[&Report], y: impl Fn(&Report) -> f64) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = runs.iter().map(|r| (r.workers as f64, y(r))).collect();
    pts.sort_by(|a, b| a.0.total_cmp(&b.0));
    pts.dedup_by(|a, b| a.0 == b.0);
    pts
}

/// The range of an axis over some values, and how it is scaled.
#[derive(Clone, Debug, PartialEq)]
enum Axis {
    Linear(f64, f64),
    /// From, to, and the values that get a labelled tick.
    Log(f64, f64, Vec<f64>),
}

impl Axis {
    fn range(&self) -> (f64, f64) {
        match *self {
            Axis::Linear(lo, hi) | Axis::Log(lo, hi, _) => (lo, hi),
        }
    }
}

/// A log axis needs positive values and pays off only across an order of magnitude.
fn span(values: impl Iterator<Item = f64> + Clone) -> Axis {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return Axis::Linear(0.0, 1.0);
    }
    if lo > 0.0 && hi / lo >= 10.0 {
        return log_axis(lo, hi);
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.1).max(1e-3);
    Axis::Linear((lo - pad).max(0.0), hi + pad)
}

/// Up to this ratio between the largest and the smallest value a log axis is labelled at 1,
/// 2 and 5 of every decade; past it, at the decades alone (the labels would crowd).
const FINE_TICKS_UP_TO: f64 = 1e4;

/// A log axis over `lo..=hi`. It starts a margin below `lo`, or lower, at the largest tick
/// not above `lo`: the smallest value always has a labelled tick at or below it (plotters'
/// own log ticks are the powers of ten, and miss the first one to rounding: 0.3..40 s read
/// only `1` and `10`).
fn log_axis(lo: f64, hi: f64) -> Axis {
    let steps: &[f64] = if hi / lo <= FINE_TICKS_UP_TO {
        &[1.0, 2.0, 5.0]
    } else {
        &[1.0]
    };
    let first = lo.log10().floor() as i32 - 1;
    let last = hi.log10().ceil() as i32 + 1;
    let all: Vec<f64> = (first..=last)
        .flat_map(|p| steps.iter().map(move |&m| decade(m, p)))
        .collect();
    let floor = all.iter().rev().copied().find(|&t| t <= lo).unwrap_or(lo);
    let (start, end) = ((lo / 1.5).min(floor), hi * 1.5);
    let ticks = all
        .into_iter()
        .filter(|&t| t >= start && t <= end)
        .collect();
    Axis::Log(start, end, ticks)
}

/// `m · 10^p`, exact where it can be: `2 / 1000` is 0.002, `2 · 10⁻³` is not quite.
fn decade(m: f64, p: i32) -> f64 {
    if p < 0 {
        m / 10f64.powi(-p)
    } else {
        m * 10f64.powi(p)
    }
}

/// A tick of a log time axis, in the unit that keeps it short: `2 s`, `500 ms`, `20 µs`.
fn time_tick(seconds: f64) -> String {
    if seconds >= 1.0 {
        format!("{} s", short(seconds))
    } else if seconds >= 1e-3 {
        format!("{} ms", short(seconds * 1e3))
    } else {
        format!("{} µs", short(seconds * 1e6))
    }
}

/// The worker counts that get a labelled tick: each one drawn, less any that would sit on
/// the previous label (closer than 1/30 of the axis).
fn worker_ticks(counts: &[f64], (x0, x1): (f64, f64)) -> Vec<f64> {
    let width = (x1 / x0).ln();
    let mut ticks: Vec<f64> = Vec::new();
    for &c in counts {
        if ticks.last().is_none_or(|&t| (c / t).ln() >= width / 30.0) {
            ticks.push(c);
        }
    }
    ticks
}

/// A tick label with four significant digits and no trailing zeros (`0.41`, not
/// `0.41000000000000006`).
fn short(v: f64) -> String {
    let digits = if v == 0.0 {
        0
    } else {
        (3 - v.abs().log10().floor() as i32).clamp(0, 9) as usize
    };
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

fn title(doc: &CompareDoc) -> String {
    // An interrupted run's wall time is that of a partial run: it is not drawn, and said so.
    let cut = doc.runs.iter().filter(|r| r.interrupted).count();
    let cut = match cut {
        0 => String::new(),
        n => format!(" ({n} interrupted, not drawn)"),
    };
    match doc.runs.first() {
        Some(r) => format!(
            "Wall time vs workers: {} events, {} accounts, {} per event, {} clock{cut}",
            r.events,
            r.accounts,
            Micros((r.process_time_s * 1e6).round() as u64),
            r.clock
        ),
        None => "Wall time vs workers: no runs".into(),
    }
}

impl Exporter for Svg {
    fn file_name(&self) -> &'static str {
        "compare.svg"
    }

    fn write(&self, doc: &CompareDoc, out: &mut dyn Write) -> anyhow::Result<()> {
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, SIZE).into_drawing_area();
            root.fill(&WHITE).map_err(|e| anyhow!("plot: {e}"))?;
            let runs: Vec<&Report> = doc.runs.iter().filter(|r| !r.interrupted).collect();
            let counts = series(&runs, |_| 0.0).into_iter().map(|p| p.0.max(1.0));
            let counts: Vec<f64> = counts.collect();
            let (x0, x1) = span(counts.iter().copied()).range();
            let (x0, x1) = (x0.max(0.5), x1.max(2.0));
            let x = (x0..x1)
                .log_scale()
                .with_key_points(worker_ticks(&counts, (x0, x1)));
            let ys = runs.iter().flat_map(|r| [r.wall_time_s, r.lower_bound_s]);
            let drawn = match span(ys) {
                Axis::Log(y0, y1, ticks) => draw(
                    &root,
                    doc,
                    (x, (y0..y1).log_scale().with_key_points(ticks)),
                    ("wall time (log scale)", &|v: &f64| time_tick(*v)),
                ),
                Axis::Linear(y0, y1) => draw(
                    &root,
                    doc,
                    (x, y0..y1),
                    ("wall time, s", &|v: &f64| short(*v)),
                ),
            };
            drawn.map_err(|e| anyhow!("plot: {e}"))?;
            root.present().map_err(|e| anyhow!("plot: {e}"))?;
        }
        out.write_all(svg.as_bytes())?;
        Ok(())
    }
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

/// The chart on `root`: axes `x` and `y`, the y axis described and its ticks written by
/// `y_axis`.
fn draw<X, Y>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    doc: &CompareDoc,
    (x, y): (X, Y),
    (y_desc, y_tick): (&str, &dyn Fn(&f64) -> String),
) -> PlotResult
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let mut chart = ChartBuilder::on(root)
        .caption(title(doc), ("sans-serif", 22))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?;
    let accounts = doc.runs.first().map_or(0, |r| r.accounts);
    chart
        .configure_mesh()
        .x_desc(format!(
            "workers (log scale; auto = one per account = {accounts})"
        ))
        .y_desc(y_desc)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(y_tick)
        .light_line_style(TRANSPARENT)
        .label_style(("sans-serif", 14))
        .axis_desc_style(("sans-serif", 16))
        .draw()?;
    for backend in [
        Backend::Memory,
        Backend::Broker(Design::Ours),
        Backend::Broker(Design::Original),
    ] {
        for s in Strategy::ALL {
            let runs: Vec<&Report> = doc
                .runs
                .iter()
                .filter(|r| r.strategy == s && r.backend == backend && !r.interrupted)
                .collect();
            if !runs.is_empty() {
                draw_strategy(&mut chart, s, backend, &series(&runs, |r| r.wall_time_s))?;
            }
        }
    }
    // The bound goes on top: the best strategies run exactly on it.
    let all: Vec<&Report> = doc.runs.iter().filter(|r| !r.interrupted).collect();
    let bound = series(&all, |r| r.lower_bound_s);
    let grey = RGBColor(40, 40, 40);
    chart
        .draw_series(DashedLineSeries::new(bound, 10, 6, grey.stroke_width(2)))?
        .label("lower bound")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(2)));
    if let Some(auto) = all.iter().find(|r| r.workers_requested == "auto") {
        let at = (
            auto.workers.max(1) as f64,
            auto.lower_bound_s.max(f64::MIN_POSITIVE),
        );
        let style = ("sans-serif", 16).into_font().color(&grey);
        let label =
            EmptyElement::at(at) + Text::new(format!("auto = {accounts}"), (-30, 16), style);
        chart.draw_series(std::iter::once(label))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(180, 180, 180))
        .label_font(("sans-serif", 16))
        .draw()?;
    Ok(())
}

/// One strategy's line and dots; runs through RabbitMQ are dashed and labelled as such.
fn draw_strategy<DB: DrawingBackend, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    s: Strategy,
    backend: Backend,
    pts: &[(f64, f64)],
) -> anyhow::Result<()>
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
    DB::ErrorType: 'static,
{
    let c = colour(s);
    let label = format!("{}{}", s.name(), backend.tag());
    let legend =
        move |(x, y): (i32, i32)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3));
    if backend == Backend::Memory {
        chart
            .draw_series(LineSeries::new(pts.to_vec(), c.stroke_width(3)))?
            .label(label)
            .legend(legend);
    } else {
        chart
            .draw_series(DashedLineSeries::new(pts.to_vec(), 6, 4, c.stroke_width(2)))?
            .label(label)
            .legend(legend);
    }
    // per-account is a single point that usually coincides with `auto` of the others;
    // a ring keeps it visible around their dots.
    let marker = match s {
        Strategy::PerAccount => c.stroke_width(3),
        _ if backend != Backend::Memory => c.stroke_width(2),
        _ => c.filled(),
    };
    let radius = if s == Strategy::PerAccount { 10 } else { 5 };
    chart.draw_series(pts.iter().map(|&p| Circle::new(p, radius, marker)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::render;
    use crate::report::fixture;

    #[test]
    fn every_strategy_and_the_bound_are_drawn() {
        let text = render(&Svg, &fixture::doc()).unwrap();
        assert!(text.starts_with("<svg"), "{}", &text[..40]);
        for label in [
            "sharded",
            "pool",
            "optimal",
            "per-account",
            "lower bound",
            "auto = 4",
        ] {
            assert!(text.contains(label), "{label} missing");
        }
        // The page's colours (issue 23: one palette for the SVG and the HTML).
        for s in Strategy::ALL {
            let hex = crate::export::palette::hex(s).to_uppercase();
            assert!(text.to_uppercase().contains(&hex), "{s}: no {hex}");
        }
    }

    #[test]
    fn tick_labels_are_short() {
        assert_eq!(short(0.4 + 0.01), "0.41");
        assert_eq!(short(200.0), "200");
        assert_eq!(short(0.0), "0");
        assert_eq!(short(1234.5678), "1235");
        assert_eq!(short(0.012345), "0.01235");
    }

    /// The tick labels of one axis, low to high: the y axis's are anchored at their end (and
    /// go up the picture), the x axis's in their middle below the plot (and go right).
    fn ticks(svg: &str, anchor: &str) -> Vec<String> {
        let attr = |t: &str, name: &str| -> i64 {
            let at = t.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            t[at..].split('"').next().unwrap().parse().unwrap()
        };
        let mut found: Vec<(i64, String)> = svg
            .split("<text")
            .skip(1)
            .filter(|t| t.contains(&format!("text-anchor=\"{anchor}\"")) && !t.contains("rotate"))
            .filter(|t| anchor == "end" || t.contains("dy=\"0.76em\"") && attr(t, "y") > 25)
            .map(|t| {
                let label = t
                    .split_once('>')
                    .unwrap()
                    .1
                    .split("</text>")
                    .next()
                    .unwrap();
                let at = if anchor == "end" {
                    -attr(t, "y")
                } else {
                    attr(t, "x")
                };
                (at, label.trim().to_string())
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, l)| l).collect()
    }

    fn sweep(bound: f64, walls: &[(Strategy, &str, f64)]) -> CompareDoc {
        CompareDoc::new(
            walls
                .iter()
                .map(|&(s, w, wall)| fixture::report(s, w, bound, wall))
                .collect(),
        )
    }

    #[test]
    fn a_log_time_axis_is_labelled_at_1_2_5_down_to_its_smallest_value() {
        // 4 ms to 300 ms: plotters alone labelled 0.01 and 0.1 only.
        let doc = sweep(
            0.004,
            &[(Strategy::Sharded, "2", 0.3), (Strategy::Pool, "8", 0.004)],
        );
        let text = render(&Svg, &doc).unwrap();
        assert_eq!(
            ticks(&text, "end"),
            ["2 ms", "5 ms", "10 ms", "20 ms", "50 ms", "100 ms", "200 ms"],
            "{text}"
        );
        assert!(text.contains("wall time (log scale)"));
        // From 0.3 s to 40 s: the ticks below 1 s are there too.
        let doc = sweep(
            0.3,
            &[
                (Strategy::Sharded, "10", 40.0),
                (Strategy::Pool, "100", 0.3),
            ],
        );
        assert_eq!(
            ticks(&render(&Svg, &doc).unwrap(), "end"),
            ["200 ms", "500 ms", "1 s", "2 s", "5 s", "10 s", "20 s", "50 s"]
        );
    }

    #[test]
    fn a_wide_log_axis_is_labelled_at_its_decades_in_micro_and_milliseconds() {
        let Axis::Log(start, end, ticks) = log_axis(20e-6, 3.0) else {
            panic!("a log axis");
        };
        assert!(start <= 10e-6 && end >= 3.0, "{start} {end}");
        let labels: Vec<String> = ticks.into_iter().map(time_tick).collect();
        assert_eq!(
            labels,
            ["10 µs", "100 µs", "1 ms", "10 ms", "100 ms", "1 s"]
        );
        assert_eq!(time_tick(0.002), "2 ms");
        assert_eq!(time_tick(5e-6), "5 µs");
        assert_eq!(time_tick(200.0), "200 s");
    }

    #[test]
    fn the_workers_axis_is_labelled_at_the_counts_that_ran() {
        // Plotters' own ticks are the powers of ten: 2 and 4 workers got none.
        let text = render(&Svg, &fixture::doc()).unwrap();
        assert_eq!(ticks(&text, "middle"), ["2", "4"], "{text}");
        // Counts that would print on each other keep the first.
        assert_eq!(
            worker_ticks(&[10.0, 100.0, 500.0, 1000.0, 1024.0], (5.0, 1500.0)),
            [10.0, 100.0, 500.0, 1000.0]
        );
    }

    #[test]
    fn an_empty_sweep_still_makes_a_picture() {
        let text = render(&Svg, &CompareDoc::new(Vec::new())).unwrap();
        assert!(text.contains("no runs"));
    }
}
