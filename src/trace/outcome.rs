//! What really became of a message: one typed fate per recipient, and from it how each box of
//! the flowchart looks, on each server (lane) the message crossed.
//!
//! Pure: it reads a [`Journey`] (the events, already typed by `event.rs`) and computes. Both
//! pictures of a trace — the text of `postlab trace ID` and the SVG of `--svg` — take their
//! colours and words from here, so they cannot disagree.
//!
//! The rule that matters: a box's look comes from what happened to each recipient, never from
//! the words of the box's last line. A bounced message ends its step 5 with "done: removed from
//! the queue", which is not a success; a local delivery's step 3 is not a failure because some
//! line mentions "refused".

use super::event::{self, Event};
use super::Journey;
use crate::transcript::Step;

/// How a box is drawn, from least to most telling: a box shared by recipients with different
/// fates takes the most telling look (and lists each recipient's line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Look {
    /// The step was not needed (hatched grey): a local recipient needs no DNS.
    Skipped,
    /// The message has not got here, or never will (dotted grey).
    NotReached,
    /// Done so far, the next move is someone else's (dashed): the user has not read it yet.
    Waiting,
    /// Went well (green).
    Passed,
    /// Left this server for another one (blue).
    RelayedOn,
    /// Tried, will be tried again (amber).
    Deferred,
    /// Ended here: refused or bounced (red).
    Failed,
}

impl Look {
    pub const ALL: [Look; 7] = [
        Look::Passed,
        Look::Deferred,
        Look::Failed,
        Look::RelayedOn,
        Look::Waiting,
        Look::NotReached,
        Look::Skipped,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Look::Skipped => "skipped",
            Look::NotReached => "not reached",
            Look::Waiting => "waiting",
            Look::Passed => "passed",
            Look::RelayedOn => "relayed on",
            Look::Deferred => "deferred",
            Look::Failed => "failed",
        }
    }

    /// What the look means, for the legend.
    pub fn meaning(self) -> &'static str {
        match self {
            Look::Skipped => "not needed",
            Look::NotReached => "not got here",
            Look::Waiting => "waits for someone",
            Look::Passed => "went well",
            Look::RelayedOn => "went to another server",
            Look::Deferred => "will be tried again",
            Look::Failed => "refused or bounced",
        }
    }
}

/// What became of one recipient in the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Stored in a mailbox (on the lane given); `read` when a POP3 read of it is recorded.
    Delivered {
        account: String,
        lane: usize,
        read: bool,
    },
    /// Taken by a server whose transcripts were not given (`--data` of it is missing).
    RelayedOn { host: String },
    /// Still in the queue after `times` deferred attempts.
    Deferred { times: u32, why: String },
    /// Given up: a bounce goes (or went) to the sender.
    Bounced { status: String, why: String },
    /// Refused during the SMTP dialogue: the client was told at once, no bounce.
    Refused { why: String },
    /// Accepted, and nothing since.
    NotReached { why: String },
}

/// One recipient and its fate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub address: String,
    pub fate: Fate,
}

/// One box: its look and a line per recipient that says why (empty when the events say it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub look: Look,
    pub why: Vec<(Look, String)>,
}

/// The whole outcome: the fates, and the seven marks of each lane.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub recipients: Vec<Recipient>,
    pub marks: Vec<[Mark; 7]>,
}

/// One recipient's record on one server under one queue id.
#[derive(Debug, Clone, Default)]
struct Track {
    lane: usize,
    id: String,
    address: String,
    accounts: Vec<String>,
    remote: bool,
    refused: Option<String>,
    stored: Vec<String>,
    not_stored: Option<String>,
    /// (the receiving server's name, its queue id)
    handed: Option<(String, Option<String>)>,
    deferred: Option<String>,
    times: u32,
    bounced: Option<(String, String)>,
    read: bool,
}

