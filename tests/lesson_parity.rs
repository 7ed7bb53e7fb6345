//! The Indonesian lesson pages teach what the English ones teach, in the words of a *modul
//! praktikum* (issue 16, item 6).
//!
//! The English page `lessons/NN-*.md` is the source of truth; `lessons/id/NN-*.md` has the same
//! file name and must keep, in the same order:
//!
//! - the same number of `##` and of `###` headings (the steps of the page);
//! - in each `##` section, taken in order, the same number of numbered items (`1. …` at the
//!   start of a line, outside code blocks): so the questions at the end of a page, which the
//!   pages write as a numbered list under `## Questions` (`## Pertanyaan`), match one for one,
//!   and so do numbered lists inside a step;
//! - the same `<!-- … -->` lines (they tell `tests/lessons.rs` which servers and faults a
//!   lesson needs);
//! - the same fenced code blocks, with the same info string and the same lines, byte for byte,
//!   except comments, which a reader of either language should be able to read. A comment is a
//!   line whose first non-blank characters are `# ` (or a lone `#`) in a block that is not a
//!   transcript (shell commands, files shown to the reader), and in a `zone` block what follows
//!   a `;` (the zone file's own comment sign), a whole line or the end of a record's line.
//!   Comments are dropped on both sides before comparing (and the spaces before a trailing
//!   one), so a translated comment may also take more or fewer lines. Transcripts
//!   (```` ```transcript ````) are compared whole: a server prints what it prints, in English.
//!   Everything else in a block (commands, server output, file names, the labels of a diagram)
//!   stays as the English page has it.
//!
//! The glossary of `lessons/id/README.md` is checked on the prose of every Indonesian page
//! (outside fenced blocks and `<!-- -->` lines; an inline code span counts as one neutral word,
//! so that the glossary can quote a form it forbids as `` `kamu` ``): no informal "kamu"/"kau"/"aku" and no `-mu` or
//! `-ku` possessive (a modul says "Anda"), no English word wearing an Indonesian affix
//! ("me-relay", "di-bounce", "user-nya": any hyphenated `di-`/`me-`/`nge-`… prefix or `-nya`
//! suffix), and no calque that changes the meaning ("dikirimkan ke mailbox" for *delivered*,
//! "menonton" for watching a folder in IDLE). [`MU_WORDS`] lists the Indonesian words that end
//! in "mu" without being a possessive.

use std::fs;
use std::path::{Path, PathBuf};

/// Words that end in "mu" and are not the informal possessive "-mu" ("datamu").
const MU_WORDS: &[&str] = &[
    "ilmu", "temu", "bertemu", "ketemu", "tamu", "jamu", "semu", "ramu", "meramu", "jemu",
];

/// Prefixes of Indonesian verbs and nouns: written with a hyphen before a word, they mark an
/// English word bent into Indonesian ("di-bounce", "me-relay", "nge-ping").
const PREFIXES: &[&str] = &[
    "di", "me", "mem", "men", "meng", "nge", "ng", "ter", "ber", "pe", "pem", "pen", "peng",
];

/// Phrases that change the meaning the course teaches (lowercase, single spaces).
const CALQUES: &[(&str, &str)] = &[
    (
        "dikirimkan ke mailbox",
        "the MDA delivers: \"diantarkan ke kotak surat\"",
    ),
    (
        "dikirim ke mailbox",
        "the MDA delivers: \"diantarkan ke kotak surat\"",
    ),
    ("menonton", "IDLE watches a folder: \"memantau\""),
    ("ditonton", "IDLE watches a folder: \"dipantau\""),
    ("nonton", "IDLE watches a folder: \"memantau\""),
];

fn lessons() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("lessons")
}

/// The lesson pages `NN-*.md` of a folder, sorted by name.
fn numbered_pages(dir: &Path) -> Vec<PathBuf> {
    let mut pages: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            name.ends_with(".md") && name.as_bytes().first().is_some_and(u8::is_ascii_digit)
        })
        .collect();
    pages.sort();
    pages
}

/// What the parity check compares of one page.
#[derive(Default)]
struct Outline {
    h2: usize,
    h3: usize,
    /// Numbered items in each `##` section (index 0: before the first `##`).
    numbered: Vec<usize>,
    /// `<!-- … -->` lines outside code blocks.
    directives: Vec<String>,
    /// Each fenced block: its info string and its lines without comments.
    blocks: Vec<(String, Vec<String>)>,
}

/// A line of a block with info string `info` as compared, or `None` for a comment line (see
/// the module comment). A zone file's comment may also end a record's line (RFC 1035 section
/// 5.1: `;` to the end of the line, outside quotes, as in `"v=DMARC1; p=none"`).
fn without_comment(info: &str, line: &str) -> Option<String> {
    let t = line.trim_start();
    if info.starts_with("transcript") {
        Some(line.to_string())
    } else if info == "zone" {
        let mut quoted = false;
        let end = line
            .char_indices()
            .find(|&(_, c)| {
                quoted ^= c == '"';
                c == ';' && !quoted
            })
            .map_or(line.len(), |(at, _)| at);
        (!t.starts_with(';')).then(|| line[..end].trim_end().to_string())
    } else {
        (!(t.starts_with("# ") || t == "#")).then(|| line.to_string())
    }
}

