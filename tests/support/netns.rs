//! Network namespaces for the tests that stand in for separate hosts (`tests/lab_netns.rs`,
//! `tests/lab_class.rs`): `ip` itself, and a room of hosts on one virtual switch that the
//! test makes and removes itself.

use std::process::{Command, Output};

/// Runs `ip ARGS`: did it succeed, and what it printed (out and err).
pub fn ip(args: &[&str]) -> (bool, String) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("these tests need `ip` (iproute2)");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// Hosts (network namespaces) on one switch (a bridge in a namespace of its own), with
/// addresses in one /24 and no route out: nothing sent in the room can leave it. The room
/// owns every namespace whose name starts with its prefix; dropping it kills the processes
/// in them and removes them, and making a room first removes what a crashed run left.
pub struct Room {
    prefix: String,
}

impl Room {
    /// Makes `PREFIX-net` (the switch) and one `PREFIX-NAME` per host, at `NETWORK.N/24`.
    pub fn new(prefix: &str, network: &str, hosts: &[(&str, u8)]) -> Room {
        let mut room = Room {
            prefix: prefix.to_string(),
        };
        room.remove();
        let switch = room.namespace("net");
        room.add(&switch);
        room.run(&["-n", &switch, "link", "add", "br0", "type", "bridge"]);
        room.run(&["-n", &switch, "link", "set", "br0", "up"]);
        for (host, n) in hosts {
            let ns = room.namespace(host);
            room.add(&ns);
            let port = format!("to-{host}");
            room.run(&[
                "-n", &switch, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ]);
            room.run(&["-n", &switch, "link", "set", &port, "master", "br0", "up"]);
            room.run(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{network}.{n}/24"),
                "dev",
                "eth0",
            ]);
            room.run(&["-n", &ns, "link", "set", "eth0", "up"]);
            room.run(&["-n", &ns, "link", "set", "lo", "up"]);
            // Proof before any traffic: the host's one way out is the room's own network.
            let (_, routes) = ip(&["-n", &ns, "-4", "route", "show", "table", "all"]);
            for line in routes
                .lines()
                .filter(|l| !l.starts_with("local ") && !l.starts_with("broadcast "))
            {
                assert!(
                    line.starts_with(&format!("{network}.0/24 dev eth0"))
                        || line.contains("dev lo"),
                    "{ns} has a route out of the room: {line}"
                );
            }
        }
        room
    }

    /// The namespace of host `host`.
    pub fn namespace(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    fn add(&mut self, ns: &str) {
        self.run(&["netns", "add", ns]);
    }

    fn run(&self, args: &[&str]) {
        let (ok, text) = ip(args);
        assert!(
            ok,
            "ip {}: {text}\n(this test needs root and network namespaces, and does not skip without them)",
            args.join(" ")
        );
    }

    /// Runs `program ARGS` inside host `host` as nobody (uid 65534), as a user would.
    pub fn exec(&self, host: &str, program: &str, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.namespace(host), "setpriv"])
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", program])
            .args(args)
            .output()
            .expect("ip netns exec")
    }

    /// Runs `program ARGS` inside host `host` as root (a tool such as `dig` or `ss`).
    pub fn exec_root(&self, host: &str, program: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.namespace(host), program])
            .args(args)
            .output()
            .expect("ip netns exec");
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }

    /// The processes in host `host`.
    pub fn pids(&self, host: &str) -> Vec<String> {
        ip(&["netns", "pids", &self.namespace(host)])
            .1
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Kills every process in the room's namespaces and removes them, also those of an
    /// earlier run that crashed. Returns the names still there (none, when all went well).
    pub fn remove(&mut self) -> Vec<String> {
        let ours = |l: &str| {
            l.split_whitespace()
                .next()
                .filter(|n| n.starts_with(&format!("{}-", self.prefix)))
                .map(str::to_string)
        };
        let list =
            |_: ()| -> Vec<String> { ip(&["netns", "list"]).1.lines().filter_map(ours).collect() };
        for ns in list(()) {
            for _ in 0..100 {
                let (_, pids) = ip(&["netns", "pids", &ns]);
                if pids.trim().is_empty() {
                    break;
                }
                for pid in pids.split_whitespace() {
                    let _ = Command::new("kill").args(["-9", pid]).status();
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = ip(&["netns", "del", &ns]);
        }
        list(())
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        self.remove();
    }
}
