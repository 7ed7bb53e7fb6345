//! The administrator's commands: `postlab deliver | backup | restore | check | status | alias`,
//! and the account switches `postlab user disable | enable` (DESIGN.md's command line, grown for
//! running the server as a service).
//!
//! None of them needs the server to stop: each works on the data directory with the same
//! atomic-rename and Maildir rules the server follows, so a running server sees either the old
//! or the new state of a file, never half of one.
//!
//! Exit codes: 0 success, 1 failure, 2 a wrong argument, except `postlab deliver`, which speaks
//! the `sysexits.h` codes a mail transfer agent expects (see `deliver.rs`).

pub mod aliases;
pub mod backup;
pub mod check;
pub mod deliver;
pub mod restore;
pub mod status;

use getopts::Options;

/// Parses `args`; on `--help` prints the usage, on error prints it with the error, and gives
/// the exit code to return (`usage_code` for a wrong argument).
fn parse(
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

/// The options every admin command shares: `--data DIR` and `--help`.
fn options() -> Options {
    let mut opts = Options::new();
    opts.optopt(
        "",
        "data",
        "data directory (default $POSTLAB_DATA or ./var)",
        "DIR",
    );
    opts.optflag("h", "help", "this help");
    opts
}

fn fail(message: impl std::fmt::Display) -> i32 {
    eprintln!("postlab: {message}");
    1
}
