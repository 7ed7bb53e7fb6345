//! The Debian package (`make deb`) as a lab administrator uses it: installed with `dpkg -i`,
//! the service started as its unit says (its own `postlab` user, data in `/var/lib/postlab`),
//! greeting a client, then removed with `dpkg -r`.
//!
//! It runs in a throw-away root: an overlay over `/` in a mount namespace of its own
//! (`unshare -m`), entered with `chroot`, so installing changes nothing on this machine. The
//! network is the machine's own, so the test connects to the installed server over loopback.
//! That needs root, which `make test` has in CI; elsewhere the test says so and fails.

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{temp_dir, DEADLINE};

/// What runs inside the throw-away root. `/control` is shared with the test: the package
/// comes in, progress and the `stop` signal go through it.
const INSIDE: &str = r#"
set -e
dpkg -i /control/postlab.deb > /control/dpkg-install.log 2>&1
postlab serve --help > /control/help.txt 2>&1
stat -c '%a %U' /var/lib/postlab > /control/datadir.txt
unit=/usr/lib/systemd/system/postlab.service
[ -f "$unit" ] || unit=/lib/systemd/system/postlab.service
user=$(sed -n 's/^User=//p' "$unit")
pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
start=$(sed -n 's/^ExecStart=//p' "$unit")
# As systemd would: the check first, then the server, as the unit's user. Ports of the
# system's choosing, so the test cannot clash with a server already running here.
runuser -u "$user" -- $pre > /control/check.txt 2>&1
runuser -u "$user" -- $start --ephemeral-ports > /control/serve.log 2>&1 &
server=$!
for i in $(seq 900); do [ -f /var/lib/postlab/run/listeners ] && break; sleep 0.1; done
cp /var/lib/postlab/run/listeners /control/listeners
for i in $(seq 600); do [ -f /control/stop ] && break; sleep 0.1; done
kill -TERM $server; wait $server || true
dpkg -r postlab > /control/dpkg-remove.log 2>&1
[ ! -e /usr/bin/postlab ] && echo removed > /control/removed
"#;

#[test]
fn the_debian_package_installs_starts_greets_and_removes() {
    let running_as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    assert!(
        running_as_root,
        "installing a package into a throw-away root needs root (as make test has in CI)"
    );
    let was_installed = Path::new("/var/lib/postlab").exists();
    let work = temp_dir("deb");
    let control = work.join("control");
    fs::create_dir_all(&control).unwrap();
    // The package around the binary this test run built (cargo deb's release build takes
    // minutes; `make deb` does that one).
    let built = Command::new("cargo")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["deb", "--profile", "dev", "--no-build", "--fast", "--quiet"])
        .arg("-o")
        .arg(&work)
        .output()
        .expect("cargo deb (tests/deps.sh installs cargo-deb)");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = fs::read_dir(&work)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb");
    fs::copy(&deb, control.join("postlab.deb")).unwrap();
    fs::write(control.join("inside.sh"), INSIDE).unwrap();

    for dir in ["upper", "work", "root"] {
        fs::create_dir_all(work.join(dir)).unwrap();
    }
    let w = work.display();
    let script = format!(
        "set -e\n\
         mount -t overlay overlay -o lowerdir=/,upperdir={w}/upper,workdir={w}/work {w}/root\n\
         mount --bind /proc {w}/root/proc\n\
         mount --bind /dev {w}/root/dev\n\
         mkdir -p {w}/root/control\n\
         mount --bind {w}/control {w}/root/control\n\
         chroot {w}/root sh /control/inside.sh\n"
    );
    let mut inside = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .stdin(Stdio::null())
        .spawn()
        .expect("unshare (util-linux)");
    // Whatever happens below, the throw-away root is told to stop.
    struct Stop<'a>(&'a Path);
    impl Drop for Stop<'_> {
        fn drop(&mut self) {
            let _ = fs::write(self.0.join("stop"), "");
        }
    }
    let stop = Stop(&control);

    // Installing and starting take a while on a busy machine: up to 90 s.
    let started = std::time::Instant::now();
    let listeners = loop {
        if let Ok(text) = fs::read_to_string(control.join("listeners")) {
            break text;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "the installed server never wrote its listeners: {}",
            fs::read_to_string(control.join("serve.log")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let help = fs::read_to_string(control.join("help.txt")).unwrap();
    assert!(help.contains("usage: postlab serve"), "{help}");
    assert_eq!(
        fs::read_to_string(control.join("datadir.txt")).unwrap(),
        "700 postlab\n",
        "/var/lib/postlab belongs to the postlab user alone"
    );
    let check = fs::read_to_string(control.join("check.txt")).unwrap();
    assert!(check.contains("not set up yet"), "{check}");
    let smtp: SocketAddr = listeners
        .lines()
        .find_map(|l| l.strip_prefix("smtp "))
        .expect("an smtp listener")
        .parse()
        .unwrap();
    let stream = TcpStream::connect(smtp).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut greeting = String::new();
    BufReader::new(stream).read_line(&mut greeting).unwrap();
    assert!(greeting.starts_with("220 "), "{greeting}");

    drop(stop);
    let status = inside.wait().unwrap();
    let log = |name: &str| fs::read_to_string(control.join(name)).unwrap_or_default();
    assert!(
        status.success(),
        "install: {}\nserve: {}\nremove: {}",
        log("dpkg-install.log"),
        log("serve.log"),
        log("dpkg-remove.log")
    );
    assert!(
        control.join("removed").exists(),
        "dpkg -r left /usr/bin/postlab: {}",
        log("dpkg-remove.log")
    );
    // Nothing of it reached this machine.
    assert_eq!(Path::new("/var/lib/postlab").exists(), was_installed);
    let _ = fs::remove_dir_all(&work);
}
