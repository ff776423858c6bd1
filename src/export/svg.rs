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

/// A log axis needs positive values and pays off only across an order of magnitude.
fn span(values: impl Iterator<Item = f64> + Clone) -> (f64, f64, bool) {
    let lo = values.clone().fold(f64::INFINITY, f64::min);
    let hi = values.fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, false);
    }
    if lo > 0.0 && hi / lo >= 10.0 {
        return (log_start(lo), hi * 1.5, true);
    }
    let pad = ((hi - lo) * 0.1).max(hi.abs() * 0.1).max(1e-3);
    ((lo - pad).max(0.0), hi + pad, false)
}

/// Where a log axis starts below `lo`. plotters labels a log axis only from its first power
/// of ten on, so when that would leave the smallest value unlabelled, start at the power of
/// ten below it instead.
fn log_start(lo: f64) -> f64 {
    let start = lo / 1.5;
    let first_power = 10f64.powf(start.log10().ceil());
    if first_power > lo {
        10f64.powf(start.log10().floor())
    } else {
        start
    }
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
            let (x0, x1, _) = span(runs.iter().map(|r| r.workers.max(1) as f64));
            let (x0, x1) = (x0.max(0.5), x1.max(2.0));
            let ys = runs.iter().flat_map(|r| [r.wall_time_s, r.lower_bound_s]);
            let (y0, y1, ylog) = span(ys);
            let x = (x0..x1).log_scale();
            let drawn = if ylog {
                draw(
                    &root,
                    doc,
                    x,
                    (y0..y1).log_scale(),
                    "wall time, s (log scale)",
                )
            } else {
                draw(&root, doc, x, y0..y1, "wall time, s")
            };
            drawn.map_err(|e| anyhow!("plot: {e}"))?;
            root.present().map_err(|e| anyhow!("plot: {e}"))?;
        }
        out.write_all(svg.as_bytes())?;
        Ok(())
    }
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn draw<X, Y>(
    root: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    doc: &CompareDoc,
    x: X,
    y: Y,
    y_desc: &str,
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
        .y_label_formatter(&|v| short(*v))
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

    #[test]
    fn an_empty_sweep_still_makes_a_picture() {
        let text = render(&Svg, &CompareDoc::new(Vec::new())).unwrap();
        assert!(text.contains("no runs"));
    }
}
