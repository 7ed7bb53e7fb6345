//! `postlab trace ID --svg FILE`: the course's flowchart as a picture, made to be projected.
//!
//! One lane (a column) per server the message crossed, each with the seven steps top to bottom.
//! A message relayed from one server to the next crosses lanes with an arrow from step 5 of the
//! sender to step 1 of the receiver, whose lane starts at that height, so time runs down.
//!
//! Each box takes its look from the message's real outcome (`outcome.rs`), never from the
//! words of its last line, and says it in words as well as colour: a badge with the look's
//! name, a line per recipient saying what it met there. Every event is listed; a box with many
//! (14 relay attempts) folds the middle into one line that says how many it stands for, so
//! nothing disappears silently. Every text is wrapped to its box (`wrap.rs`), never cut.
//!
//! Plain hand-written SVG 1.1 (rectangles, lines, text, one hatch pattern): it opens in any
//! browser and renders with `rsvg-convert`.

use std::fmt::Write as _;

use super::event::{self, Event};
use super::outcome::{Look, Mark, Outcome};
use super::wrap::{width, wrap, Font};
use super::{Journey, Stop};
use crate::transcript::Step;

const MARGIN: f32 = 24.0;
const LANE_W: f32 = 640.0;
const LANE_GAP: f32 = 70.0;
const LANE_HEAD: f32 = 40.0;
const PAD: f32 = 12.0;
const ARROW: f32 = 28.0;
/// A box with more events than this folds its middle.
const MAX_EVENTS: usize = 12;
const KEEP_FIRST: usize = 4;
const KEEP_LAST: usize = 6;
/// Bold letters are about a tenth wider than regular ones: measured as a larger size.
const BOLD: f32 = 1.1;

impl Look {
    /// (fill, stroke, dash pattern)
    fn style(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Look::Passed => ("#d8f3dc", "#2d6a4f", ""),
            Look::Deferred => ("#ffe8b0", "#a06a00", ""),
            Look::Failed => ("#ffd6d6", "#b00020", ""),
            Look::RelayedOn => ("#dbe9ff", "#1d4ed8", ""),
            Look::Waiting => ("#ffffff", "#444444", "10 6"),
            Look::NotReached => ("#f2f2f2", "#666666", "2 5"),
            Look::Skipped => ("url(#hatch)", "#666666", ""),
        }
    }

    fn class(self) -> String {
        self.name().replace(' ', "-")
    }
}

/// One line of a box, below its title.
enum Row {
    Meaning(String),
    Why(Look, String),
    Event(String),
    Fold(String),
}

impl Row {
    fn height(&self) -> f32 {
        match self {
            Row::Meaning(_) | Row::Event(_) => 15.0,
            Row::Why(..) | Row::Fold(_) => 17.0,
        }
    }
}

/// Draws the journey with its outcome.
pub fn render(journey: &Journey, outcome: &Outcome) -> String {
    let lanes = outcome.marks.len().max(1);
    let total_w = MARGIN * 2.0 + lanes as f32 * LANE_W + (lanes - 1) as f32 * LANE_GAP;
    let inner = total_w - 2.0 * MARGIN;
    let mut body = String::new();
    let mut y = MARGIN + 22.0;
    let title = format!("The journey of message {}", journey.id);
    text(&mut body, MARGIN, y, 22.0, Font::Sans, "#111", true, &title);
    y += 30.0;
    text(
        &mut body,
        MARGIN,
        y,
        15.0,
        Font::Sans,
        "#111",
        true,
        "What became of it:",
    );
    y += 22.0;
    for r in &outcome.recipients {
        let (_, stroke, _) = r.fate.look().style();
        let line = format!(
            "<{}>  {}: {}",
            r.address,
            r.fate.look().name(),
            r.fate.describe(journey)
        );
        for (i, part) in wrap(&line, inner - 24.0, 14.0, Font::Sans)
            .iter()
            .enumerate()
        {
            if i == 0 {
                swatch(&mut body, MARGIN, y - 11.0, 14.0, r.fate.look());
            }
            text(
                &mut body,
                MARGIN + 22.0,
                y,
                14.0,
                Font::Sans,
                stroke,
                false,
                part,
            );
            y += 19.0;
        }
    }
    y += 8.0;
    y = legend(&mut body, y, inner) + 16.0;

    // Each lane starts at the top, or level with the relay step that handed the message to it.
    let mut tops: Vec<f32> = Vec::new();
    let mut relay_boxes: Vec<(f32, f32)> = Vec::new(); // (top of step 5, top of step 1) per lane
    let mut bottom = y;
    let mut lanes_svg = String::new();
    let mut crossings = String::new();
    for (lane, marks) in outcome.marks.iter().enumerate() {
        let from = handed_from(journey, lane);
        let top = match from {
            Some(f) if f < lane => relay_boxes[f].0 - LANE_HEAD,
            _ => y,
        };
        let x = MARGIN + lane as f32 * (LANE_W + LANE_GAP);
        let (end, relay_top, first_top) = draw_lane(&mut lanes_svg, journey, lane, marks, x, top);
        tops.push(top);
        relay_boxes.push((relay_top, first_top));
        bottom = bottom.max(end);
        if let Some(f) = from.filter(|&f| f < lane) {
            let from_x = MARGIN + f as f32 * (LANE_W + LANE_GAP) + LANE_W;
            cross_arrow(
                &mut crossings,
                from_x,
                relay_boxes[f].0 + 18.0,
                x,
                first_top + 18.0,
            );
        }
    }
    let height = bottom + MARGIN;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total_w:.0}" height="{height:.0}" viewBox="0 0 {total_w:.0} {height:.0}">"##
    );
    let _ = writeln!(
        svg,
        r##"  <defs><marker id="arrow" markerWidth="10" markerHeight="8" refX="9" refY="4" orient="auto"><path d="M0,0 L10,4 L0,8 z" fill="#555"/></marker><marker id="cross" markerWidth="12" markerHeight="10" refX="11" refY="5" orient="auto"><path d="M0,0 L12,5 L0,10 z" fill="#1d4ed8"/></marker><pattern id="hatch" width="10" height="10" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="10" height="10" fill="#f6f6f6"/><line x1="0" y1="0" x2="0" y2="10" stroke="#dadada" stroke-width="3"/></pattern></defs>"##
    );
    let _ = writeln!(
        svg,
        r##"  <rect x="0" y="0" width="{total_w:.0}" height="{height:.0}" fill="white"/>"##
    );
    svg.push_str(&body);
    svg.push_str(&lanes_svg);
    svg.push_str(&crossings);
    svg.push_str("</svg>\n");
    svg
}

