//! `postlab lab class host`: the teacher's laptop serves the class's DNS zone and takes the
//! students' registrations, on its address in the classroom's network only.
//!
//! It runs in the foreground, so the teacher can project it: each student who joins or
//! leaves is a line, and so is each DNS question. Ctrl-C stops it; the roster and the class
//! code stay in the class folder for the next start.
//!
//! # Registration, the wire format
//!
//! One small request per TCP connection, in lines like SMTP's, so `telnet` can type it:
//!
//! ```text
//! S: 220 class.test registration, postlab lab class: JOIN NAME CODE or LEAVE NAME CODE, then DKIM lines, then END
//! C: JOIN ani 7K3M-Q9TX
//! C: DKIM postlab-ed25519 v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg…
//! C: END
//! S: 250 ani.class.test is 192.168.5.23: MX 10 mx.ani.class.test, 1 DKIM key(s)
//! ```
//!
//! The address is never claimed in the request: it is the one the connection comes from, so
//! a student can register only their own laptop. A name held by another address is refused
//! (550), and an address holds one name. `LEAVE` must come from the name's address too.
//!
//! # Limits (one hostile laptop on the classroom's network)
//!
//! Only addresses in the class network are served; the class code (40 random bits, shown at
//! start) must match; each address may make [`PER_MINUTE`](super::PER_MINUTE) requests a minute (a wrong code
//! counts), so guessing the code would take longer than the universe has; a request is at
//! most [`MAX_LINES`](super::MAX_LINES) lines of [`MAX_LINE`](super::MAX_LINE) octets and must be complete within
//! [`REQUEST_TIME`](super::REQUEST_TIME); at most [`MAX_AT_ONCE`](super::MAX_AT_ONCE) requests are served at once, and the roster
//! holds at most [`MAX_STUDENTS`](super::MAX_STUDENTS). Past a limit the reply says which (421, 500, 501, 452;
//! every reply is in `reply.rs`).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use super::reply::Reply;
use super::{check_dkim, check_name, read_roster, write_roster, zone_text, Student};
use super::{MAX_AT_ONCE, MAX_LINE, MAX_LINES, MAX_STUDENTS, PER_MINUTE, REQUEST_TIME};
use crate::config::Network;
use crate::dns::zone::{Zone, Zones};
use crate::mailbox::durable;

/// Addresses the rate counter remembers.
const MAX_COUNTED: usize = 4096;

/// What `lab class host` was asked for.
#[derive(Debug, Clone)]
pub struct Host {
    pub dir: PathBuf,
    pub network: Network,
    pub zone: String,
    pub listen: Option<Ipv4Addr>,
    pub port_offset: u16,
}

/// What the registration threads and the roster watcher share.
struct Class {
    host: Host,
    teacher: Ipv4Addr,
    code: String,
    zones: Arc<RwLock<Zones>>,
    /// The roster as last read, and the zone's serial: one change at a time.
    roster: Mutex<(String, u32)>,
    rate: Mutex<HashMap<IpAddr, (Instant, u32)>>,
    active: AtomicUsize,
}