fn outline(text: &str) -> Outline {
    let mut out = Outline {
        numbered: vec![0],
        ..Outline::default()
    };
    let mut block: Option<(String, Vec<String>)> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        match &mut block {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    block = Some((info.trim().to_string(), Vec::new()));
                } else if line.starts_with("## ") {
                    out.h2 += 1;
                    out.numbered.push(0);
                } else if line.starts_with("### ") {
                    out.h3 += 1;
                } else if trimmed.starts_with("<!--") {
                    out.directives.push(trimmed.to_string());
                } else if is_numbered_item(line) {
                    *out.numbered.last_mut().unwrap() += 1;
                }
            }
            Some(_) if trimmed == "```" => out.blocks.extend(block.take()),
            Some((info, lines)) => {
                lines.extend(without_comment(info, line));
            }
        }
    }
    out
}

/// `1. …`, `12. …` at the start of a line.
fn is_numbered_item(line: &str) -> bool {
    let digits = line.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && line[digits..].starts_with(". ")
}

/// What differs between an English page and its Indonesian twin.
fn parity_problems(english: &str, indonesian: &str) -> Vec<String> {
    let (en, id) = (outline(english), outline(indonesian));
    let mut problems = Vec::new();
    if (en.h2, en.h3) != (id.h2, id.h3) {
        problems.push(format!(
            "headings: English has {} `##` and {} `###`, Indonesian {} and {}",
            en.h2, en.h3, id.h2, id.h3
        ));
    } else if en.numbered != id.numbered {
        problems.push(format!(
            "numbered items (questions) per `##` section: English {:?}, Indonesian {:?}",
            en.numbered, id.numbered
        ));
    }
    if en.directives != id.directives {
        problems.push(format!(
            "<!-- --> lines: English {:?}, Indonesian {:?}",
            en.directives, id.directives
        ));
    }
    if en.blocks.len() != id.blocks.len() {
        problems.push(format!(
            "code blocks: English has {}, Indonesian {}",
            en.blocks.len(),
            id.blocks.len()
        ));
    }
    for (n, (e, i)) in en.blocks.iter().zip(&id.blocks).enumerate() {
        if e.0 != i.0 {
            problems.push(format!(
                "code block {}: info string {:?} in English, {:?} in Indonesian",
                n + 1,
                e.0,
                i.0
            ));
            continue;
        }
        let differs = e.1.iter().zip(&i.1).position(|(a, b)| a != b);
        match differs {
            Some(k) => problems.push(format!(
                "code block {} ({:?}), line {}: English {:?}, Indonesian {:?}",
                n + 1,
                e.0,
                k + 1,
                e.1[k],
                i.1[k]
            )),
            None if e.1.len() != i.1.len() => problems.push(format!(
                "code block {} ({:?}): English has {} lines, Indonesian {} (comments aside)",
                n + 1,
                e.0,
                e.1.len(),
                i.1.len()
            )),
            None => {}
        }
    }
    problems
}

