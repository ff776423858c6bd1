//! Web pages and what they share: the live dashboard ([`dashboard`], mounted by `serve` and
//! served on its own by `run` and `worker`), the embedded assets and template filling that the
//! dashboard and `report --html` pages are built from, and the JSON error shape every route of
//! ours answers with. Reads live boards and reports; never names the intake, the broker or a
//! command.

pub(crate) mod dashboard;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

const UPLOT_JS: &str = include_str!("../../assets/uplot/uPlot.iife.min.js");
const UPLOT_CSS: &str = include_str!("../../assets/uplot/uPlot.min.css");
pub(crate) const PAGE_CSS: &str = include_str!("../../assets/page.css");
pub(crate) const CHARTS_JS: &str = include_str!("../../assets/charts.js");

/// Fills a page template's `/*NAME*/` slots; `</script` inside a script would end it early.
pub(crate) fn fill(template: &str, slots: &[(&str, &str)]) -> String {
    let mut page = template.to_string();
    for (name, text) in slots {
        page = page.replace(
            &format!("/*{name}*/"),
            &text.replace("</script", "<\\/script"),
        );
    }
    page
}

/// uPlot and the shared styles and helpers, for the slots every page has.
pub(crate) fn common_slots() -> [(&'static str, &'static str); 3] {
    [
        ("UPLOT_JS", UPLOT_JS),
        ("UPLOT_CSS", UPLOT_CSS),
        ("PAGE_CSS", PAGE_CSS),
    ]
}

/// A JSON error body: `error` is the machine-readable code, `status` repeats the status code.
pub(crate) fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": code, "status": status.as_u16(), "message": message});
    (status, axum::Json(body)).into_response()
}

/// 405 with an `Allow` header naming the methods the route takes.
pub(crate) fn method_not_allowed(allow: &'static str) -> Response {
    let mut resp = json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        &format!("method not allowed; use {allow}"),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}