/// Runs the class's DNS and registration until the process is stopped.
pub fn host(host: &Host) -> Result<(), String> {
    super::check_zone(&host.zone)?;
    // An address in the network itself gives the route to it; the system says which of ours.
    let inside = match host.network.addr {
        IpAddr::V4(ip) => Ipv4Addr::from(u32::from(ip) | 1),
        IpAddr::V6(_) => return Err("--network: an IPv4 network".into()),
    };
    let teacher = super::class_address(host.listen, inside)?;
    if !host.network.contains(IpAddr::V4(teacher)) {
        return Err(format!(
            "this laptop has no address in {}/{} (it would send from {teacher}): join that \
             network first, or give the address with --listen",
            host.network.addr, host.network.prefix
        ));
    }
    durable::create_dir_all_durably(&host.dir.join("keys"))
        .map_err(|e| format!("{}: {e}", host.dir.display()))?;
    let code = class_code(&host.dir)?;
    let port = |p: u16| {
        p.checked_add(host.port_offset)
            .ok_or_else(|| format!("--port-offset {} is too large", host.port_offset))
    };
    let register_addr = SocketAddr::from((teacher, port(super::REGISTER_PORT)?));
    let dns_addr = SocketAddr::from((teacher, port(super::DNS_PORT)?));
    let listener = TcpListener::bind(register_addr)
        .map_err(|e| format!("cannot listen for registrations on {register_addr}: {e}"))?;

    let serial = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(1);
    let empty = Zone::parse(
        &zone_text(&host.zone, serial, teacher, &[], &host.dir),
        "class.zone",
    )
    .map_err(|e| e.to_string())?;
    let class = Arc::new(Class {
        host: host.clone(),
        teacher,
        code,
        zones: Arc::new(RwLock::new(Zones::new(vec![empty])?)),
        roster: Mutex::new((String::new(), serial)),
        rate: Mutex::new(HashMap::new()),
        active: AtomicUsize::new(0),
    });
    {
        let mut roster = class.roster.lock().unwrap_or_else(|e| e.into_inner());
        reload(&class, &mut roster)?;
    }
    println!("{}", banner(&class, register_addr, dns_addr));

    let watcher = Arc::clone(&class);
    std::thread::spawn(move || watch_roster(&watcher));
    let registrar = Arc::clone(&class);
    std::thread::spawn(move || accept(&registrar, listener));
    crate::dns::lab::serve(Arc::clone(&class.zones), dns_addr)
}

/// The class code, kept in `DIR/code` (0600) so that a restarted host takes the same one.
/// Eight characters from 32 that cannot be mistaken for each other: 40 bits.
fn class_code(dir: &std::path::Path) -> Result<String, String> {
    let path = dir.join("code");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if text.trim().len() == 9 {
            return Ok(text.trim().to_string());
        }
    }
    let code = super::random_text(4)? + "-" + &super::random_text(4)?;
    durable::write_atomically(&path, format!("{code}\n").as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(code)
}

fn banner(class: &Class, register: SocketAddr, dns: SocketAddr) -> String {
    let h = &class.host;
    format!(
        "The class host: the zone {zone} for {net}/{prefix}, data in {dir}\n\n\
         \x20 DNS           {dns}   (UDP and TCP; zone in {dir}/class.zone)\n\
         \x20 registration  {register}   class code {code}\n\n\
         Each student runs, on a laptop in {net}/{prefix}:\n\
         \x20 postlab lab class join NAME --teacher {teacher} --code {code}\n\
         A student who cannot reach {register} runs join with --no-register and you add their\n\
         line (NAME ADDRESS) to {dir}/roster: the zone follows within a second.\n\
         Ctrl-C stops the class's DNS; the roster stays for the next start.\n",
        zone = h.zone,
        net = h.network.addr,
        prefix = h.network.prefix,
        dir = h.dir.display(),
        code = class.code,
        teacher = class.teacher,
    )
}

/// Writes the zone from the roster and serves it. `roster` is the lock's content: the roster
/// text last read, and the serial.
fn reload(class: &Class, roster: &mut (String, u32)) -> Result<usize, String> {
    let dir = &class.host.dir;
    let text = std::fs::read_to_string(dir.join("roster")).unwrap_or_default();
    let (students, skipped) = read_roster(&text);
    for line in skipped {
        println!("{} skipped {line}", crate::clock::now().stamp());
    }
    roster.1 = roster.1.wrapping_add(1);
    let zone = zone_text(&class.host.zone, roster.1, class.teacher, &students, dir);
    let path = dir.join("class.zone");
    durable::write_atomically(&path, zone.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let parsed = Zone::parse(&zone, &path.display().to_string()).map_err(|e| e.to_string())?;
    *class.zones.write().unwrap_or_else(|e| e.into_inner()) = Zones::new(vec![parsed])?;
    roster.0 = text;
    Ok(students.len())
}

/// The teacher may edit the roster by hand: once a second, a changed roster is served.
fn watch_roster(class: &Class) {
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let text = std::fs::read_to_string(class.host.dir.join("roster")).unwrap_or_default();
        let mut roster = class.roster.lock().unwrap_or_else(|e| e.into_inner());
        if text != roster.0 {
            let stamp = crate::clock::now().stamp();
            match reload(class, &mut roster) {
                Ok(n) => println!(
                    "{stamp} roster edited: {n} student(s), zone serial {}",
                    roster.1
                ),
                Err(e) => println!("{stamp} roster edited, but the zone cannot be served: {e}"),
            }
        }
    }
}

