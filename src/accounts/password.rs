//! Password storage in Dovecot's `{SCHEME}hash` form.
//!
//! New passwords are hashed with Argon2id (the `{ARGON2ID}` scheme, a PHC string such as
//! `$argon2id$v=19$m=19456,t=2,p=1$salt$hash`), which Dovecot can read from the same file.
//! `{PLAIN}` is understood when an administrator asks for it explicitly (APOP needs the clear
//! password), never written by default.
//!
//! Verification takes the same time for an unknown user as for a wrong password: callers check
//! against [`dummy_hash`] when the user does not exist, so timing does not reveal who has an
//! account.
//!
//! Each Argon2 run takes 19 MiB (`m=19456`, the OWASP minimum the crate uses by default) for
//! the time it runs. Every protocol's logins come through here, before the client is anyone,
//! so the runs wait their turn at one gate ([`Gate`]): at most [`concurrent_checks`] at once
//! (the number of CPUs, at least 2), the others queued, each run in one of the gate's buffers,
//! made once and used again. Ninety-five strangers sending AUTH
//! PLAIN at once then cost at most `concurrent_checks × 19 MiB`, not 95 × 19 MiB; they only
//! wait longer, which the login throttle (`login.rs`) asks of them anyway.

use argon2::password_hash::{PasswordHash, PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Condvar, Mutex, OnceLock};

/// How many Argon2 runs may go on at once: the number of CPUs, at least 2. More would not
/// finish sooner (each run keeps a CPU busy), only take more memory.
pub fn concurrent_checks() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(2)
        .max(2)
}

/// The Argon2 working memory of the process: at most `limit` buffers, each made once and used
/// again by every check after it, so the memory stays put at `limit × 19 MiB` (memory freed
/// and allocated anew would be kept by the allocator's per-thread arenas, one copy each).
/// A check waits here until a buffer is free, in no promised order.
pub struct Gate {
    limit: usize,
    /// Buffers made so far, and those free now.
    state: Mutex<(usize, Vec<Vec<Block>>)>,
    freed: Condvar,
}

/// A buffer of the [`Gate`], given back when dropped.
pub struct Pass<'a> {
    gate: &'a Gate,
    blocks: Vec<Block>,
}

impl Gate {
    pub const fn new(limit: usize) -> Gate {
        Gate {
            limit,
            state: Mutex::new((0, Vec::new())),
            freed: Condvar::new(),
        }
    }

    /// Waits for a buffer.
    pub fn enter(&self) -> Pass<'_> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(blocks) = state.1.pop() {
                return Pass { gate: self, blocks };
            }
            if state.0 < self.limit {
                state.0 += 1;
                return Pass {
                    gate: self,
                    blocks: Vec::new(),
                };
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Pass<'_> {
    /// The buffer, at least `count` blocks long.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.len() < count {
            self.blocks.resize(count, Block::default());
        }
        &mut self.blocks[..count]
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1.push(std::mem::take(&mut self.blocks));
        self.gate.freed.notify_one();
    }
}

/// The one gate every Argon2 run of this process passes (see the module comment).
fn argon2_gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate::new(concurrent_checks()))
}

/// Runs Argon2 as the stored PHC string says (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`) in a
/// buffer of the gate, and compares the result with the stored hash in constant time.
fn verify_argon2(phc: &PasswordHash, password: &[u8]) -> bool {
    let (Some(expected), Some(salt)) = (&phc.hash, &phc.salt) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm) else {
        return false;
    };
    let version = match phc.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(phc) else {
        return false;
    };
    let mut salt_octets = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_octets) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let mut pass = argon2_gate().enter();
    if argon2
        .hash_password_into_with_memory(password, salt, &mut out, pass.blocks(blocks))
        .is_err()
    {
        return false;
    }
    same(&out, expected.as_bytes())
}

/// Equal, comparing every byte whatever the first difference, so the time says nothing.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Hashes `password` as `{ARGON2ID}$argon2id$…` with a fresh random salt.
pub fn hash(password: &str) -> Result<String, String> {
    let _pass = argon2_gate().enter();
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| format!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    let phc = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| format!("hashing failed: {e}"))?;
    Ok(format!("{{ARGON2ID}}{phc}"))
}

/// Checks `password` against a stored `{SCHEME}…` value. Unknown schemes never match.
pub fn verify(stored: &str, password: &str) -> bool {
    if let Some(plain) = stored.strip_prefix("{PLAIN}") {
        return same(plain.as_bytes(), password.as_bytes());
    }
    let phc = stored
        .strip_prefix("{ARGON2ID}")
        .or_else(|| stored.strip_prefix("{ARGON2I}"))
        .unwrap_or(stored);
    match PasswordHash::new(phc) {
        Ok(parsed) => verify_argon2(&parsed, password.as_bytes()),
        Err(_) => false,
    }
}

/// A valid hash of no one's password, to spend the same time on unknown users.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash(&generate()).unwrap_or_default())
}

/// A random password a person can type: 12 characters without look-alikes (no 0/O, 1/l/I).
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 12];
    // Without randomness there is no safe password to offer; the OS always has it on Linux.
    getrandom::fill(&mut bytes).expect("the operating system provides random bytes");
    bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let stored = hash("correct horse").unwrap();
        assert!(stored.starts_with("{ARGON2ID}$argon2id$"));
        assert!(verify(&stored, "correct horse"));
        assert!(!verify(&stored, "wrong"));
    }

    #[test]
    fn plain_scheme_and_garbage() {
        assert!(verify("{PLAIN}secret", "secret"));
        assert!(!verify("{PLAIN}secret", "secreT"));
        assert!(!verify("{CRYPT}xx", "xx"));
        assert!(!verify("", ""));
        // The dummy hash parses, so checking it costs a real Argon2 run.
        assert!(PasswordHash::new(dummy_hash().trim_start_matches("{ARGON2ID}")).is_ok());
        assert!(!verify(dummy_hash(), "anything"));
    }

    #[test]
    fn the_gate_lets_in_at_most_its_limit() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let gate = Gate::new(2);
        let (inside, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|scope| {
            for _ in 0..8 {
                scope.spawn(|| {
                    let _pass = gate.enter();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    inside.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        assert_eq!(most.load(Ordering::SeqCst), 2);
        // Two buffers were made, and are there to be used again.
        assert_eq!(gate.state.lock().unwrap().0, 2);
        assert!(concurrent_checks() >= 2);
    }

    #[test]
    fn generated_passwords_differ() {
        let (a, b) = (generate(), generate());
        assert_eq!(a.len(), 12);
        assert_ne!(a, b);
    }
}