/// The lane that handed the message to `lane`, if its data was given.
fn handed_from(journey: &Journey, lane: usize) -> Option<usize> {
    let ids: Vec<&str> = journey
        .stops
        .iter()
        .filter(|s| s.lane == lane)
        .map(|s| s.id.as_str())
        .collect();
    journey
        .stops
        .iter()
        .find_map(|s| match event::parse(s.step, &s.text) {
            Event::Handed { next: Some(n), .. } if s.lane != lane && ids.contains(&n.as_str()) => {
                Some(s.lane)
            }
            _ => None,
        })
}

/// Draws one lane's seven boxes from `top`; returns (bottom, top of step 5, top of step 1).
fn draw_lane(
    svg: &mut String,
    journey: &Journey,
    lane: usize,
    marks: &[Mark; 7],
    x: f32,
    top: f32,
) -> (f32, f32, f32) {
    let mut boxes = String::new();
    let mut y = top + LANE_HEAD;
    let (mut relay_top, first_top) = (y, y);
    let text_w = LANE_W - 2.0 * PAD - 8.0;
    for (row, (step, mark)) in Step::ALL.into_iter().zip(marks).enumerate() {
        if step == Step::Relay {
            relay_top = y;
        }
        let events: Vec<&Stop> = journey
            .stops
            .iter()
            .filter(|s| s.lane == lane && s.step == step)
            .collect();
        let rows = box_rows(journey, step, mark, &events, text_w);
        let h = 34.0 + rows.iter().map(Row::height).sum::<f32>() + 8.0;
        let (fill, stroke, dash) = mark.look.style();
        let dash = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        let _ = writeln!(
            boxes,
            r##"  <rect class="step {}" data-step="{}" data-lane="{lane}" x="{x}" y="{y}" width="{LANE_W}" height="{h}" rx="8" fill="{fill}" stroke="{stroke}" stroke-width="2.5"{dash}/>"##,
            mark.look.class(),
            step.number()
        );
        let title = format!("{} {}", step.number(), step.label());
        text(
            &mut boxes,
            x + PAD,
            y + 23.0,
            17.0,
            Font::Sans,
            stroke,
            true,
            &title,
        );
        let badge = mark.look.name().to_uppercase();
        let bw = width(&badge, 12.0 * BOLD, Font::Sans) + 16.0;
        let bx = x + LANE_W - PAD - bw;
        let _ = writeln!(
            boxes,
            r##"  <rect x="{bx}" y="{}" width="{bw}" height="20" rx="10" fill="white" stroke="{stroke}" stroke-width="1.5"/>"##,
            y + 8.0
        );
        text(
            &mut boxes,
            bx + 8.0,
            y + 22.5,
            12.0,
            Font::Sans,
            stroke,
            true,
            &badge,
        );
        let mut ry = y + 34.0;
        for r in &rows {
            ry += r.height();
            match r {
                Row::Meaning(t) => text(
                    &mut boxes,
                    x + PAD,
                    ry - 3.0,
                    12.0,
                    Font::Sans,
                    "#555",
                    false,
                    t,
                ),
                Row::Why(look, t) => {
                    let (_, colour, _) = look.style();
                    if !t.starts_with(' ') {
                        swatch(&mut boxes, x + PAD, ry - 13.0, 11.0, *look);
                    }
                    text(
                        &mut boxes,
                        x + PAD + 17.0,
                        ry - 4.0,
                        13.0,
                        Font::Sans,
                        colour,
                        true,
                        t.trim_start(),
                    );
                }
                Row::Event(t) => text(
                    &mut boxes,
                    x + PAD,
                    ry - 3.0,
                    11.5,
                    Font::Mono,
                    "#222",
                    false,
                    t,
                ),
                Row::Fold(t) => text(
                    &mut boxes,
                    x + PAD,
                    ry - 4.0,
                    12.5,
                    Font::Sans,
                    "#7a4b00",
                    true,
                    t,
                ),
            }
        }
        y += h;
        if row < 6 {
            let ax = x + LANE_W / 2.0;
            let _ = writeln!(
                boxes,
                r##"  <line x1="{ax}" y1="{y}" x2="{ax}" y2="{}" stroke="#555" stroke-width="2" marker-end="url(#arrow)"/>"##,
                y + ARROW - 2.0
            );
            y += ARROW;
        }
    }
    let name = format!("on {}", journey.lane_name(lane));
    let _ = writeln!(
        svg,
        r##"  <rect class="lane" x="{}" y="{top}" width="{}" height="{}" rx="10" fill="#f7f9fc" stroke="#c8d0dc"/>"##,
        x - 8.0,
        LANE_W + 16.0,
        y - top + 10.0
    );
    // A long directory name is drawn smaller rather than cut.
    let size = (LANE_W / (width(&name, 1.0, Font::Sans) * BOLD)).min(16.0);
    text(svg, x, top + 26.0, size, Font::Sans, "#1f2a44", true, &name);
    svg.push_str(&boxes);
    (y + 10.0, relay_top, first_top)
}

