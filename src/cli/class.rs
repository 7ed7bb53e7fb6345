//! `postlab lab class host | join | leave | status`: a class across laptops
//! (`src/lab/class.rs`).

use super::*;

pub(super) fn lab_class(args: &[String]) -> i32 {
    use crate::lab::class;
    let mut opts = Options::new();
    opts.optopt("", "dir", "the class folder (default ./class)", "DIR");
    opts.optopt(
        "",
        "port-offset",
        "added to each standard port (default 10000)",
        "N",
    );
    opts.optopt(
        "",
        "network",
        "host: the classroom's network, e.g. 192.168.5.0/24",
        "CIDR",
    );
    opts.optopt(
        "",
        "zone",
        "host: the class's zone (default class.test); join --no-register: the same",
        "ZONE",
    );
    opts.optopt("", "teacher", "join: the teacher's address", "IP");
    opts.optopt(
        "",
        "code",
        "join: the class code on the teacher's screen",
        "CODE",
    );
    opts.optflag(
        "",
        "no-register",
        "join: do not ask the teacher's registration; the teacher adds the roster line",
    );
    opts.optopt(
        "",
        "listen",
        "this laptop's address in the classroom's network (default: the one toward it)",
        "IP",
    );
    opts.optflag("h", "help", "this help");
    let brief = "usage: postlab lab class host --network CIDR [--zone ZONE]
       postlab lab class join NAME --teacher IP --code CODE [--listen IP] [--no-register]
       postlab lab class leave | status
                          [--dir DIR] [--port-offset N]

A class across laptops on the classroom's network. The teacher's laptop serves the zone
class.test (DNS on port 10053) and takes registrations (port 10054, with the class code it
prints); each student's laptop runs the mail server of NAME.class.test, listening on its own
address in that network only, and relaying to class domains only.";
    let m = match parse(&opts, args, brief) {
        Ok(m) => m,
        Err(code) => return code,
    };
    let dir: std::path::PathBuf = m.opt_str("dir").unwrap_or_else(|| "class".into()).into();
    let port_offset = match m.opt_str("port-offset").map(|p| p.parse::<u16>()) {
        None => 10000,
        Some(Ok(p)) if p <= 64000 => p,
        Some(_) => return fail("--port-offset: a number up to 64000"),
    };
    let listen = match m.opt_str("listen").map(|l| l.parse()) {
        None => None,
        Some(Ok(ip)) => Some(ip),
        Some(Err(_)) => return fail("--listen: an IPv4 address, e.g. 192.168.5.23"),
    };
    let zone = m.opt_str("zone").unwrap_or_else(|| class::ZONE.into());
    let words: Vec<&str> = m.free.iter().map(String::as_str).collect();
    let result = match words.as_slice() {
        ["host"] => {
            let Some(network) = m.opt_str("network") else {
                return fail("lab class host needs --network, e.g. --network 192.168.5.0/24");
            };
            let network = match class::parse_network(&network) {
                Ok(n) => n,
                Err(e) => return fail(e),
            };
            let host = class::host::Host {
                dir,
                network,
                zone,
                listen,
                port_offset,
            };
            // Runs until stopped; only a failure returns.
            class::host(&host).map(|()| String::new())
        }
        ["join", name] => {
            let Some(Ok(teacher)) = m.opt_str("teacher").map(|t| t.parse()) else {
                return fail("lab class join needs --teacher IP, the teacher's IPv4 address");
            };
            let code = m.opt_str("code");
            if code.is_none() && !m.opt_present("no-register") {
                return fail(
                    "lab class join needs --code CODE (on the teacher's screen), or --no-register",
                );
            }
            class::join(&class::Join {
                dir,
                name: name.to_string(),
                teacher,
                code: code.filter(|_| !m.opt_present("no-register")),
                listen,
                port_offset,
                zone,
            })
        }
        ["leave"] => class::leave(&dir),
        ["status"] => Ok(class::status(&dir)),
        _ => {
            eprint!("{}", opts.usage(brief));
            return 2;
        }
    };
    report(result)
}