/// The prose of a page: outside fenced blocks, `<!-- -->` lines and inline code spans.
fn prose(text: &str) -> String {
    let mut kept = String::new();
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && !trimmed.starts_with("<!--") {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    // Inline code spans may run over a line break; a run of backticks opens and closes alike.
    // A span becomes the word "kode", so that an affix on it ("`EHLO`-nya") is still seen.
    let mut out = String::new();
    let mut code = false;
    for c in kept.chars() {
        if c == '`' {
            code = !code;
            if code {
                out.push_str("kode");
            }
        } else if !code {
            out.push(c);
        }
    }
    out
}

/// The glossary's forbidden forms found in the prose of an Indonesian page.
fn glossary_problems(text: &str) -> Vec<String> {
    let prose = prose(text).to_lowercase();
    let mut problems = Vec::new();
    for token in prose.split(|c: char| !(c.is_alphanumeric() || c == '-')) {
        // "*bounce*-nya" and "di-*bounce*" split around the italics: a bare affix is the sign.
        let bare_affix = token == "-nya"
            || token == "-mu"
            || token == "-ku"
            || token
                .strip_suffix('-')
                .is_some_and(|prefix| PREFIXES.contains(&prefix));
        let word = token.trim_matches('-');
        let why = if bare_affix {
            Some("Indonesian affix on an English word or code")
        } else if ["kamu", "kau", "engkau", "aku"].contains(&word) {
            Some("informal pronoun: a modul says \"Anda\"")
        } else if word.ends_with("-mu") || word.ends_with("-ku") {
            Some("informal possessive: \"… Anda\"")
        } else if word.len() > 2 && word.ends_with("mu") && !MU_WORDS.contains(&word) {
            Some("informal possessive -mu: \"… Anda\" (or add the word to MU_WORDS)")
        } else if word.ends_with("-nya") {
            Some("Indonesian suffix on an English word or code")
        } else if PREFIXES.iter().any(|p| {
            word.strip_prefix(p)
                .and_then(|rest| rest.strip_prefix('-'))
                .is_some_and(|rest| rest.starts_with(|c: char| c.is_alphabetic()))
        }) {
            Some("Indonesian prefix on an English word")
        } else {
            None
        };
        if let Some(why) = why {
            problems.push(format!("{word:?}: {why}"));
        }
    }
    let words: Vec<&str> = prose
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    let flat = format!(" {} ", words.join(" "));
    for (calque, why) in CALQUES {
        if flat.contains(&format!(" {calque} ")) {
            problems.push(format!("{calque:?}: {why}"));
        }
    }
    problems
}

/// Everything wrong with the Indonesian page `name` (a file name in `lessons/id/`): its
/// parity with the English page of the same name, if there is one, and the glossary.
fn problems_of(name: &str) -> Vec<String> {
    let Ok(indonesian) = fs::read_to_string(lessons().join("id").join(name)) else {
        return vec![format!("{name}: no lessons/id/ page")];
    };
    let mut problems = Vec::new();
    if name != "README.md" {
        match fs::read_to_string(lessons().join(name)) {
            Ok(english) => problems.extend(parity_problems(&english, &indonesian)),
            Err(_) => problems.push("no English page".to_string()),
        }
    }
    problems.extend(glossary_problems(&indonesian));
    problems.iter().map(|p| format!("{name}: {p}")).collect()
}

fn file_names(pages: Vec<PathBuf>) -> Vec<String> {
    pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect()
}

#[test]
fn every_lesson_has_an_indonesian_page_with_the_same_steps_and_blocks_in_the_glossary_words() {
    let mut names = file_names(numbered_pages(&lessons()));
    assert!(names.len() >= 15, "the lessons were not found");
    names.extend(file_names(numbered_pages(&lessons().join("id"))));
    names.push("README.md".to_string());
    names.sort();
    names.dedup();
    let problems: Vec<String> = names.iter().flat_map(|name| problems_of(name)).collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

/// The two checks above find what they are meant to find, and let pass what is allowed.
#[test]
fn the_checks_see_a_translated_command_a_lost_question_and_kamu() {
    let english = "# L\n## Step 1: x\n\n```\n# start it\n./postlab serve --data var\n```\n\n\
                   ```transcript\nC: QUIT\nS: 221 2.0.0 Bye\n```\n\n## Questions\n\n1. Why?\n2. How?\n";
    let faithful = "# P\n## Langkah 1: x\n\n```\n# jalankan server\n# (biarkan berjalan)\n\
                    ./postlab serve --data var\n```\n\n```transcript\nC: QUIT\nS: 221 2.0.0 Bye\n```\n\n\
                    ## Pertanyaan\n\n1. Mengapa?\n2. Bagaimana?\n";
    assert_eq!(parity_problems(english, faithful), Vec::<String>::new());
    let translated = faithful.replace("221 2.0.0 Bye", "221 2.0.0 Sampai jumpa");
    assert_eq!(parity_problems(english, &translated).len(), 1);
    let changed = faithful.replace("--data var", "--data data");
    assert_eq!(parity_problems(english, &changed).len(), 1);
    let lost = faithful.replace("2. Bagaimana?\n", "");
    assert_eq!(parity_problems(english, &lost).len(), 1);

    let zone = "## Z\n```zone\n; the zone\nb.test. MX 10 mx.b.test.  ; first\n\
                _dmarc TXT \"v=DMARC1; p=none\"\n```\n";
    let zone_id = zone
        .replace("; the zone", "; zona kelas,\n; dalam dua baris")
        .replace("; first", "; yang pertama");
    assert_eq!(parity_problems(zone, &zone_id), Vec::<String>::new());
    assert_eq!(
        parity_problems(zone, &zone.replace("p=none", "p=reject")).len(),
        1
    );

    assert_eq!(glossary_problems(faithful), Vec::<String>::new());
    let quoted = "Jangan menulis `kamu` atau `di-bounce`; pelajari ilmu ini bersama tamu Anda.";
    assert_eq!(glossary_problems(quoted), Vec::<String>::new());
    for bad in [
        "Sekarang kamu mengetik EHLO.",
        "Buka terminalmu.",
        "Pesan itu di-bounce oleh server.",
        "Server me-relay pesan.",
        "Periksa user-nya.",
        "Pesan dikirimkan ke\nmailbox Bob.",
        "IDLE menonton folder INBOX.",
        "Server di alamat *loopback*-nya sendiri.",
        "Balasan `EHLO`-nya panjang.",
        "Pesan itu di-*bounce*.",
    ] {
        assert_eq!(glossary_problems(bad).len(), 1, "{bad}");
    }
}
