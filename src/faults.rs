//! Faults on purpose: `DIR/faults` makes the server misbehave so a class can watch what the
//! flowchart does then — retries, bounces, deferrals.
//!
//! ```text
//! # step     matches            what happens
//! rcpt       *@slow.lab2.test   451 4.7.1 try again later      (greylisting: the sender retries)
//! rcpt       nobody@lab2.test   550 5.1.1 no such user         (the sender gets a bounce)
//! data       *                  delay 30s                      (a slow server)
//! data       *@lab2.test        452 4.3.1 disk full            (refused after the content)
//! data       *@lab2.test        tamper                         (the body changed on the way)
//! dns        lab3.test          timeout                        (step 4 fails for now)
//! dns        lab3.test          nxdomain                       (step 4 fails for good)
//! connect    lab3.test          refuse                         (step 5 cannot connect)
//! ```
//!
//! `*` matches any run of characters; matching ignores case. `rcpt` and `data` act on this
//! server as a receiver (the address is a recipient); `dns` and `connect` act on its queue
//! manager as a sender (the pattern is the destination domain). Every fault that fires is
//! written to the transcript as `INJECTED FAULT (faults line N)`, so nobody mistakes it for a
//! real failure. No file, no faults. The file is read again when it changes, like the
//! accounts, so `postlab fault add` works on a running server.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where a rule acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Rcpt,
    Data,
    Dns,
    Connect,
}

/// What a rule does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Answer with this SMTP reply: code, enhanced code, text.
    Reply {
        code: u16,
        status: String,
        text: String,
    },
    /// Wait this long before answering.
    Delay(Duration),
    /// data: change the body as if on the way here, before DKIM is checked (lesson 15).
    Tamper,
    /// DNS: no answer in time (temporary).
    Timeout,
    /// DNS: the domain does not exist (permanent).
    NxDomain,
    /// connect: the connection is refused.
    Refuse,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// Line number in `DIR/faults`, for the transcript.
    pub line: usize,
    pub step: Step,
    pub pattern: String,
    pub action: Action,
}

impl Rule {
    /// How the transcript names this rule.
    pub fn label(&self) -> String {
        format!("INJECTED FAULT (faults line {})", self.line)
    }
}

/// All rules of `DIR/faults`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    pub rules: Vec<Rule>,
}

impl Faults {
    pub fn parse(text: &str) -> Result<Faults, String> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            rules
                .push(parse_rule(index + 1, line).map_err(|e| format!("line {}: {e}", index + 1))?);
        }
        Ok(Faults { rules })
    }

    fn first(&self, step: Step, subject: &str) -> Option<&Rule> {
        self.rules
            .iter()
            .find(|r| r.step == step && matches(&r.pattern, subject))
    }

    /// A rule for `RCPT TO:<address>`, if one matches.
    pub fn rcpt(&self, address: &str) -> Option<&Rule> {
        self.first(Step::Rcpt, address)
    }

    /// A rule for the end of DATA, matched against each recipient.
    pub fn data<'a>(&self, recipients: impl IntoIterator<Item = &'a str>) -> Option<&Rule> {
        recipients
            .into_iter()
            .find_map(|r| self.first(Step::Data, r))
    }

    pub fn dns(&self, domain: &str) -> Option<&Rule> {
        self.first(Step::Dns, domain)
    }

    pub fn connect(&self, domain: &str) -> Option<&Rule> {
        self.first(Step::Connect, domain)
    }
}

/// `STEP PATTERN ACTION…`
fn parse_rule(line: usize, text: &str) -> Result<Rule, String> {
    let mut words = text.split_whitespace();
    let (Some(step), Some(pattern)) = (words.next(), words.next()) else {
        return Err(
            "expected 'step pattern action', e.g. 'rcpt *@lab2.test 451 4.7.1 try later'".into(),
        );
    };
    let rest: Vec<&str> = words.collect();
    let step = match step.to_ascii_lowercase().as_str() {
        "rcpt" => Step::Rcpt,
        "data" => Step::Data,
        "dns" => Step::Dns,
        "connect" => Step::Connect,
        other => {
            return Err(format!(
                "unknown step '{other}' (rcpt, data, dns or connect)"
            ))
        }
    };
    let action = match (step, rest.as_slice()) {
        (Step::Rcpt | Step::Data, [code, status, text @ ..])
            if code.len() == 3 && code.parse::<u16>().is_ok_and(|c| (400..600).contains(&c)) =>
        {
            let class = &code[..1];
            if !status.starts_with(class) || status.split('.').count() != 3 {
                return Err(format!("the enhanced code {status} must start like the reply code {code} (e.g. {class}.7.1)"));
            }
            let text = if text.is_empty() {
                "injected fault".to_string()
            } else {
                text.join(" ")
            };
            Action::Reply {
                code: code.parse().unwrap_or(451),
                status: status.to_string(),
                text,
            }
        }
        (Step::Data, ["delay", time]) => Action::Delay(duration(time)?),
        (Step::Data, ["tamper"]) => Action::Tamper,
        (Step::Dns, ["timeout"]) => Action::Timeout,
        (Step::Dns, ["nxdomain"]) => Action::NxDomain,
        (Step::Connect, ["refuse"]) => Action::Refuse,
        _ => {
            return Err(match step {
                Step::Rcpt => "rcpt rules answer with a reply: CODE X.Y.Z TEXT (4xx or 5xx)".into(),
                Step::Data => {
                    "data rules answer with CODE X.Y.Z TEXT, or say 'delay 30s' or 'tamper'".into()
                }
                Step::Dns => "dns rules say 'timeout' or 'nxdomain'".into(),
                Step::Connect => "connect rules say 'refuse'".into(),
            })
        }
    };
    if pattern.chars().any(char::is_control) {
        return Err("control characters in the pattern".into());
    }
    Ok(Rule {
        line,
        step,
        pattern: pattern.to_ascii_lowercase(),
        action,
    })
}

