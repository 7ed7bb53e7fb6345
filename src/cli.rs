//! The command line (DESIGN.md fixes the contract): `postlab serve | user | trace | queue | dns |
//! send | fetch`.
//!
//! Each subcommand parses its own flags with getopts and returns an exit code: 0 success,
//! 1 failure, 2 a wrong argument (with the usage text on stderr).

use std::io::Write as _;

use getopts::Options;

use crate::accounts::{password, users, users::User, Users};
use crate::config::Config;
use crate::datadir::DataDir;
use crate::dns;
use crate::ids::QueueId;
use crate::mailbox::Maildir;
use crate::serve::{self, Server};
use crate::trace;

const USAGE: &str = "\
postlab: a teaching mail server

usage:
  postlab serve  [--data DIR] [--config FILE] [--listen ADDR] [--port-offset N]
                 [--hostname NAME] [--domain D]... [--ephemeral-ports]
  postlab user   add NAME [--password P] | del NAME | passwd NAME [--password P] | list   [--data DIR]
  postlab user   disable NAME | enable NAME | quota NAME SIZE   [--data DIR]
  postlab alias  add ALIAS TARGET... | del ALIAS | list   [--data DIR]
  postlab deliver --user NAME [--from ADDR] [--data DIR] < message   (an MDA for Postfix)
  postlab backup FILE [--data DIR]            a consistent archive, while the server runs
  postlab restore FILE --data DIR [--force]   checked in full before anything is written
  postlab check  [--data DIR]                 settings, users, aliases, permissions, Maildirs
  postlab status [--data DIR]                 pid, listeners, sessions, queue, last deliveries
  postlab trace  ID [--data DIR]      the journey of one message through the flowchart
  postlab queue  list | show ID | flush | hold ID | release ID | delete ID   [--data DIR]
  postlab dns    --zone FILE [--listen ADDR:PORT]   a DNS server for the lab's domains
  postlab send   --from A --to B [--cc C] [--subject S] [--body TEXT] [--attach FILE] [--auth USER:PASS]
                 [--server HOST:PORT] [--verbose]      compose and submit a message (body on stdin)
  postlab lab    up [N] | down | status  [--dir DIR] [--port-offset N]   a mini internet: N servers + DNS
  postlab watch  [--data DIR] [--all] [--no-color]   the transcripts live, each step in its colour
  postlab fault  add STEP PATTERN ACTION… | list | clear   [--data DIR]   failures on purpose
  postlab fetch  list | read N | delete N  --user U [--password P] [--pop3 | --imap] [--server HOST:PORT] [--verbose]

DIR defaults to $POSTLAB_DATA, else ./var. `postlab COMMAND --help` says more.
";

/// Runs `postlab ARGS…` and returns the process exit code.
pub fn main(args: Vec<String>) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return 2;
    };
    match command.as_str() {
        "serve" => serve(rest),
        "user"
            if matches!(
                rest.first().map(String::as_str),
                Some("disable" | "enable" | "quota")
            ) =>
        {
            crate::admin::aliases::user_switch(rest)
        }
        "user" => user(rest),
        "alias" => crate::admin::aliases::main(rest),
        "deliver" => crate::admin::deliver::main(rest),
        "backup" => crate::admin::backup::main(rest),
        "restore" => crate::admin::restore::main(rest),
        "status" => crate::admin::status::main(rest),
        "check" => crate::admin::check::main(rest),
        "trace" => trace(rest),
        "queue" => queue(rest),
        "dns" => dns(rest),
        "send" => send(rest),
        "fetch" => fetch(rest),
        "fault" => fault(rest),
        "watch" => watch(rest),
        "lab" => lab(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            0
        }
        other => {
            eprintln!("postlab: unknown command '{other}'\n");
            eprint!("{USAGE}");
            2
        }
    }
}

/// Parses `args` with `opts`; on error prints it with the usage and gives the exit code.
fn parse(opts: &Options, args: &[String], brief: &str) -> Result<getopts::Matches, i32> {
    parse_args(opts, args, brief, 2)
}

