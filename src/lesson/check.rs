//! `postlab lesson check N`: what a teacher grades. Looks at the student's data folders (their
//! Maildirs, queue, settings, users and transcripts) and says, task by task, whether the
//! lesson's work was done.
//!
//! Only what leaves a trace on disk can be checked: a delivered message, a folder, a flag in
//! a file name, a line in a transcript, a setting in `postlab.conf`. The folders are those
//! `lesson start N` makes (`var`, or `var-a` and `var-b`); lessons 14 and 15 are done on
//! `postlab lab up`, so there the lab's `lab/lab1` and `lab/lab2` are read when they exist.
//! The tasks of each lesson live in one of three files, by part of the course:
//!
//! ```text
//! check/access.rs      1–4   one server: SMTP by hand, the Maildir, POP3, IMAP
//! check/transport.rs   5–9   DNS, two servers, AUTH, TLS, bounces
//! check/operations.rs  10–15 security, faults, administration, the web, the lab, SPF/DKIM/DMARC
//! ```

mod access;
mod operations;
mod transport;

use std::fs;
use std::path::{Path, PathBuf};

/// The lessons that have checks.
pub const LESSONS: &[usize] = &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/// One task of a lesson and whether it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub task: &'static str,
    pub done: bool,
}

fn item(task: &'static str, done: bool) -> Item {
    Item { task, done }
}

/// The data folders lesson `number`'s checks read, under `root` (the folder `lesson start`
/// was run in): the first is the one the page works in most.
pub fn folders(number: usize, root: &Path) -> Vec<PathBuf> {
    if matches!(number, 14 | 15) {
        let lab = vec![root.join("lab/lab1"), root.join("lab/lab2")];
        if lab[0].exists() {
            return lab;
        }
    }
    super::servers(number)
        .iter()
        .map(|s| root.join(s.folder))
        .collect()
}

/// The tasks of lesson `number`, looked for under `root`; `None`: no checks.
pub fn run(number: usize, root: &Path) -> Option<Vec<Item>> {
    let work = Work {
        root: root.to_path_buf(),
        folders: folders(number, root)
            .iter()
            .map(|f| Folder::read(f))
            .collect(),
    };
    match number {
        1..=4 => access::items(number, &work),
        5..=9 => transport::items(number, &work),
        10..=15 => operations::items(number, &work),
        _ => None,
    }
}

/// The items as a teacher reads them, one a line.
pub fn text(number: usize, items: &[Item]) -> String {
    let done = items.iter().filter(|i| i.done).count();
    let mut out = format!("lesson {number}: {done} of {} tasks done\n", items.len());
    for item in items {
        let mark = if item.done { "yes" } else { "no " };
        out.push_str(&format!("  {mark}  {}\n", item.task));
    }
    out
}

/// The items as JSON, for a script that collects a class's results.
pub fn json(number: usize, folder: &Path, items: &[Item]) -> String {
    let list: Vec<String> = items
        .iter()
        .map(|i| format!("{{\"task\":{},\"done\":{}}}", quote(i.task), i.done))
        .collect();
    format!(
        "{{\"lesson\":{number},\"data\":{},\"done\":{},\"of\":{},\"items\":[{}]}}\n",
        quote(&folder.display().to_string()),
        items.iter().filter(|i| i.done).count(),
        items.len(),
        list.join(",")
    )
}

/// A JSON string (RFC 8259 section 7).
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// What one lesson's checks look at: the folder the lesson was started in, and its servers'
/// data folders (read once).
struct Work {
    root: PathBuf,
    folders: Vec<Folder>,
}

impl Work {
    /// The first server's folder (`var`, `var-a`, `lab/lab1`).
    fn a(&self) -> &Folder {
        &self.folders[0]
    }
    /// The second server's folder (`var-b`, `lab/lab2`); the first for a one-server lesson.
    fn b(&self) -> &Folder {
        self.folders.get(1).unwrap_or(&self.folders[0])
    }
}

/// One server's data folder and everything its transcripts say.
struct Folder {
    path: PathBuf,
    said: Transcripts,
}

