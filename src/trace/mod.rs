//! `postlab trace ID`: the journey of one message through the flowchart, read back from the
//! transcripts.
//!
//! Every transcript line about a message carries its queue id (`[3 MDA] 19A3…: <bob@…> is
//! local`), so the journey is found by reading the transcripts for that id, plus the connect
//! line of each session that handled it (step 1 happens before the message has an id).
//! The result is drawn as the course's flowchart, one lane per server the message crossed:
//! every event in its step's box, and each box's look (passed, deferred, failed, relayed on,
//! waiting, not reached, skipped) from the message's real outcome per recipient.
//!
//! | file | what it does |
//! |---|---|
//! | `mod.rs` | finds the events of a message (across servers) and prints the text trace |
//! | `event.rs` | reads each event line back into a typed [`event::Event`] |
//! | `outcome.rs` | the fate of each recipient and the look of each box: pure, table-tested |
//! | `svg.rs`, `wrap.rs` | the picture (`--svg`), and fitting its text into the boxes |

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::ids::QueueId;
use crate::transcript::{Line, Step};

pub mod event;
pub mod outcome;
pub mod svg;
pub mod wrap;

use outcome::Outcome;

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
    /// Index of that server in [`Journey::lanes`].
    pub lane: usize,
    /// The queue id the event is about (each server gives the message its own).
    pub id: String,
    /// For a relay event: the name the receiving server gave in its greeting (`220 mx.b.test`).
    pub peer: Option<String>,
}

/// One server the message passed: a `--data` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    /// The `--data` directory's name (empty when only one was given).
    pub label: String,
    /// The server's name, from its own SMTP greeting in the transcripts.
    pub host: Option<String>,
}

/// A message's journey across one or more servers, in time order.
#[derive(Debug, Clone)]
pub struct Journey {
    pub id: QueueId,
    pub lanes: Vec<Lane>,
    pub stops: Vec<Stop>,
}

impl Journey {
    /// `mx.b.test (var-b)`, `mx.b.test`, `var-b`, or `this server`.
    pub fn lane_name(&self, lane: usize) -> String {
        match self.lanes.get(lane) {
            Some(Lane {
                label,
                host: Some(host),
            }) if !label.is_empty() => format!("{host} ({label})"),
            Some(Lane {
                host: Some(host), ..
            }) => host.clone(),
            Some(Lane { label, .. }) if !label.is_empty() => label.clone(),
            _ => "this server".into(),
        }
    }
}