fn accept(class: &Arc<Class>, listener: TcpListener) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let Ok(peer) = stream.peer_addr().map(|a| a.ip()) else {
            continue;
        };
        let _ = stream.set_write_timeout(Some(REQUEST_TIME));
        if let Err(reply) = admit(class, peer) {
            println!("{} {peer} refused: {reply}", crate::clock::now().stamp());
            let _ = stream.write_all(format!("{reply}\r\n").as_bytes());
            continue;
        }
        class.active.fetch_add(1, Ordering::SeqCst);
        let worker = Arc::clone(class);
        // A thread that cannot be made drops this client (and its place), never the listener.
        let spawned = std::thread::Builder::new().spawn(move || {
            let class = worker;
            let reply = serve(&class, &mut stream, peer);
            let _ = stream.write_all(format!("{reply}\r\n").as_bytes());
            // What the client sent past the reply (a long line's rest) is read and dropped
            // for a second, so that closing does not reset the connection before the client
            // has read why.
            let _ = stream.shutdown(std::net::Shutdown::Write);
            let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
            let _ = std::io::copy(&mut (&stream).take(64 * 1024), &mut std::io::sink());
            class.active.fetch_sub(1, Ordering::SeqCst);
        });
        if let Err(e) = spawned {
            class.active.fetch_sub(1, Ordering::SeqCst);
            println!(
                "{} {peer} dropped: no thread for it ({e})",
                crate::clock::now().stamp()
            );
        }
    }
}

/// May this address make a request now? The network, the number at once, the rate.
fn admit(class: &Class, peer: IpAddr) -> Result<(), Reply> {
    let h = &class.host;
    if !h.network.contains(peer) {
        return Err(Reply::OutsideNetwork {
            network: format!("{}/{}", h.network.addr, h.network.prefix),
        });
    }
    if class.active.load(Ordering::SeqCst) >= MAX_AT_ONCE {
        return Err(Reply::TooManyAtOnce);
    }
    let mut rate = class.rate.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    if rate.len() >= MAX_COUNTED {
        rate.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
    }
    if rate.len() >= MAX_COUNTED && !rate.contains_key(&peer) {
        return Err(Reply::TooManyAddresses);
    }
    let (start, count) = rate.entry(peer).or_insert((now, 0));
    if now.duration_since(*start) >= Duration::from_secs(60) {
        (*start, *count) = (now, 0);
    }
    *count += 1;
    if *count > PER_MINUTE {
        return Err(Reply::TooFast { peer });
    }
    Ok(())
}

/// One request, greeting to reply.
fn serve(class: &Class, stream: &mut TcpStream, peer: IpAddr) -> Reply {
    let greeting = Reply::Ready {
        zone: class.host.zone.clone(),
    };
    let deadline = Instant::now() + REQUEST_TIME;
    let reader = match stream.write_all(format!("{greeting}\r\n").as_bytes()) {
        Ok(()) => stream.try_clone(),
        Err(e) => Err(e),
    };
    let Ok(reader) = reader else {
        return Reply::TooSlow;
    };
    let mut reader = BufReader::new(reader);
    let mut lines = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Reply::TooSlow;
        }
        let mut line = Vec::new();
        match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) => return Reply::Syntax("the request ended before END".into()),
            Ok(_) if !line.ends_with(b"\n") => return Reply::LineTooLong,
            Ok(_) => {}
            Err(_) => return Reply::TooSlow,
        }
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        if line.eq_ignore_ascii_case("END") {
            break;
        }
        lines.push(line);
        if lines.len() >= MAX_LINES {
            return Reply::TooManyLines;
        }
    }
    let reply = decide(class, &lines, peer);
    let shown = lines.first().map_or("", |l| l.as_str());
    // The code is a secret of the class: the projected screen shows the command without it.
    let shown: Vec<&str> = shown.split_whitespace().take(2).collect();
    println!(
        "{} {peer} {} → {reply}",
        crate::clock::now().stamp(),
        shown.join(" ")
    );
    reply
}

