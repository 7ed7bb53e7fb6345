//! `postlab lab class join | leave | status`: a student's laptop becomes the mail host of
//! `NAME.class.test`, on its own address in the classroom's network.
//!
//! `join` asks the teacher's registration for the name (sending the server's DKIM keys, so
//! the zone can publish them), writes the server's settings and starts `postlab serve` in the
//! background, as `postlab lab up` does:
//!
//! ```text
//! hostname       = mx.ani.class.test
//! domains        = ani.class.test
//! listen         = 192.168.5.23          this laptop's address in the class network only
//! dns_server     = 192.168.5.10:10053    the teacher's DNS: MX lookups of class domains
//! relay_networks = 127.0.0.0/8, ::1/128, 192.168.5.23/32   this laptop, nobody else
//! relay_to       = class.test            mail leaves for class domains only
//! ```
//!
//! The accounts alice and bob get fresh random passwords, shown once: on a shared network a
//! password everybody knows from the lessons would let the room log in. `leave` stops the
//! server and asks the teacher's roster to drop the name; the data stays.

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{check_name, check_zone, class_address, private};
use crate::accounts::users::User;
use crate::accounts::{password, Users};
use crate::mailbox::durable;

/// What `lab class join` was asked for.
#[derive(Debug, Clone)]
pub struct Join {
    pub dir: PathBuf,
    pub name: String,
    pub teacher: Ipv4Addr,
    /// The class code; `None` with `--no-register` (the teacher adds the roster line).
    pub code: Option<String>,
    pub listen: Option<Ipv4Addr>,
    pub port_offset: u16,
    /// The zone, when there is no registration to tell it.
    pub zone: String,
}

/// How long the teacher's registration may take to answer.
const TEACHER_TIME: Duration = Duration::from_secs(10);

