//! `compare.html` and `report --html`: one self-contained page (uPlot, styles, script and the
//! document's JSON all embedded) that opens from disk with no network.

use super::{palette, Exporter};
use crate::report::alarms::alarms;
use crate::report::baseline::{Comparison, Delta};
use crate::report::ranking::Ranking;
use crate::report::sweep::CompareDoc;
use crate::report::Report;
use crate::web::{common_slots, fill, CHARTS_JS};
use anyhow::Result;
use serde_json::{json, Value};
use std::io::Write;

const TEMPLATE: &str = include_str!("../../assets/report.html");
const REPORT_JS: &str = include_str!("../../assets/report.js");
const BLAST_JS: &str = include_str!("../../assets/blast.js");

/// The `compare.html` exporter (without a verdict; see [`compare_page`]).
pub(crate) struct Html;

impl Exporter for Html {
    fn file_name(&self) -> &'static str {
        "compare.html"
    }

    fn write(&self, doc: &CompareDoc, out: &mut dyn Write) -> Result<()> {
        out.write_all(compare_page(doc, None)?.as_bytes())?;
        Ok(())
    }
}

/// The page of a sweep, with the baseline verdict when there was one.
pub(crate) fn compare_page(doc: &CompareDoc, verdict: Option<&Comparison>) -> Result<String> {
    let data = json!({
        "kind": "compare",
        "doc": serde_json::to_value(doc)?,
        "verdict": verdict.map(verdict_json),
        "ranking": ranking_json(doc),
        "conclusion": Ranking::of(&doc.runs).conclusion(),
        "colours": palette::table(),
        "blast": blast_lines(&serde_json::to_value(doc)?),
    });
    Ok(page("eventbench compare", &data))
}

/// The page of any saved document: a compare document (`{"runs": […]}`) or one report (of
/// `run`, `serve` or `verify`), given as parsed JSON so fields this version does not know
/// are shown too.
pub(crate) fn document_page(doc: &Value) -> String {
    let kind = if doc.get("runs").is_some() {
        "compare"
    } else {
        "report"
    };
    let title = match kind {
        "compare" => "eventbench compare".to_string(),
        _ => format!(
            "eventbench report: {}",
            doc.get("strategy").and_then(Value::as_str).unwrap_or("run")
        ),
    };
    // A document this version can read gets its verdict lines (a sweep) or what went wrong
    // (a report); another schema is still shown, without them.
    let sweep = serde_json::from_value::<CompareDoc>(doc.clone()).ok();
    let ranking = sweep.as_ref().map_or(Value::Null, ranking_json);
    let conclusion = sweep.and_then(|d| Ranking::of(&d.runs).conclusion());
    let alarms = match kind {
        "report" => serde_json::from_value::<Report>(doc.clone())
            .ok()
            .map_or(Value::Null, |r| json!(alarms(&r))),
        _ => Value::Null,
    };
    page(
        &title,
        &json!({"kind": kind, "doc": doc, "verdict": Value::Null, "ranking": ranking,
            "conclusion": conclusion, "alarms": alarms, "colours": palette::table(),
            "blast": blast_lines(doc)}),
    )
}

/// `--fault`: the blast-radius line of each faulted run, as the terminal prints it.
fn blast_lines(doc: &Value) -> Value {
    use crate::report::blast::Blast;
    let sentence = |r: &Value| serde_json::from_value::<Blast>(r.clone()).ok();
    match doc.get("runs").and_then(Value::as_array) {
        Some(runs) => json!(runs
            .iter()
            .filter_map(|r| {
                let b = sentence(r)?;
                let name = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("?").to_string();
                Some(format!(
                    "{} ({} workers): {}",
                    name("strategy"),
                    name("workers_requested"),
                    b.sentence()
                ))
            })
            .collect::<Vec<_>>()),
        None => json!(sentence(doc)
            .map(|b| vec![b.sentence()])
            .unwrap_or_default()),
    }
}

/// The verdict lines, ready to show: the page prints them as they are in the terminal.
fn ranking_json(doc: &CompareDoc) -> Value {
    json!(Ranking::of(&doc.runs).lines())
}

fn verdict_json(c: &Comparison) -> Value {
    let delta = |d: &Delta| {
        json!({
            "label": d.label, "base_wall_s": d.base_wall_s, "wall_s": d.wall_s,
            "base_efficiency": d.base_efficiency, "efficiency": d.efficiency,
            "base_stddev_s": d.spread.map(|x| x.base_stddev_s),
            "stddev_s": d.spread.map(|x| x.stddev_s),
        })
    };
    json!({
        "tolerance": c.tolerance,
        "regressed": c.regressed.iter().map(delta).collect::<Vec<_>>(),
        "improved": c.improved.iter().map(delta).collect::<Vec<_>>(),
        "unchanged": c.unchanged,
        "noisy": c.noisy.iter().map(delta).collect::<Vec<_>>(),
        "unmatched": c.unmatched,
        "interrupted": c.interrupted,
    })
}

fn page(title: &str, data: &Value) -> String {
    // `<` only occurs inside JSON strings, where \u003c means the same: no `</script>` inside.
    let data = data.to_string().replace('<', "\\u003c");
    let title = title
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let script = format!("{CHARTS_JS}\n{REPORT_JS}\n{BLAST_JS}");
    let mut slots = common_slots().to_vec();
    slots.push(("REPORT_JS", &script));
    // The data slot is filled last, so nothing inside the document is taken for a slot.
    let page = fill(TEMPLATE, &slots).replace("/*TITLE*/", &title);
    page.replace("/*DATA*/", &data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture;

    #[test]
    fn the_page_is_self_contained_and_carries_the_document() {
        let doc = fixture::doc();
        let html = compare_page(&doc, None).unwrap();
        assert!(!html.contains("/*UPLOT_JS*/") && !html.contains("/*DATA*/"));
        assert!(!html.contains("src=\"http") && !html.contains("href=\"http"));
        let start = html.find("id=\"eb-data\">").unwrap() + "id=\"eb-data\">".len();
        let end = start + html[start..].find("</script>").unwrap();
        let data: Value = serde_json::from_str(&html[start..end]).unwrap();
        assert_eq!(data["kind"], "compare");
        assert_eq!(data["ranking"], json!(Ranking::of(&doc.runs).lines()));
        assert_eq!(
            data["ranking"][1],
            "pool (2 workers) ran 1.60 times faster than sharded (2 workers)"
        );
        let saved = document_page(&serde_json::to_value(&doc).unwrap());
        assert!(saved.contains("ran 1.60 times faster than sharded"));
        assert_eq!(
            data["doc"]["runs"].as_array().unwrap().len(),
            doc.runs.len()
        );
    }

    #[test]
    fn markup_in_a_document_cannot_end_the_data_script() {
        let doc = json!({"strategy": "external", "input": "</script><script>alert(1)</script>"});
        let html = document_page(&doc);
        assert_eq!(
            html.matches("</script>").count(),
            3,
            "data, uPlot, report script"
        );
        assert!(html.contains("\\u003c/script>\\u003cscript>alert(1)"));
    }
}