/// `30s`, `2m`, `500ms`, or a bare number of seconds. At most ten minutes.
fn duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 30s"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        _ => return Err(format!("'{text}': use ms, s or m")),
    };
    if d > Duration::from_secs(600) {
        return Err("a delay of at most 10 minutes".into());
    }
    Ok(d)
}

/// Glob match with `*`, ignoring case.
pub fn matches(pattern: &str, subject: &str) -> bool {
    let subject = subject.to_ascii_lowercase();
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == subject;
    }
    let mut rest = subject.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}

/// `DIR/faults`, read again whenever it changes.
pub struct FaultFile {
    path: PathBuf,
    state: Mutex<(Option<SystemTime>, Arc<Faults>)>,
}

impl FaultFile {
    pub fn new(path: &Path) -> FaultFile {
        let file = FaultFile {
            path: path.to_path_buf(),
            state: Mutex::new((None, Arc::new(Faults::default()))),
        };
        let _ = file.current();
        file
    }

    /// The rules as the file says now. A broken file keeps the previous rules (logged).
    pub fn current(&self) -> Arc<Faults> {
        let stamp = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.0 != stamp {
            state.0 = stamp;
            let text = std::fs::read_to_string(&self.path).unwrap_or_default();
            match Faults::parse(&text) {
                Ok(faults) => {
                    if !faults.rules.is_empty() {
                        log::warn!(
                            "faults: {} rule(s) active from {}",
                            faults.rules.len(),
                            self.path.display()
                        );
                    }
                    state.1 = Arc::new(faults);
                }
                Err(e) => log::error!(
                    "faults: {}: {e}; keeping the previous rules",
                    self.path.display()
                ),
            }
        }
        state.1.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_rules() {
        let faults = Faults::parse(
            "# comment\nrcpt *@slow.lab2.test 451 4.7.1 try again later\nrcpt nobody@lab2.test 550 5.1.1\ndata * delay 30s\ndns lab3.test timeout\nconnect LAB3.test refuse\n",
        )
        .unwrap();
        assert_eq!(faults.rules.len(), 5);
        let rule = faults.rcpt("Bob@Slow.Lab2.Test").unwrap();
        assert_eq!(rule.line, 2);
        assert_eq!(
            rule.action,
            Action::Reply {
                code: 451,
                status: "4.7.1".into(),
                text: "try again later".into()
            }
        );
        assert_eq!(
            faults.rcpt("nobody@lab2.test").unwrap().action,
            Action::Reply {
                code: 550,
                status: "5.1.1".into(),
                text: "injected fault".into()
            }
        );
        assert!(faults.rcpt("bob@lab2.test").is_none());
        assert_eq!(
            faults.data(["x@y.test"]).unwrap().action,
            Action::Delay(Duration::from_secs(30))
        );
        assert_eq!(faults.dns("lab3.test").unwrap().action, Action::Timeout);
        assert!(faults.connect("lab3.test").is_some() && faults.connect("lab2.test").is_none());
    }

    #[test]
    fn refuses_bad_rules_with_the_line() {
        for (text, want) in [
            ("rcpt * 250 2.0.0 fine\n", "4xx or 5xx"),
            ("rcpt * 451 5.7.1 x\n", "must start like"),
            ("dns x.test slow\n", "timeout"),
            ("data * delay 2h\n", "ms, s or m"),
            ("teleport * now\n", "unknown step"),
            ("rcpt\n", "expected"),
        ] {
            let err = Faults::parse(text).unwrap_err();
            assert!(
                err.starts_with("line 1:") && err.contains(want),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn glob_matching() {
        assert!(matches("*@lab2.test", "bob@LAB2.test"));
        assert!(matches("*", "anything"));
        assert!(matches("b*b@*.test", "bob@x.test"));
        assert!(!matches("*@lab2.test", "bob@lab3.test"));
        assert!(!matches("bob", "bobby"));
    }
}