/// Computes every recipient's fate and every box's look.
pub fn outcome(journey: &Journey) -> Outcome {
    let tracks = tracks(journey);
    let root = journey.id.as_str();
    let recipients = tracks
        .iter()
        .filter(|t| t.id == root)
        .map(|t| Recipient {
            address: t.address.clone(),
            fate: fate(&tracks, t, 0),
        })
        .collect();
    let marks = (0..journey.lanes.len())
        .map(|lane| Step::ALL.map(|step| lane_mark(journey, &tracks, lane, step)))
        .collect();
    Outcome { recipients, marks }
}

/// Reads the events in time order into one [`Track`] per (lane, queue id, recipient).
fn tracks(journey: &Journey) -> Vec<Track> {
    let mut tracks: Vec<Track> = Vec::new();
    for stop in &journey.stops {
        let same = |t: &Track| t.lane == stop.lane && t.id == stop.id;
        match event::parse(stop.step, &stop.text) {
            Event::Local { rcpt, accounts } => track(&mut tracks, stop, &rcpt).accounts = accounts,
            Event::Remote { rcpt } => track(&mut tracks, stop, &rcpt).remote = true,
            Event::Refused { rcpt, why } => track(&mut tracks, stop, &rcpt).refused = Some(why),
            Event::MessageRefused { why } => {
                for t in tracks.iter_mut().filter(|t| same(t)) {
                    t.refused
                        .get_or_insert_with(|| format!("message refused: {why}"));
                }
            }
            Event::Stored { account } => {
                for t in tracks.iter_mut().filter(|t| same(t)) {
                    if t.accounts.contains(&account) {
                        t.stored.push(account.clone());
                    }
                }
            }
            Event::NotStored { why } => {
                for t in tracks
                    .iter_mut()
                    .filter(|t| same(t) && !t.accounts.is_empty())
                {
                    t.not_stored = Some(why.clone());
                }
            }
            Event::Handed { rcpt, host, next } => {
                let t = track(&mut tracks, stop, &rcpt);
                // The name the receiving server gave in its greeting says more than an address.
                let host = match &stop.peer {
                    Some(peer) if *peer != host => format!("{peer} ({host})"),
                    _ => host,
                };
                t.handed = Some((host, next));
                t.deferred = None;
            }
            Event::Deferred { rcpt, why } => {
                let t = track(&mut tracks, stop, &rcpt);
                t.deferred = Some(why);
                t.times += 1;
            }
            Event::Failed { rcpt, status, why } => {
                let t = track(&mut tracks, stop, &rcpt);
                t.bounced = Some((status, why));
                t.deferred = None;
            }
            Event::LifetimeOver => {
                for t in tracks.iter_mut().filter(|t| same(t)) {
                    if let Some(why) = t.deferred.take() {
                        let why = format!("gave up after {} attempts: {why}", t.times);
                        t.bounced = Some(("4.4.7".into(), why));
                    }
                }
            }
            Event::Read { account } => {
                for t in tracks.iter_mut().filter(|t| same(t)) {
                    if t.stored.contains(&account) {
                        t.read = true;
                    }
                }
            }
            Event::Attempt { .. } | Event::Other => {}
        }
    }
    tracks
}

/// The track of `rcpt` under the stop's lane and queue id, made when first seen.
fn track<'t>(tracks: &'t mut Vec<Track>, stop: &super::Stop, rcpt: &str) -> &'t mut Track {
    let found = tracks
        .iter()
        .position(|t| t.lane == stop.lane && t.id == stop.id && t.address == rcpt);
    let i = match found {
        Some(i) => i,
        None => {
            tracks.push(Track {
                lane: stop.lane,
                id: stop.id.clone(),
                address: rcpt.to_string(),
                ..Track::default()
            });
            tracks.len() - 1
        }
    };
    &mut tracks[i]
}

