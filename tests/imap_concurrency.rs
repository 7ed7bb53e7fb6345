//! The concurrency checker for issue 15: IMAP sessions, SMTP deliveries and a POP3 session work
//! on one account at random for a bounded time, and every response is checked against a model.
//!
//! What is checked, as each response arrives:
//!
//! - bodies are byte-exact: every message carries `X-Check: ID`, and the model holds what was
//!   delivered (the server adds Return-Path and Received in front) or appended (exact);
//! - a UID always names the same message, UIDs grow with the sequence numbers, a UID that was
//!   expunged never comes back, UIDVALIDITY never changes, and APPENDUID/COPYUID give new UIDs;
//! - EXISTS never shrinks the view, EXPUNGE names a message the client has, and neither comes
//!   during FETCH, STORE or SEARCH (RFC 3501 §7.4.1);
//! - flags as last set: each session owns one keyword (`k0`, `k1` …) that only it changes, so
//!   every FLAGS it ever sees must show its keyword exactly as it last stored it — a lost update
//!   shows here at once;
//! - `\Recent` is seen for a UID by one session at most (§2.3.2);
//! - a `NO [EXPUNGEISSUED]` is only said about a message that is really gone: the NOOP after it
//!   must report an EXPUNGE;
//! - mod-sequences (RFC 7162): sessions 0 and 1 are CONDSTORE-aware. For each UID a session's
//!   MODSEQ never goes backwards, and grows strictly whenever the flags it is shown with
//!   changed; `UID FETCH 1:* (FLAGS) (CHANGEDSINCE m)` answers at least every message whose
//!   keyword the session itself changed since it saw MODSEQ m (a message left out must be
//!   gone: the NOOP after it reports it), and nothing at or below m;
//! - at the end, with the writers stopped, every session sees the same messages as the disk.
//!
//! The random choices come from a seed, printed at the start (`POSTLAB_SEED=N` repeats a run);
//! `POSTLAB_SOAK_SECS` sets the duration (`make soak-imap` runs for minutes).

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::imap::Imap;
use crate::imap_sessions::Pop3;
use crate::support::TestServer;

/// SplitMix64: small, deterministic, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// What all threads know: the content of every message and the identity of every UID.
#[derive(Default)]
struct Model {
    /// By check id: the content, and whether it is stored exactly (APPEND) or after the
    /// headers delivery adds (SMTP).
    contents: HashMap<String, (String, bool)>,
    /// The check id of each UID, once known.
    uid_ids: HashMap<u32, String>,
    /// The session that saw each UID as \Recent.
    recent_in: HashMap<u32, usize>,
    validity: Option<u32>,
    next_id: u64,
}

type Shared = Arc<Mutex<Model>>;

fn new_id(model: &Shared, who: &str) -> String {
    let mut m = model.lock().unwrap();
    m.next_id += 1;
    format!("{who}-{}", m.next_id)
}

/// Checks a body against the model; returns its check id.
fn check_body(model: &Shared, body: &str) -> Result<String, String> {
    let id = body
        .split("\r\n")
        .find_map(|l| l.strip_prefix("X-Check: "))
        .ok_or_else(|| format!("a body without X-Check: {body:?}"))?
        .to_string();
    let m = model.lock().unwrap();
    let (content, exact) = m
        .contents
        .get(&id)
        .ok_or_else(|| format!("unknown message {id}"))?;
    let good = if *exact {
        body == content
    } else {
        body.starts_with("Return-Path: ") && body.ends_with(content.as_str())
    };
    if good {
        Ok(id)
    } else {
        Err(format!("body of {id} differs: {body:?}"))
    }
}

/// One `* n FETCH (…)` response, its literal cut out.
struct Fetched {
    seq: usize,
    uid: Option<u32>,
    flags: Option<Vec<String>>,
    body: Option<String>,
    modseq: Option<u64>,
}

