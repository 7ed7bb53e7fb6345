//! The classroom's tools: `postlab fault`, `postlab watch`, `postlab lab`.

use super::*;

// ---- postlab fault ---------------------------------------------------------------------------

pub(super) fn fault(args: &[String]) -> i32 {
    use crate::faults::Faults;
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab fault add STEP PATTERN ACTION... | list | clear [--data DIR]\n\n\
                 Make the server fail on purpose, to watch retries and bounces. Examples:\n\
                 \x20 postlab fault add rcpt '*@slow.lab2.test' 451 4.7.1 try again later\n\
                 \x20 postlab fault add rcpt nobody@lab2.test 550 5.1.1 no such user\n\
                 \x20 postlab fault add data '*' delay 30s\n\
                 \x20 postlab fault add dns lab3.test timeout      (or nxdomain)\n\
                 \x20 postlab fault add connect lab3.test refuse\n\
                 A running server applies changes at once; every injected fault is marked in the transcript.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let path = data.root().join("faults");
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["add", rule @ ..] if !rule.is_empty() => {
            let line = rule.join(" ");
            if let Err(e) = Faults::parse(&line) {
                return fail(e.trim_start_matches("line 1: ").to_string());
            }
            let mut text = if current.is_empty() {
                "# postlab faults: failures on purpose (postlab fault --help). Delete a line to stop one.\n".to_string()
            } else {
                current
            };
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&line);
            text.push('\n');
            if let Err(e) = std::fs::create_dir_all(data.root())
                .and_then(|()| crate::mailbox::durable::write_atomically(&path, text.as_bytes()))
            {
                return fail(format!("cannot write {}: {e}", path.display()));
            }
            println!("fault added: {line}");
            0
        }
        ["list"] => match Faults::parse(&current) {
            Ok(faults) if faults.rules.is_empty() => {
                println!("no faults: the server behaves normally");
                0
            }
            Ok(_) => {
                for (n, line) in current.lines().enumerate() {
                    if !line.trim().is_empty() && !line.trim_start().starts_with('#') {
                        println!("line {}: {line}", n + 1);
                    }
                }
                0
            }
            Err(e) => fail(format!("{}: {e}", path.display())),
        },
        ["clear"] => {
            match std::fs::remove_file(&path) {
                Ok(()) => println!("faults cleared: the server behaves normally again"),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    println!("there were no faults")
                }
                Err(e) => return fail(format!("cannot remove {}: {e}", path.display())),
            }
            0
        }
        _ => {
            eprint!("{}", opts.usage(brief));
            2
        }
    }
}

// ---- postlab watch ---------------------------------------------------------------------------

pub(super) fn watch(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optflag("", "all", "show what is already in the transcripts first");
    opts.optflag("", "no-color", "no colours (also when NO_COLOR is set)");
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab watch [--data DIR] [--all] [--no-color]\n\n\
                 Show every transcript line as the server writes it, coloured by flowchart step.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let colours = !m.opt_present("no-color") && std::env::var_os("NO_COLOR").is_none();
    let mut out = std::io::stdout();
    match crate::watch::follow(&data.transcripts(), colours, m.opt_present("all"), &mut out) {
        Ok(()) => 0,
        // The reader went away (the pipe closed): a normal way to stop watching.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => fail(e),
    }
}

// ---- postlab lab -----------------------------------------------------------------------------

pub(super) fn lab(args: &[String]) -> i32 {
    use crate::lab::{self, Lab};
    if args.first().is_some_and(|a| a == "class") {
        return super::class::lab_class(&args[1..]);
    }
    let mut opts = Options::new();
    opts.optopt("", "dir", "the lab's folder (default ./lab)", "DIR");
    opts.optopt(
        "",
        "port-offset",
        "added to each standard port (default 10000)",
        "N",
    );
    opts.optflag(
        "",
        "netns",
        "lab up: each server a host of its own (a network namespace; needs root)",
    );
    opts.optopt(
        "",
        "retry",
        "lab up: seconds before a deferred message is retried (default 10; at most 6 times that)",
        "SECONDS",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab lab up [N] [--netns] | down | status | cut A B | heal A B | delay A B MS
                                   [--dir DIR] [--port-offset N] [--retry SECONDS]

                 A mini internet on this machine: N mail servers (lab1.test ... labN.test, default 3)
                 on 127.0.0.11, .12, ... and a DNS server on 127.0.0.10 with their MX records.
                 With --netns (root) each is a host of its own on 198.51.100.0/24 with the standard
                 ports, and `cut lab1 lab2` / `heal lab1 lab2` break and mend the link between two.
                 `postlab lab class --help`: a class across laptops (host, join, leave, status).";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let port_offset = match m.opt_str("port-offset").map(|p| p.parse::<u16>()) {
        None => None,
        Some(Ok(p)) if p <= 64000 => Some(p),
        Some(_) => return fail("--port-offset: a number up to 64000"),
    };
    let mut lab = Lab::open(
        m.opt_str("dir").unwrap_or_else(|| "lab".into()).into(),
        port_offset,
        // `up` chooses; the other commands ask the lab what it was started as.
        (m.free.first().map(String::as_str) == Some("up")).then(|| m.opt_present("netns")),
    );
    match m.opt_str("retry").map(|r| r.parse::<u64>()) {
        None => {}
        Some(Ok(r)) if (1..=3600).contains(&r) => lab.retry = r,
        Some(_) => return fail("--retry: seconds, 1 to 3600"),
    }
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["up"] => lab::up(&lab, 3),
        ["up", n] => match n.parse() {
            Ok(n) => lab::up(&lab, n),
            Err(_) => Err(format!("'{n}' is not a number of servers")),
        },
        ["cut", a, b] => lab::cut(&lab, a, b, true),
        ["heal", a, b] => lab::cut(&lab, a, b, false),
        ["delay", a, b, ms] => match ms.trim_end_matches("ms").parse() {
            Ok(ms) => lab::delay(&lab, a, b, ms),
            Err(_) => Err(format!("'{ms}' is not a number of milliseconds")),
        },
        ["down"] => lab::down(&lab),
        ["status"] => Ok(lab::status(&lab)),
        _ => {
            eprint!("{}", opts.usage(brief));
            return 2;
        }
    };
    report(result)
}