/// The answer to a whole request: JOIN or LEAVE, checked, and the roster changed.
fn decide(class: &Class, lines: &[String], peer: IpAddr) -> Reply {
    let usage = || Reply::Syntax("say JOIN NAME CODE or LEAVE NAME CODE, then END".into());
    let Some(first) = lines.first() else {
        return usage();
    };
    let words: Vec<&str> = first.split_whitespace().collect();
    let (join, name, code) = match words.as_slice() {
        [verb, name, code] if verb.eq_ignore_ascii_case("JOIN") => (true, *name, *code),
        [verb, name, code] if verb.eq_ignore_ascii_case("LEAVE") => (false, *name, *code),
        _ => return usage(),
    };
    if let Err(e) = check_name(name) {
        return Reply::Syntax(e);
    }
    if !same(code, &class.code) {
        return Reply::WrongCode;
    }
    let mut keys = Vec::new();
    for line in &lines[1..] {
        let record = line
            .strip_prefix("DKIM ")
            .and_then(|rest| rest.split_once(' '))
            .filter(|(selector, record)| check_dkim(selector, record).is_ok());
        match record {
            Some(pair) if join && keys.len() < 4 => keys.push(pair),
            _ => {
                return Reply::Syntax(
                    "after JOIN come at most 4 lines DKIM SELECTOR v=DKIM1; k=…; p=…".into(),
                )
            }
        }
    }
    let IpAddr::V4(address) = peer else {
        return Reply::NotIpv4;
    };
    let domain = format!("{name}.{}", class.host.zone);
    let dir = &class.host.dir;
    let mut roster = class.roster.lock().unwrap_or_else(|e| e.into_inner());
    let text = std::fs::read_to_string(dir.join("roster")).unwrap_or_default();
    let (mut students, _) = read_roster(&text);
    let held = students.iter().position(|s| s.name == name);
    if let Some(other) = held.map(|i| &students[i]).filter(|s| s.address != address) {
        return Reply::Taken {
            domain,
            by: other.address,
        };
    }
    if join {
        if let Some(other) = students
            .iter()
            .find(|s| s.address == address && s.name != name)
        {
            return Reply::HasName {
                address,
                domain: format!("{}.{}", other.name, class.host.zone),
            };
        }
        if held.is_none() && students.len() >= MAX_STUDENTS {
            return Reply::Full;
        }
        if held.is_none() {
            students.push(Student {
                name: name.to_string(),
                address,
            });
        }
        let key_text: String = keys.iter().map(|(s, r)| format!("{s} {r}\n")).collect();
        let path = dir.join("keys").join(name);
        if let Err(e) = durable::write_atomically(&path, key_text.as_bytes()) {
            return Reply::Failed(format!("cannot write {}: {e}", path.display()));
        }
    } else if held.is_none() {
        return Reply::NotInClass { domain };
    } else {
        students.retain(|s| s.name != name);
        let _ = std::fs::remove_file(dir.join("keys").join(name));
    }
    let path = dir.join("roster");
    if let Err(e) = durable::write_atomically(&path, write_roster(&students).as_bytes()) {
        return Reply::Failed(format!("cannot write {}: {e}", path.display()));
    }
    if let Err(e) = reload(class, &mut roster) {
        return Reply::Failed(format!("the zone cannot be served: {e}"));
    }
    if join {
        Reply::Joined {
            domain,
            address,
            keys: keys.len(),
        }
    } else {
        Reply::Left { domain }
    }
}

/// Compares the code in the same time whatever the first wrong character.
fn same(given: &str, code: &str) -> bool {
    given.len() == code.len()
        && given
            .bytes()
            .zip(code.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a.to_ascii_uppercase() ^ b))
            == 0
}
