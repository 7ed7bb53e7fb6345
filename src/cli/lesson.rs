//! `postlab lesson`: start a lesson from the state its page starts from, reset, list, and
//! check a student's work (src/lesson/ does the work; this file reads the flags and prints).

use super::*;
use crate::lesson;

const BRIEF: &str = "\
usage: postlab lesson list
       postlab lesson start N [--dir DIR]
       postlab lesson reset [--dir DIR]
       postlab lesson check N [--dir DIR] [--json]

start: makes the data folder(s) of lesson N (var, or var-a and var-b) in the state its page
starts from: the accounts alice (alice-password) and bob (bob-password), the server's name,
routes and settings the page needs, no mail. A folder lesson start did not make is never
touched. reset removes the folders lesson start made. check says which tasks of the lesson
are done. DIR is where the folders go (default: here).";

pub(super) fn lesson(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "dir",
        "where the data folders are (default: here)",
        "DIR",
    );
    opts.optflag("", "json", "check: the result as JSON");
    opts.optflag("h", "help", "this help");
    let m = match parse(&opts, args, BRIEF) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let root = std::path::PathBuf::from(m.opt_str("dir").unwrap_or_else(|| ".".into()));
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let number = |word: &str| -> Result<usize, i32> {
        word.parse::<usize>()
            .ok()
            .filter(|n| lesson::page(*n).is_some())
            .ok_or_else(|| {
                eprintln!(
                    "postlab lesson: '{word}' is not a lesson number (1 to {})",
                    lesson::PAGES.len()
                );
                2
            })
    };
    match words.as_slice() {
        ["list"] => {
            for (i, (file, text)) in lesson::PAGES.iter().enumerate() {
                let n = i + 1;
                let folders: Vec<&str> = lesson::servers(n).iter().map(|s| s.folder).collect();
                let checks = if lesson::check::LESSONS.contains(&n) {
                    "check"
                } else {
                    ""
                };
                // `lesson list | head` closes the pipe early: stop quietly, not with a panic.
                let line = format!(
                    "{n:>2}  {:<12} {checks:<5}  {}  (lessons/{file})\n",
                    folders.join(" "),
                    lesson::title(text)
                );
                if std::io::stdout().write_all(line.as_bytes()).is_err() {
                    break;
                }
            }
            0
        }
        ["start", n] => match number(n) {
            Ok(n) => start(&root, n),
            Err(code) => code,
        },
        ["reset"] => reset(&root),
        ["check", n] => match number(n) {
            Ok(n) => check(&root, n, m.opt_present("json")),
            Err(code) => code,
        },
        _ => {
            eprintln!("{}", opts.usage(BRIEF));
            2
        }
    }
}

fn start(root: &std::path::Path, n: usize) -> i32 {
    let said = match lesson::start(root, n) {
        Ok(said) => said,
        Err(e) => return fail(e),
    };
    let (file, text) = lesson::page(n).unwrap_or_default();
    println!("postlab lesson start {n}: {}", lesson::title(text));
    for line in said {
        println!("  {line}");
    }
    let servers = lesson::servers(n);
    let many = servers.len() > 1;
    println!(
        "\nstart {} (Ctrl-C stops it):",
        if many {
            "the servers, each in a terminal of its own"
        } else {
            "the server in a terminal of its own"
        }
    );
    for server in &servers {
        let dir = if root == std::path::Path::new(".") {
            String::new()
        } else {
            format!(" (in {})", root.display())
        };
        println!("  {}{dir}", server.serve_line());
    }
    println!("\nthen follow lessons/{file} (Indonesian: lessons/id/{file}); its first step:");
    print!("  {}", lesson::first_step(text));
    0
}

fn reset(root: &std::path::Path) -> i32 {
    let mut code = 0;
    let mut removed = 0;
    for folder in lesson::made_folders(root) {
        match lesson::remove(&folder) {
            Ok(_) => {
                println!("postlab lesson reset: removed {}", folder.display());
                removed += 1;
            }
            Err(e) => code = fail(e),
        }
    }
    for name in lesson::FOLDERS {
        let folder = root.join(name);
        if folder.exists() && !folder.join(lesson::MARKER).exists() {
            println!(
                "postlab lesson reset: left {} alone (lesson start did not make it)",
                folder.display()
            );
        }
    }
    if removed == 0 && code == 0 {
        println!("postlab lesson reset: nothing to remove");
    }
    code
}

fn check(root: &std::path::Path, n: usize, json: bool) -> i32 {
    let folders = lesson::check::folders(n, root);
    let Some(folder) = folders.iter().find(|f| f.exists()) else {
        return fail(format!(
            "no data folder {}: nothing to check",
            folders[0].display()
        ));
    };
    let Some(items) = lesson::check::run(n, root) else {
        return fail(format!("lesson {n} has no checks"));
    };
    if json {
        print!("{}", lesson::check::json(n, folder, &items));
    } else {
        print!("{}", lesson::check::text(n, &items));
    }
    0
}
