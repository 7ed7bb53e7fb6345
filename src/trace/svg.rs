//! `postlab trace ID --svg FILE`: the course's flowchart as a picture, with the message's path
//! through it highlighted.
//!
//! Seven boxes, one per step, top to bottom, joined by arrows. A box the message passed is
//! filled: green when its last event there went well, amber when it was deferred, red when it
//! failed or bounced. Beside each box: the time, the server (for a journey across servers) and
//! what happened. Steps it did not need are drawn dashed and grey. The SVG is plain, hand-
//! written XML (a few rectangles, lines and text), so it opens in any browser.

use std::fmt::Write as _;

use super::Stop;
use crate::ids::QueueId;
use crate::transcript::Step;

const BOX_W: i32 = 190;
const BOX_H: i32 = 58;
const GAP: i32 = 34;
const LEFT: i32 = 20;
const TOP: i32 = 70;
const TEXT_X: i32 = LEFT + BOX_W + 24;
const WIDTH: i32 = 1000;
/// At most this many events are written beside one box.
const MAX_LINES: usize = 3;

/// How a step went, from its events' words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Deferred,
    Failed,
    Skipped,
}

impl Outcome {
    fn colours(self) -> (&'static str, &'static str) {
        match self {
            Outcome::Passed => ("#d8f3dc", "#2d6a4f"),
            Outcome::Deferred => ("#ffe8b0", "#b07d00"),
            Outcome::Failed => ("#ffd6d6", "#b00020"),
            Outcome::Skipped => ("#f4f4f4", "#9a9a9a"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Deferred => "deferred",
            Outcome::Failed => "failed",
            Outcome::Skipped => "skipped",
        }
    }
}

/// The outcome of one step, judged by the last of its events.
pub fn outcome(stops: &[&Stop]) -> Outcome {
    let Some(last) = stops.last() else {
        return Outcome::Skipped;
    };
    let text = last.text.to_ascii_lowercase();
    // "deferred, will retry: connection refused" is a deferral: look for those words first.
    if text.contains("deferred") || text.contains("will retry") || text.contains("next attempt") {
        Outcome::Deferred
    } else if text.contains("failed") || text.contains("refused") || text.contains("bounce") {
        Outcome::Failed
    } else {
        Outcome::Passed
    }
}

/// Draws the journey.
pub fn render(id: &QueueId, stops: &[Stop]) -> String {
    let height = TOP + 7 * (BOX_H + GAP) - GAP + 30;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">"##
    );
    let _ = writeln!(
        svg,
        r##"  <rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>"##
    );
    let _ = writeln!(
        svg,
        r##"  <text x="{LEFT}" y="34" font-size="20" font-weight="bold">The journey of message {}</text>"##,
        escape(id.as_str())
    );
    let _ = writeln!(
        svg,
        r##"  <defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#555"/></marker></defs>"##
    );
    for (row, step) in Step::ALL.into_iter().enumerate() {
        let y = TOP + row as i32 * (BOX_H + GAP);
        let here: Vec<&Stop> = stops.iter().filter(|s| s.step == step).collect();
        let outcome = outcome(&here);
        let (fill, stroke) = outcome.colours();
        let dash = if outcome == Outcome::Skipped {
            r#" stroke-dasharray="6 4""#
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            r##"  <rect class="step {}" data-step="{}" x="{LEFT}" y="{y}" width="{BOX_W}" height="{BOX_H}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="2"{dash}/>"##,
            outcome.name(),
            step.number()
        );
        let _ = writeln!(
            svg,
            r##"  <text x="{}" y="{}" font-size="16" font-weight="bold" fill="{stroke}">{} {}</text>"##,
            LEFT + 12,
            y + 24,
            step.number(),
            step.label()
        );
        let _ = writeln!(
            svg,
            r##"  <text x="{}" y="{}" font-size="10" fill="#444">{}</text>"##,
            LEFT + 12,
            y + 44,
            escape(&short(step.meaning(), 34))
        );
        if row < 6 {
            let x = LEFT + BOX_W / 2;
            let _ = writeln!(
                svg,
                r##"  <line x1="{x}" y1="{}" x2="{x}" y2="{}" stroke="#555" stroke-width="2" marker-end="url(#arrow)"/>"##,
                y + BOX_H,
                y + BOX_H + GAP - 2
            );
        }
        if here.is_empty() {
            let _ = writeln!(
                svg,
                r##"  <text x="{TEXT_X}" y="{}" font-size="12" fill="#9a9a9a">not part of this journey</text>"##,
                y + 32
            );
        }
        for (i, stop) in here.iter().rev().take(MAX_LINES).rev().enumerate() {
            let time = stop.stamp.get(11..19).unwrap_or(&stop.stamp);
            let server = if stop.server.is_empty() {
                String::new()
            } else {
                format!("[{}] ", stop.server)
            };
            let line = format!("{time}  {server}{}", stop.text);
            let _ = writeln!(
                svg,
                r##"  <text x="{TEXT_X}" y="{}" font-size="12" fill="#222">{}</text>"##,
                y + 18 + i as i32 * 17,
                escape(&short(&line, 110))
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    }
}

/// XML text escaping: `&`, `<`, `>` and quotes.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_show_outcomes_and_text_is_escaped() {
        let stop = |step, text: &str| Stop {
            step,
            stamp: "2026-11-26 15:20:55.101".into(),
            session: "s".into(),
            text: text.into(),
            server: "a".into(),
        };
        let stops = vec![
            stop(Step::Mua, "connect from 127.0.0.1:5000"),
            stop(Step::Mta, "new message from <alice@a.test>"),
            stop(
                Step::Relay,
                "<bob@b.test> deferred, will retry: connection refused",
            ),
        ];
        let svg = render(&QueueId::parse("19A3C4F2B8D10").unwrap(), &stops);
        assert!(svg.contains(r#"class="step passed" data-step="1""#));
        assert!(svg.contains(r#"class="step deferred" data-step="5""#));
        assert!(svg.contains(r#"class="step skipped" data-step="6""#));
        assert!(svg.contains("&lt;alice@a.test&gt;") && !svg.contains("<alice"));
        assert_eq!(svg.matches("<rect class=").count(), 7);
    }
}