/// The lines of one box: what the step is, why it looks as it does, then its events.
fn box_rows(journey: &Journey, step: Step, mark: &Mark, events: &[&Stop], w: f32) -> Vec<Row> {
    let mut rows: Vec<Row> = wrap(step.meaning(), w, 12.0, Font::Sans)
        .into_iter()
        .map(Row::Meaning)
        .collect();
    let mut whys: Vec<(Look, String)> = mark.why.clone();
    if whys.is_empty() && events.is_empty() {
        whys.push((mark.look, "no record in the transcripts".into()));
    }
    for (look, why) in whys {
        let line = format!("{}: {why}", look.name());
        for (i, part) in wrap(&line, w - 17.0, 13.0 * BOLD, Font::Sans)
            .into_iter()
            .enumerate()
        {
            // A continuation line starts with a space: no second swatch for it.
            rows.push(Row::Why(
                look,
                if i == 0 { part } else { format!(" {part}") },
            ));
        }
    }
    let shown: Vec<(usize, &Stop)> = events.iter().copied().enumerate().collect();
    let folded = shown.len() > MAX_EVENTS;
    for (i, stop) in shown {
        if folded && i >= KEEP_FIRST && i < events.len() - KEEP_LAST {
            if i == KEEP_FIRST {
                let hidden = &events[KEEP_FIRST..events.len() - KEEP_LAST];
                for part in wrap(&fold_line(journey, hidden), w, 12.5 * BOLD, Font::Sans) {
                    rows.push(Row::Fold(part));
                }
            }
            continue;
        }
        let time = stop.stamp.get(11..).unwrap_or(&stop.stamp);
        let indent = time.chars().count() + 2;
        let room = w - width(&" ".repeat(indent), 11.5, Font::Mono);
        for (j, part) in wrap(&stop.text, room, 11.5, Font::Mono)
            .into_iter()
            .enumerate()
        {
            let lead = if j == 0 {
                format!("{time}  ")
            } else {
                " ".repeat(indent)
            };
            rows.push(Row::Event(format!("{lead}{part}")));
        }
    }
    rows
}

/// `… 11 more attempts (2–12), 33 lines 13:48:44.8–13:48:55.2: postlab trace ID lists them all`
fn fold_line(journey: &Journey, hidden: &[&Stop]) -> String {
    let attempts: Vec<u32> = hidden
        .iter()
        .filter_map(|s| match event::parse(s.step, &s.text) {
            Event::Attempt { number } => Some(number),
            _ => None,
        })
        .collect();
    let time = |s: &&Stop| s.stamp.get(11..).unwrap_or(&s.stamp).to_string();
    let span = match (hidden.first(), hidden.last()) {
        (Some(a), Some(b)) => format!("{}–{}", time(a), time(b)),
        _ => String::new(),
    };
    let what = match (attempts.first(), attempts.last()) {
        (Some(a), Some(b)) => format!(
            "{} more attempts ({a}–{b}), {} lines",
            attempts.len(),
            hidden.len()
        ),
        _ => format!("{} more lines", hidden.len()),
    };
    format!(
        "… {what}, {span} — `postlab trace {}` lists every one",
        journey.id
    )
}

