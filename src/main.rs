//! The `postlab` command. Everything it does lives in the library; see `src/cli/`.

#![forbid(unsafe_code)]

use std::io::Write;

fn main() {
    // Everything postlab writes under the data directory holds other people's mail or
    // secrets: files 0600, folders 0700 (DESIGN.md), whatever the shell's umask.
    postlab::datadir::restrict_umask();
    init_logging();
    std::process::exit(postlab::cli::main(std::env::args().skip(1).collect()));
}

/// Transcript lines are printed as they are (they carry their own time and label); other log
/// records get a time and level. The default level shows transcripts; `RUST_LOG` changes it
/// (`RUST_LOG=warn` hides them, `RUST_LOG=transcript=off,info` too). Control characters in a
/// record (a peer's name or address quoted in a warning) are made visible, as in transcripts,
/// so no peer can write raw escape codes or forged lines into serve.log.
fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format(|out, record| {
            if record.target() == "transcript" {
                writeln!(out, "{}", escape(record.args()))
            } else {
                writeln!(
                    out,
                    "{} {:<5} {}",
                    postlab::clock::now().stamp(),
                    record.level(),
                    escape(record.args())
                )
            }
        })
        .init();
}

fn escape(args: &std::fmt::Arguments) -> String {
    postlab::transcript::escape_controls(&args.to_string()).into_owned()
}