/// Collects the journey of `id` from the transcripts under `dir`, in time order, with the
/// server's own name when a transcript of it has its SMTP greeting.
pub fn journey(transcripts: &Path, id: &QueueId) -> std::io::Result<(Vec<Stop>, Option<String>)> {
    let mut stops = Vec::new();
    let mut host = None;
    for file in transcript_files(transcripts)? {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        if !text.contains(id.as_str()) {
            continue;
        }
        // In a relay session the `S:` lines are the other server's; elsewhere they are ours.
        let relay = file.to_string_lossy().ends_with("-relay.log");
        let mut connect: Option<Stop> = None;
        let mut peer: Option<String> = None;
        for raw in text.lines() {
            let Some(line) = Line::parse(raw) else {
                continue;
            };
            let greeting = line
                .text
                .strip_prefix("S: 220 ")
                .filter(|rest| rest.contains("ESMTP"))
                .and_then(|rest| rest.split(' ').next());
            match (relay, greeting) {
                (true, Some(name)) => peer = Some(name.to_string()),
                (false, Some(name)) if host.is_none() => host = Some(name.to_string()),
                _ => {}
            }
            if relay && line.text.starts_with("connecting to ") {
                peer = None;
            }
            let stop = |text: &str| Stop {
                step: line.step,
                stamp: line.stamp.into(),
                session: line.session.into(),
                text: text.into(),
                server: String::new(),
                lane: 0,
                id: id.as_str().into(),
                peer: if relay { peer.clone() } else { None },
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
    Ok((stops, host))
}

/// The journey across several servers: `servers` are (label, transcripts folder). When a relay
/// event says the next server took the message (`queued as ID2`), that server's journey of ID2
/// follows, so a message that crossed two servers shows both. Each server is a lane; lanes are
/// ordered by when the message first reached them.
pub fn journey_across(servers: &[(String, PathBuf)], id: &QueueId) -> std::io::Result<Journey> {
    let mut all = Vec::new();
    let mut hosts: Vec<Option<String>> = vec![None; servers.len()];
    let mut ids = vec![id.clone()];
    let mut seen = Vec::new();
    while let Some(id) = ids.pop() {
        // RFC 5321 §6.3's bound on hops: a loop in the data must end.
        if seen.contains(&id) || seen.len() > 20 {
            continue;
        }
        for (lane, (label, transcripts)) in servers.iter().enumerate() {
            let (stops, host) = journey(transcripts, &id)?;
            if hosts[lane].is_none() {
                hosts[lane] = host;
            }
            for mut stop in stops {
                if let event::Event::Handed {
                    next: Some(next), ..
                } = event::parse(stop.step, &stop.text)
                {
                    ids.extend(QueueId::parse(&next));
                }
                stop.server = label.clone();
                stop.lane = lane;
                all.push(stop);
            }
        }
        seen.push(id);
    }
    all.sort_by(|a, b| a.stamp.cmp(&b.stamp));
    // Lanes in the order the message reached them; servers it never reached are left out.
    let mut order: Vec<usize> = Vec::new();
    for stop in &all {
        if !order.contains(&stop.lane) {
            order.push(stop.lane);
        }
    }
    let lanes = order
        .iter()
        .map(|&i| Lane {
            label: servers[i].0.clone(),
            host: hosts[i].clone(),
        })
        .collect();
    for stop in &mut all {
        stop.lane = order.iter().position(|&i| i == stop.lane).unwrap_or(0);
    }
    Ok(Journey {
        id: id.clone(),
        lanes,
        stops: all,
    })
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

/// Draws the journey as a text flowchart, one lane per server, and what became of each
/// recipient:
///
/// ```text
/// ┌───────────┐
/// │ 1 MUA     │ 15:20:55.101  connect from 127.0.0.1:53422 to smtp 127.0.0.1:10025
/// └─────┬─────┘
///       ▼
///   ┆ 4 DNS       skipped: <bob@localhost> is local: no other server involved
/// ```
///
/// The looks and words come from [`outcome::outcome`], as the SVG's do.
pub fn render(journey: &Journey, outcome: &Outcome) -> String {
    let mut out = format!("The journey of message {}\n", journey.id);
    for (lane, marks) in outcome.marks.iter().enumerate() {
        let _ = writeln!(out, "\n── on {} ──", journey.lane_name(lane));
        let mut boxes = Vec::new();
        for (step, mark) in Step::ALL.into_iter().zip(marks) {
            let title = format!("{} {}", step.number(), step.label());
            let here: Vec<&Stop> = journey
                .stops
                .iter()
                .filter(|s| s.lane == lane && s.step == step)
                .collect();
            let mut text = String::new();
            if here.is_empty() {
                let mut why = mark.why.iter().map(|(_, w)| w.as_str());
                let first = why.next().unwrap_or("no record in the transcripts");
                let _ = writeln!(text, "  ┆ {title:<9}   {}: {first}", mark.look.name());
                for more in why {
                    let _ = writeln!(text, "  ┆ {:<9}   {}: {more}", "", mark.look.name());
                }
            } else {
                let _ = writeln!(text, "┌───────────┐");
                let mut label = title.as_str();
                for (look, why) in &mark.why {
                    let _ = writeln!(text, "│ {label:<9} │ → {}: {why}", look.name());
                    label = "";
                }
                for stop in here {
                    let time = stop.stamp.get(11..).unwrap_or(&stop.stamp);
                    let server = if stop.server.is_empty() {
                        String::new()
                    } else {
                        format!("[{}] ", stop.server)
                    };
                    let _ = writeln!(text, "│ {label:<9} │ {time}  {server}{}", stop.text);
                    label = "";
                }
                let _ = writeln!(text, "└─────┬─────┘");
            }
            boxes.push(text);
        }
        out.push_str(&boxes.join("      ▼\n"));
        let steps: Vec<String> = Step::ALL
            .iter()
            .zip(marks)
            .map(|(step, mark)| format!("{} {}", step.number(), mark.look.name()))
            .collect();
        let _ = writeln!(out, "steps: {}", steps.join(" · "));
    }
    out.push_str("\nWhat became of it:\n");
    for r in &outcome.recipients {
        let _ = writeln!(
            out,
            "  <{}>  {}: {}",
            r.address,
            r.fate.look().name(),
            r.fate.describe(journey)
        );
    }
    if outcome.recipients.is_empty() {
        out.push_str("  no recipient recorded\n");
    }
    out
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
            lane: 0,
            id: "19A3C4F2B8D10".into(),
            peer: None,
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
        let journey = Journey {
            id,
            lanes: vec![Lane {
                label: String::new(),
                host: Some("mx.test".into()),
            }],
            stops,
        };
        let text = render(&journey, &outcome::outcome(&journey));
        assert!(
            text.contains("│ 1 MUA     │ 15:20:55.101  connect from 127.0.0.1:5000"),
            "{text}"
        );
        assert!(text.contains("┆ 4 DNS       skipped"), "{text}");
        assert!(text.contains("┆ 7 ACCESS    waiting"), "{text}");
        assert!(text.contains("── on mx.test ──"), "{text}");
        assert!(
            text.contains("<bob@localhost>  passed: delivered to bob on mx.test, not read yet"),
            "{text}"
        );
        assert!(!text.contains("▼\n\n"));
    }
}