fn parse_fetch(line: &str) -> Option<Fetched> {
    let (n, rest) = line.strip_prefix("* ")?.split_once(' ')?;
    let rest = rest.strip_prefix("FETCH (")?;
    let (text, body) = match rest.find("BODY[] {") {
        Some(at) => {
            let after = &rest[at + 8..];
            let close = after.find('}')?;
            let len: usize = after[..close].parse().ok()?;
            let start = at + 8 + close + 3;
            let content = rest.get(start..start + len)?.to_string();
            (
                format!("{}{}", &rest[..at], &rest[start + len..]),
                Some(content),
            )
        }
        None => (rest.to_string(), None),
    };
    let uid = text.find("UID ").and_then(|at| {
        text[at + 4..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    });
    let flags = text.find("FLAGS (").and_then(|at| {
        let inner = &text[at + 7..];
        let end = inner.find(')')?;
        Some(
            inner[..end]
                .split_whitespace()
                .map(str::to_string)
                .collect(),
        )
    });
    let modseq = text.find("MODSEQ (").and_then(|at| {
        text[at + 8..]
            .split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    });
    Some(Fetched {
        seq: n.parse().ok()?,
        uid,
        flags,
        body,
        modseq,
    })
}

/// One IMAP session with INBOX selected, and what it knows.
struct Session {
    who: usize,
    imap: Imap,
    keyword: String,
    /// UIDs by sequence number; 0 while not yet learnt.
    view: Vec<u32>,
    gone: HashSet<u32>,
    /// This session's keyword on each UID, once known.
    mine: HashMap<u32, bool>,
    tag: u64,
    model: Shared,
    /// EXPUNGE responses seen by the last command.
    expunged: usize,
    history: Vec<String>,
    /// CONDSTORE-aware (ENABLE CONDSTORE at the start).
    condstore: bool,
    /// Per UID: the last MODSEQ seen, and the flags (without \Recent) it came with.
    modseqs: HashMap<u32, (u64, Option<Vec<String>>)>,
    /// The largest MODSEQ seen in any response.
    max_seen: u64,
    /// The MODSEQ of the last CHANGEDSINCE mark, and the UIDs whose keyword this session
    /// really changed since.
    mark: Option<u64>,
    changed: HashSet<u32>,
}

impl Session {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "session {}: {what}\nlast commands:\n{}",
            self.who,
            self.history.join("\n")
        )
    }

    /// Sends a command and checks every untagged response; returns the lines.
    fn run(&mut self, command: &str, expunge_allowed: bool) -> Vec<String> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        let line = format!("{tag} {command}");
        self.history.push(line.chars().take(120).collect());
        if self.history.len() > 12 {
            self.history.remove(0);
        }
        let lines = self.imap.cmd(&line);
        self.expunged = 0;
        for l in &lines[..lines.len() - 1] {
            self.untagged(l, expunge_allowed);
        }
        let known: Vec<u32> = self.view.iter().copied().filter(|u| *u != 0).collect();
        if known.windows(2).any(|w| w[0] >= w[1]) {
            self.fail(&format!("UIDs out of order: {known:?}"));
        }
        lines
    }

    fn untagged(&mut self, l: &str, expunge_allowed: bool) {
        let words: Vec<&str> = l.split(' ').collect();
        match words.get(2).copied() {
            Some("EXISTS") => {
                let n: usize = words[1].parse().unwrap();
                if n < self.view.len() {
                    self.fail(&format!("{l} shrinks a view of {}", self.view.len()));
                }
                self.view.resize(n, 0);
            }
            Some("EXPUNGE") => {
                let n: usize = words[1].parse().unwrap();
                if !expunge_allowed || n == 0 || n > self.view.len() {
                    self.fail(&format!("{l} not allowed here (view {})", self.view.len()));
                }
                let uid = self.view.remove(n - 1);
                self.gone.insert(uid);
                self.mine.remove(&uid);
                self.expunged += 1;
            }
            Some("FETCH") => self.fetched(l),
            _ => {}
        }
    }

    fn fetched(&mut self, l: &str) {
        let f = parse_fetch(l).unwrap_or_else(|| self.fail(&format!("unreadable {l:?}")));
        if f.seq == 0 || f.seq > self.view.len() {
            self.fail(&format!("{l} is beyond the view"));
        }
        let slot = self.view[f.seq - 1];
        let uid = match (f.uid, slot) {
            (Some(uid), 0) => {
                if self.gone.contains(&uid) {
                    self.fail(&format!("expunged UID {uid} is back"));
                }
                self.view[f.seq - 1] = uid;
                uid
            }
            (Some(uid), known) if uid != known => {
                self.fail(&format!("{l}: message {} was UID {known}", f.seq))
            }
            (_, known) => known,
        };
        if let Some(body) = &f.body {
            let id = check_body(&self.model, body).unwrap_or_else(|e| self.fail(&e));
            let mut m = self.model.lock().unwrap();
            let was = m.uid_ids.entry(uid).or_insert_with(|| id.clone()).clone();
            drop(m);
            if was != id {
                self.fail(&format!("UID {uid} was {was}, now {id}"));
            }
        }
        if let (Some(flags), true) = (&f.flags, uid != 0) {
            let has = flags.contains(&self.keyword);
            match self.mine.get(&uid) {
                Some(&want) if want != has => self.fail(&format!(
                    "{l}: {} should be {} on UID {uid} (lost update)",
                    self.keyword,
                    if want { "set" } else { "clear" }
                )),
                _ => {
                    self.mine.insert(uid, has);
                }
            }
            if flags.iter().any(|k| k == "\\Recent") {
                let mut m = self.model.lock().unwrap();
                let first = *m.recent_in.entry(uid).or_insert(self.who);
                drop(m);
                if first != self.who {
                    self.fail(&format!("UID {uid} \\Recent here and in session {first}"));
                }
            }
        }
        if let (Some(modseq), true) = (f.modseq, uid != 0) {
            self.check_modseq(l, uid, modseq, f.flags.as_ref());
        }
    }

    /// RFC 7162 §3.1: a message's MODSEQ never goes backwards, and a change of its flags
    /// comes with a larger one.
    fn check_modseq(&mut self, l: &str, uid: u32, modseq: u64, flags: Option<&Vec<String>>) {
        if !self.condstore {
            self.fail(&format!("{l}: MODSEQ in a session that never asked for it"));
        }
        let flags: Option<Vec<String>> = flags.map(|f| {
            let mut f: Vec<String> = f.iter().filter(|k| *k != "\\Recent").cloned().collect();
            f.sort();
            f
        });
        if let Some((was, was_flags)) = self.modseqs.get(&uid) {
            if modseq < *was {
                self.fail(&format!("{l}: MODSEQ of UID {uid} went back from {was}"));
            }
            if let (Some(now), Some(before)) = (&flags, was_flags) {
                if now != before && modseq == *was {
                    self.fail(&format!(
                        "{l}: UID {uid} changed flags from {before:?} without a new MODSEQ"
                    ));
                }
            }
        }
        // A MODSEQ told without FLAGS (a .SILENT STORE) says nothing of the flags it goes with.
        self.modseqs.insert(uid, (modseq, flags));
        self.max_seen = self.max_seen.max(modseq);
    }

    /// RFC 7162 §3.1.4.1: CHANGEDSINCE the mark answers every message this session changed
    /// since, and only messages changed since; then a new mark.
    fn changed_since_check(&mut self) {
        let Some(mark) = self.mark else {
            self.mark = Some(self.max_seen);
            self.changed.clear();
            return;
        };
        let r = self.run(
            &format!("UID FETCH 1:* (FLAGS) (CHANGEDSINCE {mark})"),
            true,
        );
        let mut found = HashSet::new();
        for l in &r[..r.len() - 1] {
            if let Some(f) = parse_fetch(l) {
                match (f.uid, f.modseq) {
                    (Some(uid), Some(m)) if m > mark => {
                        found.insert(uid);
                    }
                    // An answer to CHANGEDSINCE, or news of a change: never at or below it.
                    (Some(_), Some(_)) => {
                        self.fail(&format!("{l}: at or below CHANGEDSINCE {mark}"))
                    }
                    _ => {}
                }
            }
        }
        self.outcome(&r, true);
        let missing: Vec<u32> = self
            .changed
            .iter()
            .copied()
            .filter(|u| !found.contains(u))
            .collect();
        if !missing.is_empty() {
            // Only a message another session expunged may be left out.
            self.run("NOOP", true);
            if let Some(uid) = missing.iter().find(|u| self.view.contains(u)) {
                self.fail(&format!(
                    "CHANGEDSINCE {mark} left out UID {uid}, whose {} changed since",
                    self.keyword
                ));
            }
        }
        self.mark = Some(self.max_seen);
        self.changed.clear();
    }

    /// After a NO [EXPUNGEISSUED]: the NOOP must report a message gone.
    fn confirm_gone(&mut self, before: usize) {
        self.run("NOOP", true);
        if before + self.expunged == 0 {
            self.fail("NO [EXPUNGEISSUED] but nothing was expunged");
        }
    }

    fn outcome(&mut self, lines: &[String], allowed_expunge: bool) {
        let last = lines.last().unwrap();
        let status = last.split(' ').nth(1).unwrap_or("");
        if status == "OK" {
            return;
        }
        if status == "NO" && last.contains("[EXPUNGEISSUED]") {
            let before = if allowed_expunge { self.expunged } else { 0 };
            self.confirm_gone(before);
            return;
        }
        self.fail(&format!("unexpected {last}"));
    }

    /// A known UID at random, or None.
    fn some_uid(&self, rng: &mut Rng) -> Option<u32> {
        let known: Vec<u32> = self.view.iter().copied().filter(|u| *u != 0).collect();
        (!known.is_empty()).then(|| known[rng.below(known.len())])
    }

    fn step(&mut self, rng: &mut Rng) {
        let list_all = if self.condstore {
            "FETCH 1:* (UID FLAGS MODSEQ)"
        } else {
            "FETCH 1:* (UID FLAGS)"
        };
        if self.view.contains(&0) {
            let r = self.run(list_all, false);
            return self.outcome(&r, false);
        }
        let mut roll = rng.below(100);
        let uid = self.some_uid(rng);
        // Past 40 messages, what would add one removes one instead.
        if self.view.len() > 40 && (60..=72).contains(&roll) {
            roll = 55;
        }
        match (roll, uid) {
            (0..=19, Some(uid)) => {
                let r = self.run(&format!("UID FETCH {uid} (UID FLAGS BODY.PEEK[])"), true);
                self.outcome(&r, true);
            }
            (20..=44, Some(uid)) => {
                let set = rng.below(2) == 0;
                let sign = if set { '+' } else { '-' };
                // From now on every FLAGS this session sees must show it so.
                if self.mine.insert(uid, set) == Some(!set) && self.mark.is_some() {
                    self.changed.insert(uid);
                }
                let r = self.run(
                    &format!("UID STORE {uid} {sign}FLAGS ({})", self.keyword),
                    true,
                );
                let shown = r.iter().any(|l| {
                    l.contains(&format!(" UID {uid})")) || l.contains(&format!("(UID {uid} "))
                });
                if r.last().unwrap().contains(" OK ") && !shown {
                    self.fail(&format!("UID STORE {uid} answered OK without its FLAGS"));
                }
                self.outcome(&r, true);
            }
            (45..=59, Some(uid)) => {
                let r = self.run(&format!("UID STORE {uid} +FLAGS.SILENT (\\Deleted)"), true);
                self.outcome(&r, true);
                if roll >= 53 {
                    let r = self.run("EXPUNGE", true);
                    self.outcome(&r, true);
                }
            }
            (60..=64, Some(uid)) => {
                let r = self.run(&format!("UID COPY {uid} INBOX"), true);
                if let Some(code) = r.last().unwrap().split("[COPYUID ").nth(1) {
                    let parts: Vec<u32> = code
                        .split([' ', ']'])
                        .take(3)
                        .filter_map(|p| p.parse().ok())
                        .collect();
                    let id = self.model.lock().unwrap().uid_ids.get(&parts[1]).cloned();
                    self.new_uid(parts[0], parts[2], id);
                    if let Some(&state) = self.mine.get(&uid) {
                        self.mine.insert(parts[2], state);
                    }
                }
                self.outcome(&r, true);
            }
            (65..=72, _) => self.append(rng),
            (73..=82, _) => {
                let r = self.run(&format!("SEARCH KEYWORD {}", self.keyword), false);
                let Some(result) = r.iter().find(|l| l.starts_with("* SEARCH")) else {
                    self.fail(&format!("SEARCH without a result: {r:?}"));
                };
                let found: HashSet<usize> = result
                    .split(' ')
                    .skip(2)
                    .filter_map(|n| n.parse().ok())
                    .collect();
                let missing: Vec<u32> = (1..=self.view.len())
                    .filter(|n| !found.contains(n))
                    .filter(|n| self.mine.get(&self.view[n - 1]) == Some(&true))
                    .map(|n| self.view[n - 1])
                    .collect();
                for n in &found {
                    let uid = self.view[n - 1];
                    if self.mine.get(&uid) == Some(&false) {
                        self.fail(&format!(
                            "SEARCH found {} on {uid}, which lacks it",
                            self.keyword
                        ));
                    }
                }
                self.outcome(&r, false);
                if !missing.is_empty() {
                    // Only a message another session expunged may be left out.
                    self.run("NOOP", true);
                    if let Some(uid) = missing.iter().find(|u| self.view.contains(u)) {
                        self.fail(&format!(
                            "SEARCH left out {uid}, which has {}",
                            self.keyword
                        ));
                    }
                }
            }
            (83..=89, _) => {
                let r = self.run(list_all, false);
                self.outcome(&r, false);
            }
            (90..=94, _) if self.condstore => self.changed_since_check(),
            _ => {
                let r = self.run("NOOP", true);
                self.outcome(&r, true);
            }
        }
    }

    /// APPENDUID or COPYUID gave `uid` to the message `id`: the validity is the folder's,
    /// and the UID is new (another session may have read it already, as the same message).
    fn new_uid(&mut self, validity: u32, uid: u32, id: Option<String>) {
        let mut m = self.model.lock().unwrap();
        let known = *m.validity.get_or_insert(validity);
        let clash = match (&id, m.uid_ids.get(&uid)) {
            (Some(id), Some(was)) => was != id,
            _ => false,
        };
        if let Some(id) = id {
            m.uid_ids.entry(uid).or_insert(id);
        }
        drop(m);
        if known != validity || clash || self.gone.contains(&uid) {
            self.fail(&format!("new UID {uid} (validity {validity}) is not new"));
        }
    }

    fn append(&mut self, rng: &mut Rng) {
        let id = new_id(&self.model, &format!("a{}", self.who));
        let lines = rng.below(10);
        let content = format!("X-Check: {id}\r\nSubject: {id}\r\n\r\n{}", body(rng, lines));
        self.model
            .lock()
            .unwrap()
            .contents
            .insert(id.clone(), (content.clone(), true));
        let with_keyword = rng.below(2) == 0;
        let flags = if with_keyword {
            format!("(\\Seen {})", self.keyword)
        } else {
            "()".into()
        };
        let command = format!("APPEND INBOX {flags} {{{}+}}\r\n{content}", content.len());
        let r = self.run(&command, true);
        let Some(code) = r.last().unwrap().split("[APPENDUID ").nth(1) else {
            self.fail(&format!("APPEND: {r:?}"));
        };
        let parts: Vec<u32> = code
            .split([' ', ']'])
            .take(2)
            .filter_map(|p| p.parse().ok())
            .collect();
        self.new_uid(parts[0], parts[1], Some(id));
        self.mine.insert(parts[1], with_keyword);
    }
}

