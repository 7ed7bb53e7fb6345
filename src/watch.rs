//! `postlab watch`: the transcripts as they are written, each step in its own colour, for a
//! teacher to project while the class sends mail.
//!
//! It follows every file under `DIR/transcripts/` (today's folder and any new one), printing
//! new lines as they appear. Colours are ANSI escape codes; `--no-color` leaves them out.
//!
//! The only escape codes that reach the terminal are those colours: control characters in a
//! line (a transcript written before they were escaped at the door, or a file someone edited)
//! are made visible here too, so nothing a client typed can drive the teacher's screen.

use std::collections::HashMap;
use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::transcript::{escape_controls, Line, Step};

/// The colour of each flowchart step (ANSI 256-colour codes that read on dark and light
/// backgrounds).
fn colour(step: Step) -> &'static str {
    match step {
        Step::Mua => "\x1b[38;5;33m",
        Step::Mta => "\x1b[38;5;28m",
        Step::Mda => "\x1b[38;5;130m",
        Step::Dns => "\x1b[38;5;129m",
        Step::Relay => "\x1b[38;5;166m",
        Step::Mailbox => "\x1b[38;5;30m",
        Step::Access => "\x1b[38;5;161m",
    }
}

const RESET: &str = "\x1b[0m";

/// Prints one transcript line, coloured by its step.
pub fn paint(line: &str, colours: bool) -> String {
    let line = escape_controls(line);
    match (colours, Line::parse(&line)) {
        (true, Some(parsed)) => format!("{}{line}{RESET}", colour(parsed.step)),
        _ => line.into_owned(),
    }
}

/// Follows `transcripts` forever (or until writing to `out` fails). With `from_start`, lines
/// already written are shown first; otherwise only new ones.
pub fn follow(
    transcripts: &Path,
    colours: bool,
    from_start: bool,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut offsets: HashMap<PathBuf, u64> = HashMap::new();
    let mut first = true;
    loop {
        let mut files = Vec::new();
        if let Ok(days) = fs::read_dir(transcripts) {
            for day in days.flatten() {
                if let Ok(entries) = fs::read_dir(day.path()) {
                    files.extend(
                        entries
                            .flatten()
                            .map(|e| e.path())
                            .filter(|p| p.extension().is_some_and(|e| e == "log")),
                    );
                }
            }
        }
        files.sort();
        let mut lines = Vec::new();
        for file in files {
            let Ok(mut handle) = fs::File::open(&file) else {
                continue;
            };
            let size = handle.metadata().map(|m| m.len()).unwrap_or(0);
            let known = offsets.get(&file).copied();
            let start = match known {
                Some(offset) => offset,
                None if first && !from_start => size,
                None => 0,
            };
            if start >= size {
                offsets.insert(file, start.min(size));
                continue;
            }
            let mut text = String::new();
            handle.seek(SeekFrom::Start(start))?;
            handle.read_to_string(&mut text).ok();
            // Only whole lines; a line still being written waits for the next round.
            let complete = text.rfind('\n').map(|i| i + 1).unwrap_or(0);
            lines.extend(text[..complete].lines().map(str::to_string));
            offsets.insert(file, start + complete as u64);
        }
        // Lines start with their time stamp, so sorting merges the sessions in time order.
        lines.sort();
        for line in lines {
            writeln!(out, "{}", paint(&line, colours))?;
        }
        out.flush()?;
        first = false;
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_colours_reach_the_terminal() {
        let line = "2026-11-26 15:20:55.101 s1 [2 MTA] C: NOOP \x1b]0;owned\x07\x1b[2J\u{9b}1m";
        let painted = paint(line, true);
        assert_eq!(painted.matches('\x1b').count(), 2, "{painted:?}");
        assert!(painted.starts_with(colour(Step::Mta)) && painted.ends_with(RESET));
        assert!(painted.contains("\\x1b]0;owned\\x07\\x1b[2J\\u{9b}1m"));
        assert!(!paint(line, false).chars().any(char::is_control));
    }
}
