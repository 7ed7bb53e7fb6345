//! The house: no file in `src/` reaches back to a file that reaches it.
//!
//! Draw `src/` as a map where each file is a room and each path to another file (`use
//! crate::mta::queue::Queue`, `super::fetch::header_end`, `crate::daemon::write_status(..)`)
//! is an arrow. A student should be able to read a floor without the floors above it: the
//! protocols without the listener, `mta/` without the accept loop. That holds only while the
//! arrows never go round in a circle, so this test finds every circle (a strongly connected
//! group of two or more files) and names the arrows in it.
//!
//! It reads the source as text: `use` statements (with their `{…}` groups expanded) and any
//! `crate::…` or `super::…` path in code. Comments and string literals are skipped. A path is
//! resolved to the longest prefix that is a file (`crate::mta::queue::Queue` →
//! `src/mta/queue.rs`, `crate::mta::Job` → `src/mta/mod.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// One module file: its module path (`["mta", "queue"]`) and its code with comments and
/// strings blanked out.
struct Room {
    module: Vec<String>,
    code: String,
}

#[test]
fn no_circle_between_files_in_src() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rooms = read_rooms(&src);
    let known: BTreeSet<Vec<String>> = rooms.keys().cloned().collect();
    let mut arrows: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, room) in &rooms {
        let targets = arrows.entry(module.clone()).or_default();
        for path in paths_in(&room.code, &room.module) {
            if let Some(target) = resolve(&path, &known) {
                if &target != module && !is_ancestor(&target, module) {
                    targets.insert(target);
                }
            }
        }
    }
    let circles: Vec<Vec<Vec<String>>> = strongly_connected(&arrows)
        .into_iter()
        .filter(|group| group.len() > 1)
        .collect();
    let mut report = String::new();
    for group in &circles {
        report.push_str("circle:\n");
        for from in group {
            for to in &arrows[from] {
                if group.contains(to) {
                    report.push_str(&format!("  {} -> {}\n", file_of(from), file_of(to)));
                }
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files in src/ that reach back to each other:\n{report}"
    );
}

/// The test above must see a circle when there is one: `a` uses `b`, `b` uses `a`.
#[test]
fn the_house_check_sees_a_circle() {
    let known: BTreeSet<Vec<String>> = [vec!["a".to_string()], vec!["b".to_string()]].into();
    let a = strip("use crate::b::Thing; // crate::c\nfn f() { let s = \"crate::c\"; }");
    let b = strip("use crate::{a::{self, Other}, x};");
    let mut arrows = BTreeMap::new();
    for (name, code) in [("a", &a), ("b", &b)] {
        let module = vec![name.to_string()];
        let targets: BTreeSet<Vec<String>> = paths_in(code, &module)
            .iter()
            .filter_map(|p| resolve(p, &known))
            .filter(|t| t != &module)
            .collect();
        arrows.insert(module, targets);
    }
    assert_eq!(arrows[&vec!["a".to_string()]].len(), 1, "{arrows:?}");
    let groups = strongly_connected(&arrows);
    assert!(groups.iter().any(|g| g.len() == 2), "{groups:?}");
}

/// A module's parent (`mta` for `mta::queue`) declares it with `mod`; a child naming its
/// parent's items (`super::Thing`) is the usual shape of a module tree, not a circle.
fn is_ancestor(candidate: &[String], module: &[String]) -> bool {
    candidate.len() < module.len() && module.starts_with(candidate)
}

fn file_of(module: &[String]) -> String {
    if module.is_empty() {
        "src/lib.rs".into()
    } else {
        format!("src/{}", module.join("/"))
    }
}

fn read_rooms(src: &Path) -> BTreeMap<Vec<String>, Room> {
    let mut files = Vec::new();
    walk(src, &mut files);
    let mut rooms = BTreeMap::new();
    for file in files {
        let relative = file.strip_prefix(src).expect("under src");
        let mut module: Vec<String> = relative
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if module.last().is_some_and(|m| m == "mod" || m == "lib") {
            module.pop();
        }
        if module == ["main"] || module.first().is_some_and(|m| m == "bin") {
            // The binary is the top floor: it may use everything, nothing uses it.
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("readable source");
        rooms.insert(
            module.clone(),
            Room {
                module,
                code: strip(&text),
            },
        );
    }
    rooms
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("readable src/").flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The code with comments, string and character literals replaced by spaces.
fn strip(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                out.push(b' ');
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    out.extend_from_slice(b"  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(b' ');
                    i += 1;
                }
            }
        } else if rest.starts_with(b"r#\"") || rest.starts_with(b"r\"") {
            let hashes = rest[1..].iter().take_while(|&&b| b == b'#').count();
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            i += 2 + hashes;
            out.extend(std::iter::repeat_n(b' ', 2 + hashes));
            while i < bytes.len() && !bytes[i..].starts_with(&close) {
                out.push(b' ');
                i += 1;
            }
            i += close.len();
            out.extend(std::iter::repeat_n(b' ', close.len()));
        } else if bytes[i] == b'"' {
            out.push(b' ');
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' {
                    out.push(b' ');
                    i += 1;
                }
                out.push(b' ');
                i += 1;
            }
            out.push(b' ');
            i += 1;
        } else if bytes[i] == b'\'' && is_char_literal(rest) {
            let end = rest[1..]
                .iter()
                .position(|&b| b == b'\'')
                .map_or(1, |p| p + 2);
            out.extend(std::iter::repeat_n(b' ', end));
            i += end;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `'a'` or `'\n'`, not a lifetime such as `'static`.
fn is_char_literal(rest: &[u8]) -> bool {
    match rest.get(1) {
        Some(b'\\') => true,
        Some(_) => {
            // One character (possibly several UTF-8 bytes) and a closing quote.
            let after = &rest[1..];
            let len = std::str::from_utf8(&after[..after.len().min(4)])
                .ok()
                .or_else(|| std::str::from_utf8(&after[..1]).ok())
                .and_then(|s| s.chars().next())
                .map_or(1, char::len_utf8);
            rest.get(1 + len) == Some(&b'\'')
        }
        None => false,
    }
}

/// Every absolute module path the code names, from `use` statements and paths in code,
/// as segments starting at the crate root.
fn paths_in(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    // `use` statements, braces expanded.
    let mut rest = code;
    while let Some(at) = find_word(rest, "use") {
        let after = &rest[at + 3..];
        let Some(end) = after.find(';') else { break };
        let tree: String = after[..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        for path in expand(&tree) {
            if let Some(absolute) = absolute(&path, module) {
                paths.push(absolute);
            }
        }
        rest = &after[end..];
    }
    // Paths written in code: `crate::daemon::write_status(…)`, `super::fetch::x`, and paths
    // through a module brought in by `use` (`use crate::smtp;` … `smtp::server::serve(…)`).
    let imported: Vec<(String, Vec<String>)> = paths
        .iter()
        .filter_map(|p| Some((p.last()?.clone(), p.clone())))
        .collect();
    for (name, full) in imported {
        let start = format!("{name}::");
        let mut offset = 0;
        while let Some(at) = code[offset..].find(&start) {
            let begin = offset + at;
            offset = begin + start.len();
            let before = code[..begin].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let tail: String = code[offset..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let mut path = full.clone();
            path.extend(
                tail.split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            );
            paths.push(path);
        }
    }
    for start in ["crate::", "super::"] {
        let mut offset = 0;
        while let Some(at) = code[offset..].find(start) {
            let begin = offset + at;
            offset = begin + start.len();
            let before = code[..begin].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let path: String = code[begin..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            let segments: Vec<String> = path
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if let Some(absolute) = absolute(&segments, module) {
                paths.push(absolute);
            }
        }
    }
    paths
}

fn find_word(text: &str, word: &str) -> Option<usize> {
    let mut offset = 0;
    while let Some(at) = text[offset..].find(word) {
        let begin = offset + at;
        let before = text[..begin].chars().next_back();
        let after = text[begin + word.len()..].chars().next();
        let boundary = |c: Option<char>| c.is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        if boundary(before) && after.is_some_and(char::is_whitespace) {
            return Some(begin);
        }
        offset = begin + word.len();
    }
    None
}

/// `a::{b::{c,d},e}` → `[a,b,c]`, `[a,b,d]`, `[a,e]`.
fn expand(tree: &str) -> Vec<Vec<String>> {
    let Some(open) = tree.find('{') else {
        let segments: Vec<String> = tree
            .split("::")
            .filter(|s| !s.is_empty())
            .map(|s| s.split(" as ").next().unwrap_or(s).to_string())
            .collect();
        return vec![segments];
    };
    let prefix: Vec<String> = tree[..open]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    let mut out = Vec::new();
    for part in parts.into_iter().filter(|p| !p.is_empty()) {
        for tail in expand(part) {
            let tail: Vec<String> = tail.into_iter().filter(|s| s != "self").collect();
            out.push(prefix.iter().cloned().chain(tail).collect());
        }
    }
    out
}

/// A path from the crate root, or `None` for paths into other crates.
fn absolute(path: &[String], module: &[String]) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    match first.as_str() {
        "crate" => Some(rest.to_vec()),
        "super" | "self" => {
            let mut base = module.to_vec();
            let mut rest = path;
            while let Some((head, tail)) = rest.split_first() {
                match head.as_str() {
                    "super" => {
                        base.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = tail;
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        _ => None,
    }
}

/// The longest prefix of `path` that is a module file.
fn resolve(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|prefix| known.contains(prefix))
}

/// Tarjan's algorithm: the groups of files that all reach each other.
fn strongly_connected(
    arrows: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
) -> Vec<Vec<Vec<String>>> {
    struct Walk<'a> {
        arrows: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        groups: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(w: &mut Walk<'a>, node: &'a Vec<String>) {
        let n = w.index.len();
        w.index.insert(node, n);
        w.low.insert(node, n);
        w.stack.push(node);
        w.on_stack.insert(node);
        let arrows = w.arrows;
        for next in arrows.get(node).into_iter().flatten() {
            if !w.index.contains_key(next) {
                visit(w, next);
                let low = w.low[node].min(w.low[next]);
                w.low.insert(node, low);
            } else if w.on_stack.contains(next) {
                let low = w.low[node].min(w.index[next]);
                w.low.insert(node, low);
            }
        }
        if w.low[node] == w.index[node] {
            let mut group = Vec::new();
            while let Some(top) = w.stack.pop() {
                w.on_stack.remove(top);
                group.push(top.clone());
                if top == node {
                    break;
                }
            }
            w.groups.push(group);
        }
    }
    let mut w = Walk {
        arrows,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        groups: Vec::new(),
    };
    for node in arrows.keys() {
        if !w.index.contains_key(node) {
            visit(&mut w, node);
        }
    }
    w.groups
}
