//! `postlab lesson check N`: what a teacher grades. Looks at the student's data folder (its
//! Maildirs and transcripts) and says, task by task, whether the lesson's work was done.
//!
//! Only what leaves a trace on disk can be checked: a delivered message, a folder, a flag in
//! a file name, a command in a transcript. Lessons 1 to 4 have checks ([`LESSONS`]).

use std::fs;
use std::path::Path;

/// The lessons that have checks.
pub const LESSONS: &[usize] = &[1, 2, 3, 4];

/// One task of a lesson and whether it is done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub task: &'static str,
    pub done: bool,
}

/// The tasks of lesson `number`, looked for in the data folder `var`; `None`: no checks.
pub fn run(number: usize, var: &Path) -> Option<Vec<Item>> {
    let said = Transcripts::read(var);
    let bob = Mail::read(&var.join("mail/bob"));
    let item = |task, done| Item { task, done };
    let items = match number {
        1 => vec![
            item(
                "step 3: a message with Subject: my first message in bob's mailbox",
                bob.any(|text| text.contains("Subject: my first message")),
            ),
            item(
                "step 2: a recipient refused on purpose (550 for nobody@localhost)",
                said.smtp.contains("S: 550 5.1.1 <nobody@localhost>"),
            ),
            item(
                "mistakes on purpose: MAIL before HELO (503) and a MAIL FROM without <> (501)",
                said.smtp.contains("S: 503 5.5.1") && said.smtp.contains("S: 501 5.5.4"),
            ),
        ],
        2 => vec![
            item(
                "step 1: a message with Subject: where do you live? in bob's mailbox",
                bob.any(|text| text.contains("Subject: where do you live?")),
            ),
            item(
                "step 4: read over IMAP and marked \\Seen and \\Flagged (a file in cur/ ending :2,FS)",
                bob.flagged_in_cur("FS"),
            ),
            item(
                "step 5: a message for another domain went into the queue",
                queued(&var.join("queue")) || said.smtp.contains("C: RCPT TO:<someone@b.test>"),
            ),
        ],
        3 => vec![
            item("step 2: logged in by POP3 as bob", said.pop3.contains("C: USER bob")),
            item("step 2: read a message with RETR", said.pop3.contains("C: RETR 1")),
            item(
                "step 3: deleted with DELE and ended with QUIT: bob's mailbox is empty again",
                said.pop3.contains("C: DELE 1") && said.pop3.contains("C: QUIT") && bob.count() == 0,
            ),
        ],
        4 => {
            let work = Mail::read(&var.join("mail/bob/.Work"));
            vec![
                item("step 3: folder Work with one message", work.count() == 1),
                item(
                    "step 3: the copy in Work kept its \\Flagged flag",
                    work.flagged_in_cur("F"),
                ),
                item(
                    "step 4: a failed login on purpose ([AUTHENTICATIONFAILED])",
                    said.imap.contains("AUTHENTICATIONFAILED"),
                ),
                item("step 5: an IDLE session", said.imap.contains("S: + idling")),
            ]
        }
        _ => return None,
    };
    Some(items)
}

/// Is there a message (an `.env` file) anywhere in the queue's folders?
fn queued(queue: &Path) -> bool {
    fs::read_dir(queue)
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

/// Every transcript of a data folder, by protocol.
#[derive(Default)]
struct Transcripts {
    smtp: String,
    pop3: String,
    imap: String,
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
