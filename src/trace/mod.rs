//! `postlab trace ID`: the journey of one message through the flowchart, read back from the
//! transcripts.
//!
//! Every transcript line about a message carries its queue id (`[3 MDA] 19A3…: <bob@…> is
//! local`), so the journey is found by reading the transcripts for that id, plus the connect
//! line of each session that handled it (step 1 happens before the message has an id).
//! The result is drawn as the course's flowchart: one box per step the message passed, with
//! times, and the steps it did not need marked as skipped, with the reason.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::ids::QueueId;
use crate::transcript::{Line, Step};

pub mod svg;

/// One thing that happened to the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stop {
    pub step: Step,
    /// `2026-11-26 15:20:55.131`
    pub stamp: String,
    pub session: String,
    pub text: String,
    /// Which server's transcripts it came from (empty when there is only one).
    pub server: String,
}

/// Collects the journey of `id` from the transcripts under `dir`, in time order.
pub fn journey(transcripts: &Path, id: &QueueId) -> std::io::Result<Vec<Stop>> {
    let mut stops = Vec::new();
    for file in transcript_files(transcripts)? {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        if !text.contains(id.as_str()) {
            continue;
        }
        let mut connect: Option<Stop> = None;
        for raw in text.lines() {
            let Some(line) = Line::parse(raw) else {
                continue;
            };
            let stop = |text: &str| Stop {
                step: line.step,
                stamp: line.stamp.into(),
                session: line.session.into(),
                text: text.into(),
                server: String::new(),
            };
            if line.step == Step::Mua && connect.is_none() && line.text.starts_with("connect from")
            {
                connect = Some(stop(line.text));
            }
            if let Some((event_id, event)) = line.event() {
                if event_id == id.as_str() {
                    stops.extend(connect.take());
                    stops.push(stop(event));
                }
            }
        }
    }
    stops.sort_by(|a, b| a.stamp.cmp(&b.stamp));
    Ok(stops)
}

/// The journey across several servers: `servers` are (label, transcripts folder). When a relay
/// event says the next server took the message (`queued as ID2`), that server's journey of ID2
/// follows, so a message that crossed two servers shows both.
pub fn journey_across(servers: &[(String, PathBuf)], id: &QueueId) -> std::io::Result<Vec<Stop>> {
    let mut all = Vec::new();
    let mut ids = vec![id.clone()];
    let mut seen = Vec::new();
    while let Some(id) = ids.pop() {
        if seen.contains(&id) || seen.len() > 10 {
            continue;
        }
        for (label, transcripts) in servers {
            for mut stop in journey(transcripts, &id)? {
                if stop.step == Step::Relay {
                    let next = stop
                        .text
                        .split("queued as ")
                        .nth(1)
                        .and_then(|rest| rest.split_whitespace().next());
                    if let Some(next) = next.and_then(QueueId::parse) {
                        ids.push(next);
                    }
                }
                stop.server = label.clone();
                all.push(stop);
            }
        }
        seen.push(id);
    }
    all.sort_by(|a, b| a.stamp.cmp(&b.stamp));
    Ok(all)
}

/// Every `*.log` under `DIR/transcripts/DATE/`, oldest day first.
fn transcript_files(transcripts: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let Ok(days) = fs::read_dir(transcripts) else {
        return Ok(files);
    };
    let mut days: Vec<PathBuf> = days
        .filter_map(|d| d.ok().map(|d| d.path()))
        .filter(|p| p.is_dir())
        .collect();
    days.sort();
    for day in days {
        let mut in_day: Vec<PathBuf> = fs::read_dir(&day)?
            .filter_map(|f| f.ok().map(|f| f.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        in_day.sort();
        files.extend(in_day);
    }
    Ok(files)
}

/// Draws the journey as a text flowchart:
///
/// ```text
/// ┌───────────┐
/// │ 1 MUA     │ 15:20:55.101  connect from 127.0.0.1:53422 to smtp 127.0.0.1:10025
/// └─────┬─────┘
///       ▼
/// ```
pub fn render(id: &QueueId, stops: &[Stop]) -> String {
    let mut by_step: BTreeMap<Step, Vec<&Stop>> = BTreeMap::new();
    for stop in stops {
        by_step.entry(stop.step).or_default().push(stop);
    }
    let last = by_step.keys().next_back().copied();
    let mut boxes = Vec::new();
    for step in Step::ALL {
        let title = format!("{} {}", step.number(), step.label());
        let mut text = String::new();
        match by_step.get(&step) {
            Some(stops) => {
                let _ = writeln!(text, "┌───────────┐");
                for (i, stop) in stops.iter().enumerate() {
                    let label = if i == 0 { title.as_str() } else { "" };
                    let time = stop.stamp.get(11..).unwrap_or(&stop.stamp);
                    let server = if stop.server.is_empty() {
                        String::new()
                    } else {
                        format!("[{}] ", stop.server)
                    };
                    let _ = writeln!(text, "│ {label:<9} │ {time}  {server}{}", stop.text);
                }
                let _ = writeln!(text, "└─────┬─────┘");
            }
            None => {
                let _ = writeln!(
                    text,
                    "  ┆ {title:<9}   {}",
                    skipped_because(step, &by_step, last)
                );
            }
        }
        boxes.push(text);
    }
    format!("The journey of message {id}\n\n{}", boxes.join("      ▼\n"))
}

fn skipped_because(
    step: Step,
    seen: &BTreeMap<Step, Vec<&Stop>>,
    last: Option<Step>,
) -> &'static str {
    let reached_mailbox = seen.contains_key(&Step::Mailbox);
    match step {
        Step::Dns | Step::Relay if reached_mailbox => {
            "skipped: every recipient is local, no other server involved"
        }
        Step::Access if reached_mailbox => "waiting: the user reads it over POP3 or IMAP",
        _ if last.is_some_and(|l| step > l) => "not reached",
        _ => "no record in the transcripts",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_passed_and_skipped_steps() {
        let id = QueueId::parse("19A3C4F2B8D10").unwrap();
        let stop = |step, stamp: &str, text: &str| Stop {
            step,
            stamp: stamp.into(),
            session: "s1".into(),
            text: text.into(),
            server: String::new(),
        };
        let stops = vec![
            stop(
                Step::Mua,
                "2026-11-26 15:20:55.101",
                "connect from 127.0.0.1:5000",
            ),
            stop(
                Step::Mta,
                "2026-11-26 15:20:55.131",
                "new message from <alice@localhost>",
            ),
            stop(
                Step::Mda,
                "2026-11-26 15:20:55.140",
                "<bob@localhost> is local: account bob",
            ),
            stop(Step::Mailbox, "2026-11-26 15:20:55.152", "delivered to bob"),
        ];
        let text = render(&id, &stops);
        assert!(
            text.contains("│ 1 MUA     │ 15:20:55.101  connect from 127.0.0.1:5000"),
            "{text}"
        );
        assert!(text.contains("┆ 4 DNS       skipped"), "{text}");
        assert!(text.contains("┆ 7 ACCESS    waiting"), "{text}");
        assert!(!text.ends_with("▼\n"));
    }
}