/// The legend: one swatch per look, its name and meaning; wraps onto more rows if needed.
fn legend(svg: &mut String, mut y: f32, inner: f32) -> f32 {
    text(svg, MARGIN, y, 13.0, Font::Sans, "#111", true, "Legend:");
    let mut x = MARGIN + 70.0;
    for look in Look::ALL {
        let label = format!("{} — {}", look.name(), look.meaning());
        let w = 34.0 + width(&label, 12.5, Font::Sans) + 18.0;
        if x + w > MARGIN + inner {
            x = MARGIN + 70.0;
            y += 28.0;
        }
        let (fill, stroke, dash) = look.style();
        let dash = if dash.is_empty() {
            String::new()
        } else {
            format!(r#" stroke-dasharray="{dash}""#)
        };
        let _ = writeln!(
            svg,
            r##"  <rect class="legend {}" x="{x}" y="{}" width="26" height="18" rx="4" fill="{fill}" stroke="{stroke}" stroke-width="2"{dash}/>"##,
            look.class(),
            y - 14.0
        );
        text(svg, x + 34.0, y, 12.5, Font::Sans, "#222", false, &label);
        x += w;
    }
    y + 12.0
}

/// A small square in a look's colours, before a line about it.
fn swatch(svg: &mut String, x: f32, y: f32, size: f32, look: Look) {
    let (fill, stroke, _) = look.style();
    let _ = writeln!(
        svg,
        r##"  <rect x="{x}" y="{y}" width="{size}" height="{size}" rx="3" fill="{fill}" stroke="{stroke}" stroke-width="2"/>"##
    );
}

/// The arrow from step 5 of one lane to step 1 of the next: the message crossing servers.
fn cross_arrow(svg: &mut String, x1: f32, y1: f32, x2: f32, y2: f32) {
    let mid = (x1 + x2) / 2.0;
    let _ = writeln!(
        svg,
        r##"  <path class="crossing" d="M{x1},{y1} C{mid},{y1} {mid},{y2} {},{y2}" fill="none" stroke="#1d4ed8" stroke-width="3" marker-end="url(#cross)"/>"##,
        x2 - 2.0
    );
    text(
        svg,
        x1 + 8.0,
        y1 + 20.0,
        12.0,
        Font::Sans,
        "#1d4ed8",
        true,
        "SMTP",
    );
}

#[allow(clippy::too_many_arguments)]
fn text(svg: &mut String, x: f32, y: f32, size: f32, font: Font, fill: &str, bold: bool, t: &str) {
    let weight = if bold { r#" font-weight="bold""# } else { "" };
    // xml:space keeps the spaces that indent a wrapped event line.
    let _ = writeln!(
        svg,
        r##"  <text x="{x}" y="{y}" font-family="{}" font-size="{size}" fill="{fill}"{weight} xml:space="preserve">{}</text>"##,
        font.family(),
        escape(t)
    );
}

/// XML text escaping: `&`, `<`, `>` and quotes. A control character (a peer's reply may carry
/// one into the transcript) is not allowed in XML 1.0 at all (§2.2), so it is shown as `�`.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c if c.is_control() && c != '\t' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::QueueId;
    use crate::trace::{outcome, Lane, Stop};

    #[test]
    fn peer_text_cannot_break_the_xml() {
        let id = QueueId::parse("19A3C4F2B8D10").unwrap();
        let stop = |step, text: &str| Stop {
            step,
            stamp: "2026-11-26 15:20:55.101".into(),
            session: "s".into(),
            text: text.into(),
            server: String::new(),
            lane: 0,
            id: id.as_str().into(),
            peer: None,
        };
        let journey = Journey {
            id: id.clone(),
            lanes: vec![Lane {
                label: String::new(),
                host: Some("mx.a.test".into()),
            }],
            stops: vec![
                stop(Step::Mda, "<bob@b.test> is remote: for the outbound queue"),
                stop(
                    Step::Relay,
                    "<bob@b.test> failed (5.1.1): mx said 550 \u{1b}[31m\"x\" & <y>",
                ),
            ],
        };
        let svg = render(&journey, &outcome::outcome(&journey));
        assert!(svg.contains("550 \u{fffd}[31m&quot;x&quot; &amp; &lt;y&gt;"));
        assert!(!svg.contains('\u{1b}') && !svg.contains("<y>") && !svg.contains("<bob"));
        assert!(svg.contains(r#"class="step failed" data-step="5""#));
    }
}