/// A body of `lines` lines of different lengths (SMTP allows 1,000 octets a line).
fn body(rng: &mut Rng, lines: usize) -> String {
    (0..lines)
        .map(|i| format!("{i} {}\r\n", "y".repeat(rng.below(76))))
        .collect()
}

fn deliver(server: &TestServer, model: &Shared, rng: &mut Rng) {
    let id = new_id(model, "smtp");
    let lines = 1 + rng.below(40);
    let content = format!(
        "From: alice@localhost\r\nTo: bob@localhost\r\nX-Check: {id}\r\nSubject: {id}\r\n\r\n{}",
        body(rng, lines)
    );
    model
        .lock()
        .unwrap()
        .contents
        .insert(id, (content.clone(), false));
    let mut smtp = server.connect();
    smtp.expect("EHLO checker", 250);
    let reply = smtp.send_mail("alice@localhost", &["bob@localhost"], &content);
    assert_eq!(reply.code, 250, "delivery refused: {}", reply.text());
}

/// A POP3 session now and then: reads a message (byte-exact) and sometimes deletes one.
fn pop3_round(server: &TestServer, model: &Shared, rng: &mut Rng) {
    let mut pop = Pop3::connect(server.addr("pop3"));
    pop.cmd("USER bob");
    let reply = pop.cmd("PASS bob-password");
    if !reply.starts_with("+OK") {
        assert!(reply.contains("[IN-USE]"), "POP3 login: {reply}");
        return;
    }
    let count: usize = reply.split(' ').find_map(|w| w.parse().ok()).unwrap_or(0);
    if count > 0 {
        let k = rng.below(count) + 1;
        let (first, body) = pop.multi(&format!("RETR {k}"));
        if first.starts_with("+OK") {
            check_body(model, &body).unwrap_or_else(|e| panic!("POP3 RETR {k}: {e}"));
        } else {
            // Only a message an IMAP session expunged meanwhile may be missing.
            assert!(first.starts_with("-ERR"), "POP3 RETR {k}: {first}");
        }
        if rng.below(3) == 0 {
            assert!(pop.cmd(&format!("DELE {k}")).starts_with("+OK"));
        }
    }
    assert!(pop.cmd("QUIT").starts_with("+OK"));
}

