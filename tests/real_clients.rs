//! Real mail programs in their normal configuration, run non-interactively against postlab:
//! msmtp, s-nail and mutt send (submission with STARTTLS and AUTH); fetchmail, getmail6 and mutt
//! read (POP3S and IMAPS); mbsync (isync) and offlineimap3 keep a local copy in sync across a
//! restart of the server. Each trusts only the server's own `cert.pem` and checks its name, as
//! a careful user would set it up, so a certificate that does not name `127.0.0.1` fails here.
//! `tests/deps.sh` installs them.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::{temp_dir, wait_for, Setup, TestServer};

/// Runs a client; panics with what it printed unless it succeeded. Returns stdout + stderr.
fn run(command: &mut Command) -> String {
    let output: Output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?} (tests/deps.sh installs it): {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    text
}

/// Runs a client that reads the message on its standard input; panics with what it printed
/// unless it succeeded.
fn run_with_input(command: &mut Command, input: &[u8]) {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{command:?} (tests/deps.sh installs it): {e}"));
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Writes a client's configuration file, readable by its owner only (msmtp and fetchmail
/// refuse a password file others can read).
fn config_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn cert(server: &TestServer) -> String {
    server.dir.join("tls/cert.pem").display().to_string()
}

/// Waits for a message whose content contains `text` in an account's `new/`.
fn wait_for_mail(server: &TestServer, account: &str, text: &str) -> String {
    wait_for(&format!("a message with {text:?} for {account}"), || {
        server
            .new_mail(account)
            .into_iter()
            .filter_map(|p| fs::read_to_string(p).ok())
            .find(|m| m.contains(text))
    })
}

#[test]
fn msmtp_submits_with_starttls_and_auth_checking_the_certificate() {
    let server = TestServer::start();
    let dir = temp_dir("msmtp");
    let rc = config_file(
        &dir,
        "msmtprc",
        &format!(
            "account default\nhost 127.0.0.1\nport {}\nfrom alice@localhost\nauth on\n\
             user alice\npassword alice-password\ntls on\ntls_starttls on\n\
             tls_trust_file {}\n",
            server.addr("submission").port(),
            cert(&server)
        ),
    );
    run_with_input(
        Command::new("msmtp")
            .arg("-C")
            .arg(&rc)
            .arg("bob@localhost"),
        b"Subject: via msmtp\n\nhello from msmtp\n",
    );
    let mail = wait_for_mail(&server, "bob", "hello from msmtp");
    assert!(mail.contains("with ESMTPSA"), "{mail}");
}

#[test]
fn s_nail_sends_with_starttls_and_auth() {
    let server = TestServer::start();
    let port = server.addr("submission").port();
    let mut command = Command::new("s-nail");
    command
        .args([
            "-n",
            "-Sv15-compat",
            "-Sttycharset=utf-8",
            "-Ssmtp-use-starttls",
        ])
        .arg(format!(
            "-Smta=smtp://alice:alice-password@127.0.0.1:{port}"
        ))
        .arg(format!("-Stls-ca-file={}", cert(&server)))
        .args(["-Stls-ca-no-defaults", "-Ssmtp-auth=plain"])
        .args(["-r", "alice@localhost", "-s", "via s-nail", "bob@localhost"]);
    run_with_input(&mut command, b"hello from s-nail\n");
    wait_for_mail(&server, "bob", "hello from s-nail");
}

/// Delivers one message to bob over SMTP, for the readers below.
fn deliver_to_bob(server: &TestServer, subject: &str) {
    let mut client = server.connect();
    client.expect("EHLO laptop", 250);
    let reply = client.send_mail(
        "alice@localhost",
        &["bob@localhost"],
        &format!("Subject: {subject}\r\n\r\nbody of {subject}\r\n"),
    );
    assert_eq!(reply.code, 250, "{reply:?}");
    wait_for_mail(server, "bob", &format!("body of {subject}"));
}

#[test]
fn fetchmail_downloads_over_pop3s_with_tls_1_3_only() {
    let server = TestServer::start();
    deliver_to_bob(&server, "for fetchmail");
    let dir = temp_dir("fetchmail");
    let out = dir.join("fetched");
    let rc = config_file(
        &dir,
        "fetchmailrc",
        &format!(
            "set no bouncemail\npoll 127.0.0.1 service {} protocol pop3\n  user \"bob\" \
             password \"bob-password\"\n  ssl sslcertck sslcertfile \"{}\" sslproto \"TLS1.3+\"\n  \
             keep\n  mda \"/bin/sh -c 'cat >> {}'\"\n",
            server.addr("pop3s").port(),
            cert(&server),
            out.display()
        ),
    );
    let text = run(Command::new("fetchmail")
        .arg("-f")
        .arg(&rc)
        .arg("--idfile")
        .arg(dir.join("fetchids"))
        .args(["--nosyslog", "-v"]));
    assert!(text.contains("using protocol TLSv1.3"), "{text}");
    let fetched = fs::read_to_string(&out).unwrap();
    assert!(fetched.contains("body of for fetchmail"), "{fetched}");
}

#[test]
fn getmail_retrieves_over_imaps_into_a_maildir() {
    let server = TestServer::start();
    deliver_to_bob(&server, "for getmail");
    let dir = temp_dir("getmail");
    let maildir = dir.join("Maildir");
    for sub in ["new", "cur", "tmp"] {
        fs::create_dir_all(maildir.join(sub)).unwrap();
    }
    // getmail will not deliver as root; it changes to `user` first, who must own the Maildir.
    let running_as_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0"));
    let user_line = if running_as_root {
        run(Command::new("chown").args(["-R", "nobody"]).arg(&dir));
        "user = nobody\n"
    } else {
        ""
    };
    let rc = config_file(
        &dir,
        "getmailrc",
        &format!(
            "[retriever]\ntype = SimpleIMAPSSLRetriever\nserver = 127.0.0.1\nport = {}\n\
             username = bob\npassword = bob-password\nca_certs = {}\nmailboxes = (\"INBOX\",)\n\n\
             [destination]\ntype = Maildir\npath = {}/\n{user_line}\n\
             [options]\nread_all = true\ndelete = false\n",
            server.addr("imaps").port(),
            cert(&server),
            maildir.display()
        ),
    );
    let text = run(Command::new("getmail")
        .arg(format!("--rcfile={}", rc.display()))
        .arg(format!("--getmaildir={}", dir.display())));
    assert!(text.contains("1 messages"), "{text}");
    let got: Vec<String> = fs::read_dir(maildir.join("new"))
        .unwrap()
        .flatten()
        .map(|e| fs::read_to_string(e.path()).unwrap())
        .collect();
    assert!(
        got.iter().any(|m| m.contains("body of for getmail")),
        "{got:?}"
    );
}

#[test]
fn mutt_sends_over_submission_and_reads_over_imaps_in_a_terminal() {
    let server = TestServer::start();
    let dir = temp_dir("mutt");
    let rc = config_file(
        &dir,
        "muttrc",
        &format!(
            "set from = \"alice@localhost\"\n\
             set smtp_url = \"smtp://alice@127.0.0.1:{}/\"\nset smtp_pass = \"alice-password\"\n\
             set ssl_starttls = yes\nset ssl_force_tls = yes\n\
             set ssl_ca_certificates_file = \"{}\"\n\
             set imap_user = \"bob\"\nset imap_pass = \"bob-password\"\n\
             set folder = \"imaps://127.0.0.1:{}/\"\nset spoolfile = \"+INBOX\"\n\
             set record = \"\"\nset move = no\nset header_cache = \"\"\n",
            server.addr("submission").port(),
            cert(&server),
            server.addr("imaps").port()
        ),
    );
    // Sending needs no terminal: mutt's batch mode.
    run_with_input(
        Command::new("mutt")
            .arg("-n")
            .arg("-F")
            .arg(&rc)
            .args(["-s", "via mutt", "bob@localhost"]),
        b"hello from mutt\n",
    );
    wait_for_mail(&server, "bob", "hello from mutt");
    // Reading is what a person does: mutt in a terminal (tmux), its index read off the screen.
    let session = format!("postlab-mutt-{}", std::process::id());
    run(Command::new("tmux")
        .args(["new-session", "-d", "-s", &session, "-x", "150", "-y", "40"])
        .arg(format!("mutt -n -F {}", rc.display())));
    let screen = wait_for("the subject on mutt's index", || {
        let output = Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &session])
            .output()
            .ok()?;
        let screen = String::from_utf8_lossy(&output.stdout).into_owned();
        screen.contains("via mutt").then_some(screen)
    });
    let _ = Command::new("tmux")
        .args(["kill-session", "-t", &session])
        .status();
    // One new message (`N`), from alice: mutt shows her own address as "To bob…".
    assert!(screen.contains(" N "), "{screen}");
}

