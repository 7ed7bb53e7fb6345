//! `postlab serve`: settings from defaults, file and flags, then the listeners.

use super::*;

// ---- postlab serve ---------------------------------------------------------------------------

pub(super) fn serve(args: &[String]) -> i32 {
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