impl Folder {
    fn read(path: &Path) -> Folder {
        Folder {
            path: path.to_path_buf(),
            said: Transcripts::read(path),
        }
    }
    /// The INBOX of account `user`.
    fn mail(&self, user: &str) -> Mail {
        Mail::read(&self.path.join("mail").join(user))
    }
    /// A file of the folder as text; empty when it is missing.
    fn file(&self, name: &str) -> String {
        fs::read_to_string(self.path.join(name)).unwrap_or_default()
    }
    /// The last value `postlab.conf` gives `key`, if any.
    fn setting(&self, key: &str) -> Option<String> {
        let lines = crate::config::parse_lines(&self.file("postlab.conf")).ok()?;
        lines
            .into_iter()
            .rev()
            .find(|(_, k, _)| k == key)
            .map(|(_, _, v)| v)
    }
    /// Is there a message (an `.env` file) anywhere in the queue's folders?
    fn queued(&self) -> bool {
        fs::read_dir(self.path.join("queue"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|folder| {
                fs::read_dir(folder.path())
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|f| f.path().extension().is_some_and(|e| e == "env"))
            })
    }
}

/// Every transcript of a data folder, by protocol, and all of them together.
#[derive(Default)]
struct Transcripts {
    /// SMTP, submission and SMTPS sessions, relay runs and the webmail.
    smtp: String,
    pop3: String,
    imap: String,
    all: String,
}

impl Transcripts {
    fn read(var: &Path) -> Transcripts {
        let mut all = Transcripts::default();
        let days = fs::read_dir(var.join("transcripts"))
            .into_iter()
            .flatten()
            .flatten();
        for day in days {
            for file in fs::read_dir(day.path()).into_iter().flatten().flatten() {
                let name = file.file_name().to_string_lossy().into_owned();
                let text = fs::read_to_string(file.path()).unwrap_or_default();
                let into = if name.contains("pop3") {
                    &mut all.pop3
                } else if name.contains("imap") {
                    &mut all.imap
                } else {
                    &mut all.smtp
                };
                into.push_str(&text);
                all.all.push_str(&text);
            }
        }
        all
    }
}

/// The messages of one Maildir folder (new/ and cur/): file name and text.
struct Mail {
    files: Vec<(String, bool, String)>,
}

impl Mail {
    fn read(folder: &Path) -> Mail {
        let mut files = Vec::new();
        for (sub, in_cur) in [("new", false), ("cur", true)] {
            for entry in fs::read_dir(folder.join(sub))
                .into_iter()
                .flatten()
                .flatten()
            {
                let name = entry.file_name().to_string_lossy().into_owned();
                let text = fs::read_to_string(entry.path()).unwrap_or_default();
                files.push((name, in_cur, text));
            }
        }
        Mail { files }
    }
    fn count(&self) -> usize {
        self.files.len()
    }
    fn any(&self, test: impl Fn(&str) -> bool) -> bool {
        self.files.iter().any(|(_, _, text)| test(text))
    }
    /// How many messages pass `test`?
    fn count_of(&self, test: impl Fn(&str) -> bool) -> usize {
        self.files.iter().filter(|(_, _, text)| test(text)).count()
    }
    /// Do two messages carry the same Message-ID (one message delivered twice)?
    fn has_duplicates(&self) -> bool {
        let mut seen = std::collections::HashSet::new();
        self.files.iter().any(|(_, _, text)| {
            let id = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .find(|l| l.to_ascii_lowercase().starts_with("message-id:"));
            id.is_some_and(|id| !seen.insert(id.trim().to_string()))
        })
    }
    /// Is there a file in cur/ whose flags (after `:2,`) hold every letter of `flags`?
    fn flagged_in_cur(&self, flags: &str) -> bool {
        self.files.iter().any(|(name, in_cur, _)| {
            *in_cur
                && name
                    .rsplit_once(":2,")
                    .is_some_and(|(_, have)| flags.chars().all(|f| have.contains(f)))
        })
    }
}