/// The configuration of mbsync for bob's account on `server`, syncing into `local`.
fn mbsync_config(dir: &Path, server: &TestServer, local: &Path) -> PathBuf {
    config_file(
        dir,
        "mbsyncrc",
        &format!(
            "IMAPAccount postlab\nHost 127.0.0.1\nPort {}\nUser bob\nPass bob-password\n\
             SSLType IMAPS\nCertificateFile {}\n\n\
             IMAPStore far\nAccount postlab\n\n\
             MaildirStore near\nPath {}/\nInbox {}/INBOX\nSubFolders Verbatim\n\n\
             Channel sync\nFar :far:\nNear :near:\nPatterns *\nCreate Both\nExpunge Both\n\
             SyncState *\n",
            server.addr("imaps").port(),
            cert(server),
            local.display(),
            local.display()
        ),
    )
}

/// What mbsync says about a server ("far side") folder's UIDVALIDITY, if anything. (On the
/// first run it notes that its own new Maildirs have none yet: that is the near side.)
fn server_side_uidvalidity(output: &str) -> Option<&str> {
    output
        .lines()
        .find(|l| l.contains("UIDVALIDITY") && !l.starts_with("Maildir notice"))
}

#[test]
fn mbsync_syncs_both_ways_across_a_restart_with_no_uidvalidity_change() {
    let server = TestServer::start();
    deliver_to_bob(&server, "for mbsync");
    let dir = temp_dir("mbsync");
    let local = dir.join("mail");
    fs::create_dir_all(&local).unwrap();
    let rc = mbsync_config(&dir, &server, &local);
    let first = run(Command::new("mbsync").arg("-c").arg(&rc).arg("-a"));
    assert_eq!(server_side_uidvalidity(&first), None, "{first}");
    let inbox: Vec<PathBuf> = fs::read_dir(local.join("INBOX/new"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    // A message written on the near side travels to the server's Drafts.
    let drafts = local.join("Drafts");
    fs::write(
        drafts.join("new").join("1700000000.1.laptop"),
        "Subject: a draft\r\n\r\nwritten offline\r\n",
    )
    .unwrap();
    // The server restarts: nothing the client remembers may change (RFC 3501 §2.3.1.1).
    let data = server.kill();
    let server = TestServer::start_in(data, &Setup::default());
    let rc = mbsync_config(&dir, &server, &local);
    let second = run(Command::new("mbsync").arg("-c").arg(&rc).arg("-a"));
    assert_eq!(
        server_side_uidvalidity(&second),
        None,
        "mbsync saw a folder's UIDVALIDITY change:\n{second}"
    );
    let drafts_on_server = server.dir.join("mail/bob/.Drafts");
    let found = ["new", "cur"].iter().any(|sub| {
        fs::read_dir(drafts_on_server.join(sub))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| fs::read_to_string(e.path()).is_ok_and(|m| m.contains("written offline")))
    });
    assert!(found, "the draft reached the server");
    let third = run(Command::new("mbsync").arg("-c").arg(&rc).arg("-a"));
    assert_eq!(server_side_uidvalidity(&third), None, "{third}");
}

fn offlineimap_config(dir: &Path, server: &TestServer) -> PathBuf {
    config_file(
        dir,
        "offlineimaprc",
        &format!(
            "[general]\naccounts = main\nmetadata = {dir}/meta\n\n\
             [Account main]\nlocalrepository = local\nremoterepository = remote\n\n\
             [Repository local]\ntype = Maildir\nlocalfolders = {dir}/mail\n\n\
             [Repository remote]\ntype = IMAP\nremotehost = 127.0.0.1\nremoteport = {}\n\
             remoteuser = bob\nremotepass = bob-password\nssl = yes\nsslcacertfile = {}\n",
            server.addr("imaps").port(),
            cert(server),
            dir = dir.display()
        ),
    )
}

/// The UIDVALIDITY offlineimap remembers for each folder.
fn remembered_validity(dir: &Path) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> =
        fs::read_dir(dir.join("meta/Repository-remote/FolderValidity"))
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    fs::read_to_string(e.path()).unwrap().trim().to_string(),
                )
            })
            .collect();
    found.sort();
    found
}

#[test]
fn offlineimap_syncs_across_a_restart_with_no_uidvalidity_problem() {
    let server = TestServer::start();
    deliver_to_bob(&server, "for offlineimap");
    let dir = temp_dir("offlineimap");
    let rc = offlineimap_config(&dir, &server);
    let offlineimap = |rc: &Path| {
        run(Command::new("offlineimap")
            .arg("-c")
            .arg(rc)
            .args(["-o", "-u", "basic"]))
    };
    let first = offlineimap(&rc);
    assert!(first.contains("Copy message UID 1"), "{first}");
    let before = remembered_validity(&dir);
    assert!(
        before.len() >= 5,
        "INBOX and the special folders: {before:?}"
    );
    let data = server.kill();
    let server = TestServer::start_in(data, &Setup::default());
    let rc = offlineimap_config(&dir, &server);
    let second = offlineimap(&rc);
    assert!(
        !second.to_ascii_lowercase().contains("uid validity")
            && !second.to_ascii_lowercase().contains("uidvalidity"),
        "{second}"
    );
    assert!(!second.contains("ERROR"), "{second}");
    assert_eq!(before, remembered_validity(&dir), "UIDVALIDITY kept");
}
