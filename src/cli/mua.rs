//! Our mail client: `postlab send` (step 1) and `postlab fetch` (step 7).

use super::*;

// ---- postlab send (MUA, step 1) --------------------------------------------------------------

/// Refuses command-line values that would break a header or an SMTP line (CR, LF, NUL, …).
fn clean_argument(name: &str, value: &str) -> Result<(), String> {
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "--{name}: control characters (CR, LF, NUL …) are not allowed"
        ));
    }
    Ok(())
}

fn check_address(name: &str, value: &str) -> Result<(), String> {
    clean_argument(name, value)?;
    crate::address::parse_mailbox(value, true)
        .map(|_| ())
        .map_err(|e| format!("--{name}: '{value}' is not a mail address ({e:?})"))
}

pub(super) fn send(args: &[String]) -> i32 {
    use crate::mua::compose::{compose, content_type_for, Draft};
    use crate::mua::submit::{submit, Submission, Tls};
    let mut opts = Options::new();
    opts.optopt(
        "",
        "server",
        "submission server (default 127.0.0.1:10587)",
        "HOST:PORT",
    );
    opts.optopt("", "from", "sender address", "ADDR");
    opts.optmulti("", "to", "recipient (repeat for more)", "ADDR");
    opts.optmulti("", "cc", "copy recipient (repeat for more)", "ADDR");
    opts.optopt("", "subject", "subject line (UTF-8 is fine)", "TEXT");
    opts.optopt(
        "",
        "body",
        "message text (default: read from stdin)",
        "TEXT",
    );
    opts.optmulti("", "attach", "attach a file (repeat for more)", "FILE");
    opts.optopt(
        "",
        "auth",
        "log in as USER with PASSWORD (default: the sender's name and $POSTLAB_PASSWORD, if set)",
        "USER:PASSWORD",
    );
    opts.optflag(
        "",
        "starttls",
        "require STARTTLS (by default it is used whenever the server offers it)",
    );
    opts.optflag(
        "",
        "no-starttls",
        "never use STARTTLS (to watch the plaintext dialogue)",
    );
    opts.optflag(
        "",
        "verify",
        "check the server's TLS certificate (lab certificates are self-signed)",
    );
    opts.optflag("v", "verbose", "print the SMTP dialogue, labelled [1 MUA]");
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab send --from ADDR --to ADDR [options] < body.txt\n\n\
                 Compose a message and submit it over SMTP, as a mail program does (flowchart step 1).";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let result = (|| -> Result<String, String> {
        let from = m.opt_str("from").ok_or("--from is required")?;
        check_address("from", &from)?;
        let to = m.opt_strs("to");
        let cc = m.opt_strs("cc");
        if to.is_empty() {
            return Err("at least one --to is required".into());
        }
        for address in to.iter().chain(&cc) {
            check_address("to", address)?;
        }
        let subject = m.opt_str("subject").unwrap_or_default();
        clean_argument("subject", &subject)?;
        let body = match m.opt_str("body") {
            Some(body) => body,
            None => {
                let mut body = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut body)
                    .map_err(|e| format!("reading the body from stdin: {e}"))?;
                body
            }
        };
        let mut attachments = Vec::new();
        for path in m.opt_strs("attach") {
            let bytes = std::fs::read(&path).map_err(|e| format!("--attach {path}: {e}"))?;
            let name = std::path::Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or(path.clone());
            attachments.push((name.clone(), content_type_for(&name).to_string(), bytes));
        }
        let auth = match m.opt_str("auth") {
            Some(auth) => {
                let (user, password) = auth.split_once(':').ok_or("--auth wants USER:PASSWORD")?;
                Some((user.to_string(), password.to_string()))
            }
            None => std::env::var("POSTLAB_PASSWORD")
                .ok()
                .map(|p| (from.split('@').next().unwrap_or("").to_string(), p)),
        };
        let draft = Draft {
            from: from.clone(),
            to: to.clone(),
            cc: cc.clone(),
            subject,
            body,
            attachments,
        };
        let message = compose(&draft).map_err(|e| format!("composing the message: {e}"))?;
        let tls = match (m.opt_present("starttls"), m.opt_present("no-starttls")) {
            (true, true) => return Err("--starttls and --no-starttls contradict each other".into()),
            (true, false) => Tls::Required,
            (false, true) => Tls::Off,
            (false, false) => Tls::IfOffered,
        };
        let how = Submission {
            server: m
                .opt_str("server")
                .unwrap_or_else(|| "127.0.0.1:10587".into()),
            auth,
            tls,
            verify: m.opt_present("verify"),
            verbose: m.opt_present("verbose"),
        };
        let recipients: Vec<String> = to.into_iter().chain(cc).collect();
        let done = submit(&how, &from, &recipients, &message)?;
        let mut text = format!("sent: {}", done.reply);
        for (rcpt, why) in done.refused {
            text.push_str(&format!("\nrefused: <{rcpt}>: {why}"));
        }
        Ok(text)
    })();
    match result {
        Ok(text) => {
            println!("{text}");
            0
        }
        Err(e) => fail(e),
    }
}