/// Where a handed-on recipient went, when that server's transcripts were given.
fn next<'t>(tracks: &'t [Track], track: &Track) -> Option<&'t Track> {
    let (_, Some(next)) = track.handed.as_ref()? else {
        return None;
    };
    tracks
        .iter()
        .find(|t| t.id == *next && t.address == track.address)
}

fn fate(tracks: &[Track], t: &Track, depth: usize) -> Fate {
    if let Some(why) = &t.refused {
        return Fate::Refused { why: why.clone() };
    }
    if let Some(why) = &t.not_stored {
        return Fate::Refused {
            why: format!("not stored: {why}"),
        };
    }
    if !t.stored.is_empty() {
        return Fate::Delivered {
            account: t.stored.join(", "),
            lane: t.lane,
            read: t.read,
        };
    }
    if let Some((status, why)) = &t.bounced {
        return Fate::Bounced {
            status: status.clone(),
            why: why.clone(),
        };
    }
    if let Some((host, _)) = &t.handed {
        // A relay loop in the data must not recurse for ever; 20 hops is RFC 5321 §6.3's bound.
        return match next(tracks, t) {
            Some(n) if depth < 20 => fate(tracks, n, depth + 1),
            _ => Fate::RelayedOn { host: host.clone() },
        };
    }
    if let Some(why) = &t.deferred {
        return Fate::Deferred {
            times: t.times,
            why: why.clone(),
        };
    }
    Fate::NotReached {
        why: if t.remote {
            "in the queue, not tried yet".into()
        } else {
            "no delivery recorded".into()
        },
    }
}

impl Fate {
    pub fn look(&self) -> Look {
        match self {
            Fate::Delivered { .. } => Look::Passed,
            Fate::RelayedOn { .. } => Look::RelayedOn,
            Fate::Deferred { .. } => Look::Deferred,
            Fate::Bounced { .. } | Fate::Refused { .. } => Look::Failed,
            Fate::NotReached { .. } => Look::NotReached,
        }
    }

    /// `delivered to bob on mx.b.test (var-b), not read yet`
    pub fn describe(&self, journey: &Journey) -> String {
        match self {
            Fate::Delivered {
                account,
                lane,
                read,
            } => format!(
                "delivered to {account} on {}{}",
                journey.lane_name(*lane),
                if *read { ", read" } else { ", not read yet" }
            ),
            Fate::RelayedOn { host } => format!("handed to {host} (not in the data given)"),
            Fate::Deferred { times, why } => {
                format!("{times} attempt(s) so far, still in the queue: {why}")
            }
            Fate::Bounced { status, why } => format!("bounced ({status}): {why}"),
            Fate::Refused { why } => format!("refused, the client was told at once: {why}"),
            Fate::NotReached { why } => why.clone(),
        }
    }
}

/// One box of one lane: each recipient's mark there, combined.
fn lane_mark(journey: &Journey, tracks: &[Track], lane: usize, step: Step) -> Mark {
    let has_events = journey
        .stops
        .iter()
        .any(|s| s.lane == lane && s.step == step);
    let here: Vec<&Track> = tracks.iter().filter(|t| t.lane == lane).collect();
    // A recipient refused at RCPT was never part of the message (RFC 5321 §4.1.1.3: the
    // client was told, and the transaction goes on for the others). Its red line is listed at
    // step 3, but it colours no box while another recipient was accepted.
    let accepted = here.iter().any(|t| t.refused.is_none());
    let counts = |t: &Track| !accepted || t.refused.is_none();
    let mut look = None;
    let mut why: Vec<(Look, String)> = Vec::new();
    for t in &here {
        if !counts(t) && step > Step::Mda {
            continue;
        }
        let (l, w) = track_mark(journey, tracks, t, step, has_events);
        if counts(t) {
            look = look.max(Some(l));
        }
        if !w.is_empty() && !why.contains(&(l, w.clone())) {
            why.push((l, w));
        }
    }
    let look = look.unwrap_or(if has_events {
        Look::Passed
    } else {
        Look::NotReached
    });
    why.sort();
    Mark { look, why }
}