/// Parses `args`; on `--help` prints the usage (exit 0), on error prints it with the error and
/// gives `usage_code` (sysexits' 64 for `postlab deliver`, 2 elsewhere).
pub(crate) fn parse_args(
    opts: &Options,
    args: &[String],
    brief: &str,
    usage_code: i32,
) -> Result<getopts::Matches, i32> {
    match opts.parse(args) {
        Ok(m) if m.opt_present("help") => {
            print!("{}", opts.usage(brief));
            Err(0)
        }
        Ok(m) => Ok(m),
        Err(e) => {
            eprintln!("postlab: {e}\n");
            eprint!("{}", opts.usage(brief));
            Err(usage_code)
        }
    }
}

fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("postlab: {message}");
    1
}

// ---- postlab serve ---------------------------------------------------------------------------

fn serve(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optopt(
        "",
        "config",
        "settings file (default DIR/postlab.conf)",
        "FILE",
    );
    opts.optopt(
        "",
        "listen",
        "address to listen on (default 127.0.0.1)",
        "ADDR",
    );
    opts.optopt(
        "",
        "port-offset",
        "added to each standard port (default 10000)",
        "N",
    );
    opts.optopt(
        "",
        "hostname",
        "the server's name (default: this machine's)",
        "NAME",
    );
    opts.optmulti(
        "",
        "domain",
        "a local mail domain (repeat for more; default localhost and the hostname)",
        "D",
    );
    opts.optflag(
        "",
        "ephemeral-ports",
        "let the system pick free ports; see DIR/run/listeners",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab serve [options]\n\nReceive mail over SMTP and deliver it to local Maildirs.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let created = match data.init() {
        Ok(created) => created,
        Err(e) => {
            return fail(format!(
                "cannot prepare the data directory {}: {e}",
                data.root().display()
            ))
        }
    };

    let mut config = Config::defaults();
    let config_path = m
        .opt_str("config")
        .map(Into::into)
        .unwrap_or_else(|| data.config());
    match std::fs::read_to_string(&config_path) {
        Ok(text) => {
            if let Err(e) = config.apply_file(&text) {
                return fail(format!("{}: {e}", config_path.display()));
            }
        }
        Err(e) => return fail(format!("cannot read {}: {e}", config_path.display())),
    }
    let flags = [
        ("listen", "listen"),
        ("port-offset", "port_offset"),
        ("hostname", "hostname"),
    ];
    for (flag, key) in flags {
        if let Some(value) = m.opt_str(flag) {
            if let Err(e) = config.set(key, &value) {
                return fail(format!("--{flag}: {e}"));
            }
        }
    }
    let domains = m.opt_strs("domain");
    if !domains.is_empty() {
        config.domains.clear();
        for domain in domains {
            if let Err(e) = config.add_domain(&domain) {
                return fail(format!("--domain: {e}"));
            }
        }
    }
    let config = config.finish();

    // Held until the process ends: one server per data directory (src/daemon.rs).
    let _lock = match crate::daemon::lock_data_dir(&data) {
        Ok(lock) => lock,
        Err(e) => return fail(e),
    };
    let options = serve::Options {
        ephemeral_ports: m.opt_present("ephemeral-ports"),
    };
    let server = match Server::bind(config, data, &options) {
        Ok(server) => server,
        Err(e) => return fail(e),
    };
    let signals = match crate::daemon::catch_signals() {
        Ok(signals) => signals,
        Err(e) => return fail(e),
    };
    if let Err(e) = server.write_run_files() {
        return fail(format!("cannot write the files in DIR/run: {e}"));
    }
    print!("{}", server.banner(&created));
    let _ = std::io::stdout().flush();
    server.run(signals);
    0
}

// ---- postlab user ----------------------------------------------------------------------------

fn user(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optopt(
        "",
        "password",
        "the password (add: default a generated one; passwd: default read from stdin)",
        "P",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab user add NAME [--password P] | del NAME | passwd NAME [--password P] | list\n\n\
                 Manage accounts in DIR/users (hashed with Argon2id, Dovecot passwd-file format).";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let path = data.users();
    let mut users = match Users::load(&path) {
        Ok(users) => users,
        Err(e) => return fail(e),
    };
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let save = |users: &Users| {
        std::fs::create_dir_all(data.root())
            .and_then(|()| users.save(&path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    match words.as_slice() {
        ["list"] => {
            for user in users.iter() {
                let scheme = user
                    .password
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('{');
                println!("{:<20} {scheme}", user.name);
            }
            0
        }
        ["add", name] => {
            let name = name.to_ascii_lowercase();
            if let Err(e) = users::check_name(&name) {
                return fail(e);
            }
            if users.contains(&name) {
                return fail(format!(
                    "user {name} exists already (use passwd to change the password)"
                ));
            }
            let (secret, generated) = match m.opt_str("password") {
                Some(p) => (p, false),
                None => (password::generate(), true),
            };
            let hash = match password::hash(&secret) {
                Ok(hash) => hash,
                Err(e) => return fail(e),
            };
            users.insert(User {
                name: name.clone(),
                password: hash,
                extra: String::new(),
            });
            if let Err(e) = save(&users) {
                return fail(e);
            }
            if let Err(e) = Maildir::create(&data.mail().join(&name)) {
                return fail(format!(
                    "account added, but its Maildir could not be made: {e}"
                ));
            }
            if generated {
                println!("added {name}, password: {secret}");
            } else {
                println!("added {name}");
            }
            0
        }
        ["del", name] => {
            if users.remove(name).is_none() {
                return fail(format!("no user {name}"));
            }
            if let Err(e) = save(&users) {
                return fail(e);
            }
            println!(
                "deleted {name}; the mail stays in {}",
                data.mail().join(name.to_ascii_lowercase()).display()
            );
            0
        }
        ["passwd", name] => {
            let Some(existing) = users.get(name).cloned() else {
                return fail(format!("no user {name}"));
            };
            let secret = match m.opt_str("password") {
                Some(p) => p,
                None => {
                    eprint!("new password for {name}: ");
                    let mut line = String::new();
                    if std::io::stdin().read_line(&mut line).is_err()
                        || line.trim_end_matches(['\r', '\n']).is_empty()
                    {
                        return fail("no password given");
                    }
                    line.trim_end_matches(['\r', '\n']).to_string()
                }
            };
            let hash = match password::hash(&secret) {
                Ok(hash) => hash,
                Err(e) => return fail(e),
            };
            users.insert(User {
                password: hash,
                ..existing
            });
            if let Err(e) = save(&users) {
                return fail(e);
            }
            println!("password changed for {name}");
            0
        }
        _ => {
            eprint!("{}", opts.usage(brief));
            2
        }
    }
}

// ---- postlab trace ---------------------------------------------------------------------------

fn trace(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optmulti("", "data", "data directory (default $POSTLAB_DATA or ./var); repeat to follow a message across servers", "DIR");
    opts.optopt(
        "",
        "svg",
        "also draw the journey as an SVG picture into FILE",
        "FILE",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab trace ID [--data DIR]... [--svg FILE]\n\nThe journey of one message (by its queue id) through the flowchart.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let [id] = m.free.as_slice() else {
        eprint!("{}", opts.usage(brief));
        return 2;
    };
    let Some(id) = QueueId::parse(&id.to_ascii_uppercase()) else {
        return fail(format!("'{id}' is not a queue id (it looks like 19A3C4F2B8D10: see the 250 reply to MAIL FROM or DATA)"));
    };
    let dirs = m.opt_strs("data");
    let servers: Vec<(String, std::path::PathBuf)> = if dirs.len() > 1 {
        dirs.iter()
            .map(|d| {
                let data = DataDir::new(d);
                let label = data
                    .root()
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_else(|| d.clone());
                (label, data.transcripts())
            })
            .collect()
    } else {
        vec![(
            String::new(),
            DataDir::from_option(dirs.into_iter().next()).transcripts(),
        )]
    };
    let stops = match trace::journey_across(&servers, &id) {
        Ok(stops) if stops.is_empty() => return fail(format!("no transcript mentions {id}")),
        Ok(stops) => stops,
        Err(e) => return fail(e),
    };
    print!("{}", trace::render(&id, &stops));
    if let Some(path) = m.opt_str("svg") {
        if let Err(e) = std::fs::write(&path, trace::svg::render(&id, &stops)) {
            return fail(format!("cannot write {path}: {e}"));
        }
        println!("\npicture written to {path}");
    }
    0
}

// ---- postlab queue ---------------------------------------------------------------------------

fn queue(args: &[String]) -> i32 {
    use crate::mta::queue::{unix_now, Folder, Queue, Status};
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab queue list | show ID | flush | hold ID | release ID | delete ID [--data DIR]\n\n\
                 The outbound queue: mail waiting for another server (flowchart steps 4 and 5).\n\
                 A running server notices every change within a second.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let data = DataDir::from_option(m.opt_str("data"));
    let queue = match Queue::open(&data.root().join("queue")) {
        Ok(queue) => queue,
        Err(e) => return fail(format!("cannot open the queue: {e}")),
    };
    let id = |text: &str| {
        QueueId::parse(&text.to_ascii_uppercase())
            .ok_or_else(|| format!("'{text}' is not a queue id"))
    };
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let result: Result<(), String> = match words.as_slice() {
        ["list"] => (|| {
            let now = unix_now();
            let mut count = 0;
            for folder in [Folder::Active, Folder::Hold] {
                for entry in queue.list(folder).map_err(|e| e.to_string())? {
                    count += 1;
                    let size = std::fs::metadata(queue.content_path(&entry.id, folder))
                        .map(|m| m.len())
                        .unwrap_or(0);
                    let when = match folder {
                        Folder::Hold => "held".to_string(),
                        Folder::Active if entry.next_attempt <= now => "due now".to_string(),
                        Folder::Active => format!("next try in {} s", entry.next_attempt - now),
                    };
                    println!(
                        "{}  {size:>8} octets  {} attempt(s), {when}  from {}",
                        entry.id, entry.attempts, entry.from
                    );
                    for r in &entry.recipients {
                        let status = match &r.status {
                            Status::Pending(why) if why.is_empty() => "pending".to_string(),
                            Status::Pending(why) => format!("pending: {why}"),
                            Status::Delivered(reply) => format!("delivered: {reply}"),
                            Status::Failed { status, diagnostic } => {
                                format!("failed {status}: {diagnostic}")
                            }
                        };
                        println!("    <{}>  {status}", r.address);
                    }
                }
            }
            println!("{count} message(s) in the queue");
            Ok(())
        })(),
        ["show", text] => (|| {
            let id = id(text)?;
            let (entry, folder) = queue.find(&id).map_err(|e| e.to_string())?;
            print!("{}", entry.to_text());
            let content =
                std::fs::read(queue.content_path(&id, folder)).map_err(|e| e.to_string())?;
            println!("\n# content ({} octets):", content.len());
            print!("{}", String::from_utf8_lossy(&content));
            Ok(())
        })(),
        ["flush"] => (|| {
            let mut count = 0;
            for mut entry in queue.list(Folder::Active).map_err(|e| e.to_string())? {
                entry.next_attempt = unix_now();
                queue
                    .save(&entry, Folder::Active)
                    .map_err(|e| e.to_string())?;
                count += 1;
            }
            println!("{count} message(s) will be tried now");
            Ok(())
        })(),
        ["hold", text] => (|| {
            let id = id(text)?;
            queue
                .move_to(&id, Folder::Active, Folder::Hold)
                .map_err(|e| format!("cannot hold {id}: {e}"))?;
            println!("{id} is held: nothing happens to it until `postlab queue release {id}`");
            Ok(())
        })(),
        ["release", text] => (|| {
            let id = id(text)?;
            let (mut entry, folder) = queue.find(&id).map_err(|e| e.to_string())?;
            if folder != Folder::Hold {
                return Err(format!("{id} is not held"));
            }
            entry.next_attempt = unix_now();
            queue
                .save(&entry, Folder::Hold)
                .map_err(|e| e.to_string())?;
            queue
                .move_to(&id, Folder::Hold, Folder::Active)
                .map_err(|e| e.to_string())?;
            println!("{id} released: it will be tried now");
            Ok(())
        })(),
        ["delete", text] => (|| {
            let id = id(text)?;
            let (_, folder) = queue.find(&id).map_err(|e| e.to_string())?;
            queue.remove(&id, folder).map_err(|e| e.to_string())?;
            println!("{id} deleted (no bounce is sent)");
            Ok(())
        })(),
        _ => {
            eprint!("{}", opts.usage(brief));
            return 2;
        }
    };
    match result {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

// ---- postlab dns -----------------------------------------------------------------------------

fn dns(args: &[String]) -> i32 {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "zone",
        "the zone file to serve (format: see lessons/05-dns-mx.md)",
        "FILE",
    );
    opts.optopt(
        "",
        "listen",
        "address and port (default 127.0.0.1:10053; port 0 lets the system pick)",
        "ADDR:PORT",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab dns --zone FILE [--listen ADDR:PORT]\n\n\
                 Answer DNS questions (MX, A, AAAA, TXT, CNAME) from FILE, over UDP and TCP.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let (Some(path), true) = (m.opt_str("zone"), m.free.is_empty()) else {
        eprint!("{}", opts.usage(brief));
        return 2;
    };
    let listen = m
        .opt_str("listen")
        .unwrap_or_else(|| "127.0.0.1:10053".to_string());
    let Ok(listen) = listen.parse() else {
        return fail(format!(
            "--listen: '{listen}' is not ADDR:PORT (e.g. 127.0.0.1:10053)"
        ));
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => return fail(format!("cannot read {path}: {e}")),
    };
    let zone = match dns::zone::Zone::parse(&text) {
        Ok(zone) => zone,
        Err(e) => return fail(format!("{path}: {e}")),
    };
    match dns::lab::run(zone, listen) {
        Ok(()) => 0,
        Err(e) => fail(e),
    }
}

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
    crate::smtp::address::parse_mailbox(value, true)
        .map(|_| ())
        .map_err(|e| format!("--{name}: '{value}' is not a mail address ({e:?})"))
}

fn send(args: &[String]) -> i32 {
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

fn fetch(args: &[String]) -> i32 {
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

// ---- postlab fault ---------------------------------------------------------------------------

fn fault(args: &[String]) -> i32 {
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

fn watch(args: &[String]) -> i32 {
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

fn lab(args: &[String]) -> i32 {
    use crate::lab::{self, Lab};
    let mut opts = Options::new();
    opts.optopt("", "dir", "the lab's folder (default ./lab)", "DIR");
    opts.optopt(
        "",
        "port-offset",
        "added to each standard port (default 10000)",
        "N",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab lab up [N] | down | status [--dir DIR] [--port-offset N]\n\n\
                 A mini internet on this machine: N mail servers (lab1.test ... labN.test, default 3)\n\
                 on 127.0.0.11, .12, ... and a DNS server on 127.0.0.10 with their MX records.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let port_offset = match m.opt_str("port-offset").map(|p| p.parse::<u16>()) {
        None => None,
        Some(Ok(p)) if p <= 64000 => Some(p),
        Some(_) => return fail("--port-offset: a number up to 64000"),
    };
    let lab = Lab::open(
        m.opt_str("dir").unwrap_or_else(|| "lab".into()).into(),
        port_offset,
    );
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["up"] => lab::up(&lab, 3),
        ["up", n] => match n.parse() {
            Ok(n) => lab::up(&lab, n),
            Err(_) => Err(format!("'{n}' is not a number of servers")),
        },
        ["down"] => lab::down(&lab),
        ["status"] => Ok(lab::status(&lab)),
        _ => {
            eprint!("{}", opts.usage(brief));
            return 2;
        }
    };
    match result {
        Ok(text) => {
            println!("{}", text.trim_end());
            0
        }
        Err(e) => fail(e),
    }
}