// ---- postlab fetch (MUA, step 7) -------------------------------------------------------------

pub(super) fn fetch(args: &[String]) -> i32 {
    use crate::mua::fetch::{Account, Pop3};
    use crate::mua::imap::Imap;
    use crate::mua::Mailbox;
    let mut opts = Options::new();
    opts.optflag(
        "",
        "pop3",
        "read over POP3 (the default): messages are downloaded",
    );
    opts.optflag("", "imap", "read over IMAP: messages stay on the server");
    opts.optopt(
        "",
        "server",
        "server (default 127.0.0.1:10110 for POP3, 127.0.0.1:10143 for IMAP)",
        "HOST:PORT",
    );
    opts.optflag(
        "",
        "no-tls",
        "do not start TLS even when the server offers it",
    );
    opts.optopt("", "user", "account name", "USER");
    opts.optopt("", "password", "password (default: $POSTLAB_PASSWORD)", "P");
    opts.optflag("v", "verbose", "print the dialogue, labelled [7 ACCESS]");
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab fetch list | read N | delete N --user USER [options]\n\n\
                 Read a mailbox as a mail program does (flowchart step 7).";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let result = (|| -> Result<(), String> {
        let user = m.opt_str("user").ok_or("--user is required")?;
        let password = m
            .opt_str("password")
            .or_else(|| std::env::var("POSTLAB_PASSWORD").ok())
            .ok_or("--password (or $POSTLAB_PASSWORD) is required")?;
        clean_argument("user", &user)?;
        clean_argument("password", &password)?;
        let imap = m.opt_present("imap");
        let default_server = if imap {
            "127.0.0.1:10143"
        } else {
            "127.0.0.1:10110"
        };
        let account = Account {
            server: m.opt_str("server").unwrap_or_else(|| default_server.into()),
            user,
            password,
            verbose: m.opt_present("verbose"),
        };
        let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
        let number = |text: &str| {
            text.parse::<usize>()
                .map_err(|_| format!("'{text}' is not a message number"))
        };
        let plain = m.opt_present("no-tls");
        let mut pop: Box<dyn Mailbox> = if imap {
            Box::new(Imap::login(&account, plain)?)
        } else {
            Box::new(Pop3::login(&account, plain)?)
        };
        match words.as_slice() {
            ["list"] | [] => {
                let summaries = pop.list()?;
                println!(
                    "{:>3}  {:>8}  {:<28}  {:<32}  DATE",
                    "#", "OCTETS", "FROM", "SUBJECT"
                );
                for s in &summaries {
                    println!(
                        "{:>3}  {:>8}  {:<28}  {:<32}  {}",
                        s.number,
                        s.size,
                        truncate(&s.from, 28),
                        truncate(&s.subject, 32),
                        s.date
                    );
                }
                println!("{} message(s)", summaries.len());
            }
            ["read", n] => {
                let message = pop.read(number(n)?)?;
                print!("{}", String::from_utf8_lossy(&message));
            }
            ["delete", n] => {
                let n = number(n)?;
                pop.delete(n)?;
                println!("message {n} deleted");
            }
            _ => {
                return Err(format!(
                    "unknown action {:?}: use list, read N or delete N",
                    m.free
                ))
            }
        }
        pop.finish()
    })();
    match result {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

fn truncate(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        text.to_string()
    } else {
        text.chars().take(width - 1).chain(['…']).collect()
    }
}