fn track_mark(
    journey: &Journey,
    tracks: &[Track],
    t: &Track,
    step: Step,
    has_events: bool,
) -> (Look, String) {
    let r = &t.address;
    let unrecorded = || (Look::NotReached, "no record in the transcripts".to_string());
    let dns_failed = t
        .bounced
        .as_ref()
        .is_some_and(|(status, _)| status == "5.1.2" || status == "5.1.10");
    match step {
        Step::Mua | Step::Mta | Step::Mda if !has_events => unrecorded(),
        Step::Mua => (Look::Passed, String::new()),
        Step::Mta => match &t.refused {
            Some(why) if why.starts_with("message refused") => (Look::Failed, why.clone()),
            _ => (Look::Passed, String::new()),
        },
        Step::Mda => match &t.refused {
            Some(why) => (Look::Failed, format!("<{r}> refused: {why}")),
            None => (Look::Passed, String::new()),
        },
        _ if t.refused.is_some() => (Look::NotReached, format!("<{r}> was refused")),
        Step::Dns | Step::Relay if !t.remote => (
            Look::Skipped,
            format!("<{r}> is local: no other server involved"),
        ),
        Step::Dns if dns_failed => (Look::Failed, bounce_line(t)),
        Step::Dns if has_events => (Look::Passed, String::new()),
        Step::Relay if dns_failed => (Look::NotReached, format!("<{r}>: no server found")),
        Step::Relay if t.bounced.is_some() => (Look::Failed, bounce_line(t)),
        Step::Relay if t.handed.is_some() => {
            let host = t.handed.as_ref().map(|h| h.0.as_str()).unwrap_or("?");
            let after = match t.times {
                0 => String::new(),
                n => format!(" after {n} deferred attempt(s)"),
            };
            (Look::Passed, format!("<{r}> handed to {host}{after}"))
        }
        Step::Relay if t.deferred.is_some() => (
            Look::Deferred,
            format!("<{r}> deferred {} time(s), still in the queue", t.times),
        ),
        Step::Dns | Step::Relay => (Look::NotReached, format!("<{r}>: not tried yet")),
        // Steps 6 and 7.
        _ if t.not_stored.is_some() && step == Step::Mailbox => (
            Look::Failed,
            format!(
                "<{r}> not stored: {}",
                t.not_stored.clone().unwrap_or_default()
            ),
        ),
        _ if t.not_stored.is_some() => (Look::NotReached, format!("<{r}> was not stored")),
        _ if !t.stored.is_empty() && step == Step::Mailbox => (Look::Passed, String::new()),
        _ if t.read => (Look::Passed, String::new()),
        _ if !t.stored.is_empty() => (
            Look::Waiting,
            format!(
                "no read by {} recorded yet (POP3 or IMAP)",
                t.stored.join(", ")
            ),
        ),
        _ if t.bounced.is_some() => (
            Look::NotReached,
            format!("<{r}> bounced: a bounce goes to the sender"),
        ),
        _ if t.handed.is_some() => match next(tracks, t) {
            Some(n) => (
                Look::RelayedOn,
                format!("<{r}> went on to {}", journey.lane_name(n.lane)),
            ),
            None => (
                Look::RelayedOn,
                format!(
                    "<{r}> handed to {} (not in the data given)",
                    t.handed.as_ref().map(|h| h.0.as_str()).unwrap_or("?")
                ),
            ),
        },
        _ if t.deferred.is_some() => (Look::NotReached, format!("<{r}> still waits in the queue")),
        _ => unrecorded(),
    }
}

fn bounce_line(t: &Track) -> String {
    let (status, why) = t.bounced.clone().unwrap_or_default();
    format!("<{}> bounced ({status}): {why}", t.address)
}

#[cfg(test)]
#[path = "outcome_tests.rs"]
mod tests;