/// Registers, configures and starts the student's server; returns the table to print.
pub fn join(join: &Join) -> Result<String, String> {
    check_name(&join.name)?;
    if !private(join.teacher) {
        return Err(format!(
            "--teacher {} is not an address on a classroom network (private, RFC 1918)",
            join.teacher
        ));
    }
    let address = class_address(join.listen, join.teacher)?;
    if let Some(pid) = server_pid(&join.dir).filter(|p| crate::lab::alive(*p)) {
        return Err(format!(
            "this folder's class server is running (pid {pid}): postlab lab class leave --dir {} first",
            join.dir.display()
        ));
    }
    let data = join.dir.join(&join.name);
    durable::create_dir_all_durably(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    // Absolute, so that `leave` from another folder knows the server by its command line.
    let data = fs::canonicalize(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let offset = join.port_offset;
    let registration = SocketAddr::from((join.teacher, super::REGISTER_PORT + offset));
    let (zone, registered) = match &join.code {
        Some(code) => {
            let (zone, reply) = request(registration, |zone| {
                let mut lines = vec![format!("JOIN {} {code}", join.name)];
                for (owner, record) in dkim_records(&data, &format!("{}.{zone}", join.name))? {
                    let selector = owner.split('.').next().unwrap_or_default().to_string();
                    lines.push(format!("DKIM {selector} {record}"));
                }
                Ok(lines)
            })
            .map_err(|e| {
                format!(
                    "{e}\nWithout the registration: postlab lab class join {} --teacher {} \
                     --no-register, and the teacher adds the line `{} {address}` to the roster",
                    join.name, join.teacher, join.name
                )
            })?;
            (zone, Some(reply))
        }
        None => {
            check_zone(&join.zone)?;
            dkim_records(&data, &format!("{}.{}", join.name, join.zone))?;
            (join.zone.clone(), None)
        }
    };
    let domain = format!("{}.{zone}", join.name);
    let dns = SocketAddr::from((join.teacher, super::DNS_PORT + offset));
    let settings = format!(
        "{}\n# Set by `postlab lab class join`: a class across laptops (lessons/README.md).\n\
         hostname = mx.{domain}\ndomains = {domain}\nlisten = {address}\nport_offset = {offset}\n\
         dns_server = {dns}\nrelay_port = {}\nrelay_networks = 127.0.0.0/8, ::1/128, {address}/32\n\
         relay_to = {zone}\nqueue_retry_min = 10\nqueue_retry_max = 60\ndkim_sign = yes\n",
        crate::config::default_file_text(),
        25 + offset,
    );
    durable::write_atomically(&data.join("postlab.conf"), settings.as_bytes())
        .map_err(|e| e.to_string())?;
    let mut passwords = String::new();
    if !data.join("users").exists() {
        let mut users = Users::default();
        for name in ["alice", "bob"] {
            let secret = super::random_text(10)?.to_ascii_lowercase();
            users.insert(User {
                name: name.into(),
                password: password::hash(&secret)?,
                extra: String::new(),
            });
            let _ = write!(passwords, "{name}:{secret}  ");
        }
        users.save(&data.join("users")).map_err(|e| e.to_string())?;
    }
    let joined = format!(
        "name = {}\nteacher = {}\naddress = {address}\nport_offset = {offset}\ncode = {}\n",
        join.name,
        join.teacher,
        join.code.as_deref().unwrap_or("")
    );
    durable::write_atomically(&join.dir.join("joined"), joined.as_bytes())
        .map_err(|e| e.to_string())?;
    if let Err(e) = start(&data) {
        let _ = leave(&join.dir);
        return Err(e);
    }
    let mut text = format!(
        "Joined the class: {domain} on {address}, data in {}\n",
        data.display()
    );
    if let Some(reply) = registered {
        let _ = writeln!(text, "the teacher's registration said: {reply}");
    } else {
        let _ = writeln!(
            text,
            "not registered: the teacher adds this line to the class roster:\n  {} {address}",
            join.name
        );
    }
    let _ = writeln!(
        text,
        "\n  smtp {address}:{}   submission {}   pop3 {}   imap {}   DNS {dns}",
        25 + offset,
        587 + offset,
        110 + offset,
        143 + offset
    );
    if !passwords.is_empty() {
        let _ = writeln!(
            text,
            "  accounts (passwords shown once): {}",
            passwords.trim_end()
        );
    }
    let _ = writeln!(
        text,
        "\nTry:\n  echo hello | postlab send --server {address}:{} --auth alice:PASSWORD \
         --from alice@{domain} --to bob@OTHER.{zone} --subject hi\n  \
         postlab watch --data {}\n  postlab lab class leave --dir {}",
        587 + offset,
        data.display(),
        join.dir.display()
    );
    Ok(text)
}

/// The server's DKIM records (made on first use), `(owner name, TXT text)`.
fn dkim_records(data: &Path, domain: &str) -> Result<Vec<(String, String)>, String> {
    let dkim = data.join("dkim");
    crate::mailauth::keys::ensure(&dkim, domain)?;
    crate::mailauth::keys::txt_records(&dkim, domain)
        .ok_or_else(|| format!("cannot read the DKIM keys in {}", dkim.display()))
}

/// One registration request: the greeting names the zone, `lines(zone)` is what to send
/// before END. Returns the zone and the reply, or the reply as the error when it is not 250.
fn request(
    to: SocketAddr,
    lines: impl FnOnce(&str) -> Result<Vec<String>, String>,
) -> Result<(String, String), String> {
    let unreachable =
        |e: std::io::Error| format!("the teacher's registration at {to} does not answer: {e}");
    let stream = TcpStream::connect_timeout(&to, TEACHER_TIME).map_err(unreachable)?;
    stream
        .set_read_timeout(Some(TEACHER_TIME))
        .map_err(unreachable)?;
    stream
        .set_write_timeout(Some(TEACHER_TIME))
        .map_err(unreachable)?;
    let mut reader = BufReader::new(stream.try_clone().map_err(unreachable)?);
    let mut line = String::new();
    let mut read_line = |line: &mut String| -> Result<String, String> {
        line.clear();
        (&mut reader)
            .take(1024)
            .read_line(line)
            .map_err(|e| format!("the teacher's registration at {to}: {e}"))?;
        Ok(line.trim_end().to_string())
    };
    let greeting = read_line(&mut line)?;
    let zone = match greeting
        .strip_prefix("220 ")
        .and_then(|g| g.split_whitespace().next())
    {
        Some(zone) if check_zone(zone).is_ok() => zone.to_string(),
        _ => {
            return Err(format!(
                "the teacher's registration at {to} said: {greeting}"
            ))
        }
    };
    let mut request = String::new();
    for l in lines(&zone)? {
        request.push_str(&l);
        request.push_str("\r\n");
    }
    request.push_str("END\r\n");
    (&stream)
        .write_all(request.as_bytes())
        .map_err(|e| format!("the teacher's registration at {to}: {e}"))?;
    let reply = read_line(&mut line)?;
    if reply.starts_with("250 ") {
        Ok((zone, reply))
    } else {
        Err(format!("the teacher's registration refused: {reply}"))
    }
}

/// Starts `postlab serve` on the data folder in the background; waits for its listeners.
fn start(data: &Path) -> Result<(), String> {
    let exe =
        std::env::current_exe().map_err(|e| format!("cannot find the postlab program: {e}"))?;
    let _ = fs::remove_file(data.join("run/listeners"));
    let log = fs::File::create(data.join("serve.log")).map_err(|e| e.to_string())?;
    Command::new(exe)
        .args(["serve", "--data"])
        .arg(data)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the class server: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while !fs::read_to_string(data.join("run/listeners")).is_ok_and(|t| t.ends_with('\n')) {
        if Instant::now() > deadline {
            return Err(format!(
                "the class server did not start:\n{}",
                fs::read_to_string(data.join("serve.log")).unwrap_or_default()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// `DIR/joined`, as `key = value` lines.
fn joined(dir: &Path) -> Option<Vec<(String, String)>> {
    let text = fs::read_to_string(dir.join("joined")).ok()?;
    Some(
        text.lines()
            .filter_map(|l| l.split_once(" = "))
            .map(|(k, v)| (k.to_string(), v.trim().to_string()))
            .collect(),
    )
}

fn setting(joined: &[(String, String)], key: &str) -> String {
    joined
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The pid of the class server this folder started, if its files say so.
fn server_pid(dir: &Path) -> Option<u32> {
    let name = setting(&joined(dir)?, "name");
    check_name(&name).ok()?;
    fs::read_to_string(dir.join(&name).join("run/postlab.pid"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Stops the server (even one killed already: its files are tidied) and leaves the roster.
pub fn leave(dir: &Path) -> Result<String, String> {
    let Some(joined) = joined(dir) else {
        return Err(format!("no class was joined in {}", dir.display()));
    };
    let name = setting(&joined, "name");
    check_name(&name)?;
    let mut text = String::new();
    match server_pid(dir) {
        // Only a `postlab serve` of this folder, never whatever a stale pid file names.
        Some(pid) if serves(pid, &dir.join(&name)) => {
            crate::lab::stop(&[pid]);
            let _ = writeln!(
                text,
                "stopped the server of {name} (pid {pid}); the data stays"
            );
        }
        _ => {
            let _ = writeln!(text, "the server of {name} was not running");
        }
    }
    let _ = fs::remove_file(dir.join(&name).join("run/postlab.pid"));
    let _ = fs::remove_file(dir.join(&name).join("run/listeners"));
    let code = setting(&joined, "code");
    let teacher: Option<Ipv4Addr> = setting(&joined, "teacher").parse().ok();
    let offset: u16 = setting(&joined, "port_offset").parse().unwrap_or(10000);
    match teacher {
        Some(teacher) if !code.is_empty() => {
            let to = SocketAddr::from((teacher, super::REGISTER_PORT + offset));
            match request(to, |_| Ok(vec![format!("LEAVE {name} {code}")])) {
                Ok((_, reply)) => {
                    let _ = writeln!(text, "the teacher's registration said: {reply}");
                }
                Err(e) => {
                    let _ = writeln!(
                        text,
                        "{e}\n(the teacher may delete the line of {name} from the roster)"
                    );
                }
            }
        }
        _ => {
            let _ = writeln!(
                text,
                "not registered: the teacher deletes the line of {name} from the roster"
            );
        }
    }
    let _ = fs::remove_file(dir.join("joined"));
    Ok(text)
}

/// Is `pid` a `postlab serve` of folder `data`? (Its command line, from /proc.)
fn serves(pid: u32, data: &Path) -> bool {
    let Ok(line) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let words: Vec<&[u8]> = line.split(|b| *b == 0).collect();
    let data = fs::canonicalize(data).unwrap_or_else(|_| data.to_path_buf());
    let data = data.as_os_str().as_encoded_bytes();
    crate::lab::alive(pid)
        && words.contains(&b"serve".as_slice())
        && words.windows(2).any(|w| w[0] == b"--data" && w[1] == data)
}

/// What this class folder holds: the teacher's roster, the student's server.
pub fn status(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(roster) = fs::read_to_string(dir.join("roster")) {
        let (students, skipped) = super::read_roster(&roster);
        let _ = writeln!(text, "roster: {} student(s)", students.len());
        for s in students {
            let _ = writeln!(text, "  {:<20} {}", s.name, s.address);
        }
        for line in skipped {
            let _ = writeln!(text, "  skipped {line}");
        }
    }
    if let Some(joined) = joined(dir) {
        let name = setting(&joined, "name");
        let state = match server_pid(dir) {
            Some(pid) if crate::lab::alive(pid) => format!("running (pid {pid})"),
            _ => "stopped".to_string(),
        };
        let _ = writeln!(
            text,
            "joined as {name} on {}, teacher {}: server {state}",
            setting(&joined, "address"),
            setting(&joined, "teacher")
        );
    }
    if text.is_empty() {
        text = format!("no class in {}\n", dir.display());
    }
    text
}