#[test]
fn imap_sessions_deliveries_and_pop3_agree_with_the_model() {
    let seconds: u64 = std::env::var("POSTLAB_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("POSTLAB_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("imap_concurrency: seed {seed} (POSTLAB_SEED={seed} repeats it), {seconds} s");
    let server = Arc::new(TestServer::start());
    let model: Shared = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut threads = Vec::new();
    for who in 0..3 {
        let (server, model, stop) = (server.clone(), model.clone(), stop.clone());
        threads.push(std::thread::spawn(move || {
            let mut rng = Rng(seed ^ (who as u64 + 1).wrapping_mul(0x1234_5678_9abc_def1));
            let imap = Imap::login(server.addr("imap"), "bob");
            let mut session = Session {
                who,
                imap,
                keyword: format!("k{who}"),
                view: Vec::new(),
                gone: HashSet::new(),
                mine: HashMap::new(),
                tag: 0,
                model,
                expunged: 0,
                history: Vec::new(),
                condstore: who < 2,
                modseqs: HashMap::new(),
                max_seen: 0,
                mark: None,
                changed: HashSet::new(),
            };
            if session.condstore {
                let r = session.run("ENABLE CONDSTORE", true);
                session.outcome(&r, true);
            }
            let r = session.run("SELECT INBOX", true);
            session.outcome(&r, true);
            let guard = StopAll(stop.clone());
            let mut steps = 0u64;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                session.step(&mut rng);
                steps += 1;
            }
            std::mem::forget(guard);
            (session, steps)
        }));
    }
    let writers = {
        let (server, model, stop) = (server.clone(), model.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut rng = Rng(seed ^ 0xdead_beef);
            let guard = StopAll(stop.clone());
            let mut rounds = 0;
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                deliver(&server, &model, &mut rng);
                if rng.below(4) == 0 {
                    pop3_round(&server, &model, &mut rng);
                }
                rounds += 1;
                std::thread::sleep(Duration::from_millis(rng.below(40) as u64));
            }
            std::mem::forget(guard);
            rounds
        })
    };
    // Join everything before judging, so a failure stops the server too (it is dropped here).
    let rounds = writers.join();
    let joined: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    let rounds = rounds.unwrap_or_else(|_| panic!("the SMTP/POP3 thread failed (seed {seed})"));
    let mut sessions = Vec::new();
    for result in joined {
        let (session, steps) =
            result.unwrap_or_else(|_| panic!("an IMAP session failed its checks (seed {seed})"));
        eprintln!(
            "imap_concurrency: session {} ran {steps} commands",
            session.who
        );
        sessions.push(session);
    }
    // Everyone stopped: every session sees the same messages, and the disk holds just those.
    for session in &mut sessions {
        session.run("NOOP", true);
        let r = session.run("FETCH 1:* (UID FLAGS)", false);
        session.outcome(&r, false);
        if session.condstore {
            session.changed_since_check();
        }
    }
    let first = sessions[0].view.clone();
    for session in &sessions {
        assert_eq!(session.view, first, "session {} disagrees", session.who);
    }
    let on_disk: usize = ["new", "cur"]
        .iter()
        .map(|d| {
            std::fs::read_dir(server.dir.join("mail/bob").join(d))
                .unwrap()
                .count()
        })
        .sum();
    assert_eq!(on_disk, first.len(), "files on disk vs messages seen");
    eprintln!(
        "imap_concurrency: {rounds} deliveries, {} messages at the end",
        first.len()
    );
}

/// Stops every thread if this one panics (its checks failed), so the test ends at once.
struct StopAll(Arc<AtomicBool>);

impl Drop for StopAll {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
