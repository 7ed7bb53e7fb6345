//! THREAD (RFC 5256 §3): the matches of a search as conversations, by one of two algorithms.
//!
//! ```text
//! C: a1 THREAD REFERENCES UTF-8 ALL
//! S: * THREAD (2)(3 6 (4 23)(44 7 96))
//! S: a1 OK THREAD completed
//! ```
//!
//! Each parenthesised list is a thread; numbers side by side are parent and child, and where
//! a message has several replies the list splits into sub-lists, one per reply. `((3)(5))`
//! is two siblings whose parent is missing.
//!
//! - ORDEREDSUBJECT ("poor man's threading"): one thread per base subject, the first message
//!   (by sent date) at its head, every other one its child.
//! - REFERENCES: parents from the Message-ID / References / In-Reply-To fields (step 1), dummy
//!   parents for messages that are referred to but not here (pruned in step 3), and threads
//!   with the same base subject merged (step 5). [`references`] follows the RFC's six steps,
//!   numbered as the RFC numbers them.
//!
//! A peer writes the References fields, so a thread can be 10,000 levels deep: nothing here
//! recurses. Trees are a table of nodes with parent and child indexes, walked with explicit
//! stacks, and the answer is written by a loop too.

use std::collections::HashMap;

use super::sort::Facts;

/// One message to thread: its number in the answer, its mailbox position (ties) and facts.
pub struct Item<'a> {
    pub number: u32,
    pub seq: u32,
    pub facts: &'a Facts,
}

/// `thread-alg = "ORDEREDSUBJECT" / "REFERENCES"`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    OrderedSubject,
    References,
}

/// A thread tree: node 0 is the root; a node without a message is a dummy.
struct Tree {
    nodes: Vec<Node>,
    /// Steps left for loop checks in this command ([`Tree::would_loop`]).
    budget: u64,
}

/// Steps of the walks that check for loops, in one THREAD. Each walk goes up one path of the
/// tree, so a folder crafted with a very deep thread and many messages that re-attach under
/// it could cost depth × messages; past this many steps (well under a second) a link that
/// needs a walk is not made, as if it closed a loop. Real folders stay far below it.
const LOOP_CHECK_BUDGET: u64 = 50_000_000;

#[derive(Clone, Default)]
struct Node {
    parent: Option<usize>,
    children: Vec<usize>,
    /// Index into the items; `None` for a dummy.
    item: Option<usize>,
}

const ROOT: usize = 0;

impl Tree {
    fn new() -> Tree {
        Tree {
            nodes: vec![Node::default()],
            budget: LOOP_CHECK_BUDGET,
        }
    }

    fn add(&mut self, item: Option<usize>) -> usize {
        self.nodes.push(Node {
            item,
            ..Node::default()
        });
        self.nodes.len() - 1
    }

    fn unlink(&mut self, child: usize) {
        if let Some(parent) = self.nodes[child].parent.take() {
            let siblings = &mut self.nodes[parent].children;
            if let Some(at) = siblings.iter().position(|&c| c == child) {
                siblings.remove(at);
            }
        }
    }

    fn link(&mut self, parent: usize, child: usize) {
        self.unlink(child);
        self.nodes[child].parent = Some(parent);
        self.nodes[parent].children.push(child);
    }

    /// Would making `parent` the parent of `child` close a loop, that is, is `parent`
    /// `child` itself or below it? A node with no children has nothing below it, which
    /// answers the common case (a new message) without a walk.
    fn would_loop(&mut self, parent: usize, child: usize) -> bool {
        if parent == child {
            return true;
        }
        if self.nodes[child].children.is_empty() {
            return false;
        }
        let mut up = self.nodes[parent].parent;
        while let Some(node) = up {
            if node == child || self.budget == 0 {
                return true;
            }
            self.budget -= 1;
            up = self.nodes[node].parent;
        }
        false
    }
}

/// The THREAD response's text (after `* `) for `items`, given in mailbox order.
pub fn thread(algorithm: Algorithm, items: &[Item]) -> String {
    let tree = match algorithm {
        Algorithm::OrderedSubject => ordered_subject(items),
        Algorithm::References => references(items),
    };
    render(&tree, items)
}

/// The sort key of a message: sent date, then mailbox order (RFC 5256 §2.2).
fn key(items: &[Item], item: usize) -> (i64, u32) {
    (items[item].facts.sent, items[item].seq)
}

/// The key a node is sorted by: its message's, or for a dummy its earliest child's (RFC
/// 5256 step 4: "sort its children by sent date and then use the first child").
fn representative_key(tree: &Tree, items: &[Item], node: usize) -> (i64, u32) {
    // A dummy's children are messages (step 3 leaves dummies only at the top, step 5 gives
    // them message children), so this looks one level down at most.
    match tree.nodes[node].item {
        Some(item) => key(items, item),
        None => tree.nodes[node]
            .children
            .iter()
            .filter_map(|&c| tree.nodes[c].item)
            .map(|item| key(items, item))
            .min()
            .unwrap_or((i64::MAX, u32::MAX)),
    }
}

fn sort_children(tree: &mut Tree, items: &[Item], node: usize) {
    let mut children = std::mem::take(&mut tree.nodes[node].children);
    children.sort_by_cached_key(|&c| representative_key(tree, items, c));
    tree.nodes[node].children = children;
}

/// ORDEREDSUBJECT: sort by (base subject, sent date); one thread per subject, its first
/// message the parent of all the others; threads ordered by their first message's date.
fn ordered_subject(items: &[Item]) -> Tree {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by(|&a, &b| {
        (items[a].facts.subject.as_str(), key(items, a))
            .cmp(&(items[b].facts.subject.as_str(), key(items, b)))
    });
    let mut tree = Tree::new();
    let mut head: Option<(usize, &str)> = None;
    for i in order {
        let node = tree.add(Some(i));
        match head {
            Some((parent, subject)) if subject == items[i].facts.subject => tree.link(parent, node),
            _ => {
                tree.link(ROOT, node);
                head = Some((node, &items[i].facts.subject));
            }
        }
    }
    sort_children(&mut tree, items, ROOT);
    tree
}

/// REFERENCES, RFC 5256 §3's six steps.
fn references(items: &[Item]) -> Tree {
    let mut tree = Tree::new();
    let mut by_id: HashMap<u64, usize> = HashMap::new();
    let mut node_of =
        |tree: &mut Tree, id: u64| -> usize { *by_id.entry(id).or_insert_with(|| tree.add(None)) };
    // (1) For each message, in mailbox order:
    for (i, item) in items.iter().enumerate() {
        // Its own node: the dummy made for its ID if one was referred to before, a new one
        // if its ID is missing or a lower-numbered message already has it.
        let own = match item.facts.message_id {
            Some(id) => {
                let node = node_of(&mut tree, id);
                if tree.nodes[node].item.is_none() {
                    tree.nodes[node].item = Some(i);
                    node
                } else {
                    tree.add(Some(i))
                }
            }
            None => tree.add(Some(i)),
        };
        // (1A) Link the references in a chain, each the parent of the next, never replacing
        // a parent already set and never closing a loop.
        let refs: Vec<usize> = item
            .facts
            .references
            .iter()
            .map(|&id| node_of(&mut tree, id))
            .collect();
        for pair in refs.windows(2) {
            let (parent, child) = (pair[0], pair[1]);
            if tree.nodes[child].parent.is_none() && !tree.would_loop(parent, child) {
                tree.link(parent, child);
            }
        }
        // (1B) The last reference is the message's parent, replacing any parent it had (that
        // came from a truncated References field); no references: no parent.
        tree.unlink(own);
        if let Some(&last) = refs.last() {
            if !tree.would_loop(last, own) {
                tree.link(last, own);
            }
        }
    }
    // (2) The messages without a parent are the root's children.
    for node in 1..tree.nodes.len() {
        if tree.nodes[node].parent.is_none() {
            tree.link(ROOT, node);
        }
    }
    // (3) Prune the dummies.
    prune(&mut tree);
    // (4) Sort the root's children by sent date; a dummy's children first, as step 5 reads
    // a dummy's subject from its first child.
    for node in tree.nodes[ROOT].children.clone() {
        if tree.nodes[node].item.is_none() {
            sort_children(&mut tree, items, node);
        }
    }
    sort_children(&mut tree, items, ROOT);
    // (5) Gather threads under the root with the same base subject.
    merge_subjects(&mut tree, items);
    // (6) Sort every set of siblings by sent date.
    for node in 0..tree.nodes.len() {
        if tree.nodes[node].children.len() > 1 {
            sort_children(&mut tree, items, node);
        }
    }
    tree
}

/// Step 3: a dummy with no children goes; one with children goes and its children take its
/// place among its siblings, except that several children are not promoted to the top level
/// (there the dummy stays, to keep them one thread). Promoted children are looked at in turn,
/// as they may be dummies too.
fn prune(tree: &mut Tree) {
    let mut work = vec![ROOT];
    while let Some(node) = work.pop() {
        let mut pending: Vec<usize> = std::mem::take(&mut tree.nodes[node].children);
        pending.reverse();
        let mut kept = Vec::new();
        while let Some(child) = pending.pop() {
            if tree.nodes[child].item.is_none() {
                let grandchildren = &tree.nodes[child].children;
                if grandchildren.is_empty() {
                    tree.nodes[child].parent = None;
                    continue;
                }
                if node != ROOT || grandchildren.len() == 1 {
                    let promoted = std::mem::take(&mut tree.nodes[child].children);
                    tree.nodes[child].parent = None;
                    pending.extend(promoted.into_iter().rev());
                    continue;
                }
            }
            kept.push(child);
        }
        for &child in &kept {
            tree.nodes[child].parent = Some(node);
            work.push(child);
        }
        tree.nodes[node].children = kept;
    }
}

/// Step 5: one thread per base subject at the top level, preferring a dummy, then a message
/// that is not a reply, as the one the others join.
fn merge_subjects(tree: &mut Tree, items: &[Item]) {
    let thread_subject = |tree: &Tree, node: usize| -> Option<usize> {
        let item = match tree.nodes[node].item {
            Some(item) => item,
            None => tree.nodes[node]
                .children
                .first()
                .and_then(|&c| tree.nodes[c].item)?,
        };
        (!items[item].facts.subject.is_empty()).then_some(item)
    };
    let is_dummy = |tree: &Tree, node: usize| tree.nodes[node].item.is_none();
    let is_reply = |tree: &Tree, node: usize| {
        tree.nodes[node]
            .item
            .is_some_and(|item| items[item].facts.reply)
    };
    // (5B) The subject table.
    let mut table: HashMap<&str, usize> = HashMap::new();
    let heads = tree.nodes[ROOT].children.clone();
    for &node in &heads {
        let Some(item) = thread_subject(tree, node) else {
            continue;
        };
        let subject = items[item].facts.subject.as_str();
        match table.get(subject) {
            None => {
                table.insert(subject, node);
            }
            Some(&there) => {
                if !is_dummy(tree, there)
                    && (is_dummy(tree, node) || (is_reply(tree, there) && !is_reply(tree, node)))
                {
                    table.insert(subject, node);
                }
            }
        }
    }
    // (5C) Merge each thread into the one in the table.
    for &node in &heads {
        // Merged into another thread already, earlier in this loop.
        if tree.nodes[node].parent != Some(ROOT) {
            continue;
        }
        let Some(item) = thread_subject(tree, node) else {
            continue;
        };
        let subject = items[item].facts.subject.as_str();
        let Some(&there) = table.get(subject) else {
            continue;
        };
        if there == node {
            continue;
        }
        if is_dummy(tree, there) && is_dummy(tree, node) {
            for child in std::mem::take(&mut tree.nodes[node].children) {
                tree.nodes[child].parent = None;
                tree.link(there, child);
            }
            tree.unlink(node);
        } else if is_dummy(tree, there) || (is_reply(tree, node) && !is_reply(tree, there)) {
            tree.link(there, node);
        } else {
            let dummy = tree.add(None);
            tree.link(ROOT, dummy);
            tree.link(dummy, there);
            tree.link(dummy, node);
            table.insert(subject, dummy);
        }
    }
}

/// `thread-data = "THREAD" [SP 1*thread-list]`; `thread-list = "(" (thread-members /
/// thread-nested) ")"`; `thread-members = nz-number *(SP nz-number) [SP thread-nested]`;
/// `thread-nested = 2*thread-list`. A chain of single replies is one run of numbers; the
/// list nests only where a message has several replies.
fn render(tree: &Tree, items: &[Item]) -> String {
    enum Step {
        Open,
        Close,
        Node(usize),
    }
    let mut out = String::from("THREAD");
    let mut stack: Vec<Step> = Vec::new();
    let push_lists = |stack: &mut Vec<Step>, children: &[usize]| {
        for &child in children.iter().rev() {
            stack.extend([Step::Close, Step::Node(child), Step::Open]);
        }
    };
    push_lists(&mut stack, &tree.nodes[ROOT].children);
    if !stack.is_empty() {
        out.push(' ');
    }
    // Was the last thing written in the current list a number (so a space comes next)?
    let mut after_number = false;
    while let Some(step) = stack.pop() {
        match step {
            Step::Open => {
                out.push('(');
                after_number = false;
            }
            Step::Close => {
                out.push(')');
                after_number = false;
            }
            Step::Node(node) => {
                if let Some(item) = tree.nodes[node].item {
                    if after_number {
                        out.push(' ');
                    }
                    out.push_str(&items[item].number.to_string());
                    after_number = true;
                }
                match tree.nodes[node].children.as_slice() {
                    [] => {}
                    [only] => stack.push(Step::Node(*only)),
                    several => {
                        if after_number {
                            out.push(' ');
                        }
                        push_lists(&mut stack, several);
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::sort::IdHasher;
    use super::*;

    /// A message: its Message-ID, In-Reply-To/References, subject and date (a day number).
    fn message(id: &str, refs: &str, subject: &str, day: u32) -> Vec<u8> {
        let mut m = format!("Subject: {subject}\r\nDate: {day:02} Mar 2000 10:00:00 +0000\r\n");
        if !id.is_empty() {
            m.push_str(&format!("Message-ID: <{id}@x>\r\n"));
        }
        if !refs.is_empty() {
            let refs: Vec<String> = refs.split(' ').map(|r| format!("<{r}@x>")).collect();
            m.push_str(&format!("References: {}\r\n", refs.join(" ")));
        }
        m.push_str("\r\nbody\r\n");
        m.into_bytes()
    }

    fn run(algorithm: Algorithm, messages: &[Vec<u8>]) -> String {
        let ids = IdHasher::default();
        let facts: Vec<Facts> = messages.iter().map(|m| Facts::read(m, 0, &ids)).collect();
        let items: Vec<Item> = facts
            .iter()
            .enumerate()
            .map(|(i, f)| Item {
                number: i as u32 + 1,
                seq: i as u32 + 1,
                facts: f,
            })
            .collect();
        thread(algorithm, &items)
    }

    #[test]
    fn ordered_subject_threads_by_base_subject() {
        let messages = [
            message("a", "", "lunch", 1),
            message("b", "", "Re: lunch", 3),
            message("c", "", "other", 2),
            message("d", "", "RE: Lunch", 2),
            message("e", "", "solo", 4),
        ];
        assert_eq!(
            run(Algorithm::OrderedSubject, &messages),
            "THREAD (1 (4)(2))(3)(5)"
        );
        assert_eq!(
            run(Algorithm::OrderedSubject, &messages[..2]),
            "THREAD (1 2)"
        );
        assert_eq!(run(Algorithm::OrderedSubject, &[]), "THREAD");
    }

    /// RFC 5256 §4's example, `(2)(3 6 (4 23)(44 7 96))`, rebuilt from References fields.
    #[test]
    fn the_rfc_example_tree() {
        // In mailbox order 2, 3, 4, 6, 7, 23, 44, 96 (numbered 1…8 here).
        let messages = [
            message("m2", "", "two", 1),
            message("m3", "", "three", 2),
            message("m4", "m3 m6", "three", 4),
            message("m6", "m3", "three", 3),
            message("m7", "m3 m6 m44", "three", 7),
            message("m23", "m3 m6 m4", "three", 5),
            message("m44", "m3 m6", "three", 6),
            message("m96", "m3 m6 m44 m7", "three", 8),
        ];
        let numbers = ["2", "3", "4", "6", "7", "23", "44", "96"];
        let got = run(Algorithm::References, &messages);
        let renamed = got
            .split_inclusive(|c: char| !c.is_ascii_digit())
            .map(|piece| {
                let digits: String = piece.chars().filter(char::is_ascii_digit).collect();
                let rest: String = piece.chars().filter(|c| !c.is_ascii_digit()).collect();
                match digits.parse::<usize>() {
                    Ok(n) => format!("{}{rest}", numbers[n - 1]),
                    Err(_) => rest,
                }
            })
            .collect::<String>();
        assert_eq!(renamed, "THREAD (2)(3 6 (4 23)(44 7 96))");
    }

    #[test]
    fn dummies_are_pruned_and_subjects_merged() {
        // Two replies to a message that is not here: siblings under a kept dummy.
        let siblings = [
            message("x", "gone", "Re: party", 1),
            message("y", "gone", "Re: party", 2),
        ];
        assert_eq!(run(Algorithm::References, &siblings), "THREAD ((1)(2))");
        // One reply to a missing message: promoted to the top.
        assert_eq!(run(Algorithm::References, &siblings[..1]), "THREAD (1)");
        // Step 5: no references, but the same base subject; the reply joins the original.
        let by_subject = [
            message("p", "", "plans", 1),
            message("q", "", "Re: plans", 2),
            message("r", "", "plans", 3),
        ];
        assert_eq!(run(Algorithm::References, &by_subject), "THREAD ((1 2)(3))");
        // A duplicate Message-ID counts only for the first message.
        let dup = [
            message("d", "", "one", 1),
            message("d", "", "two", 2),
            message("e", "d", "three", 3),
        ];
        assert_eq!(run(Algorithm::References, &dup), "THREAD (1 3)(2)");
        // A loop written into the fields is not followed.
        let looped = [message("a", "b", "s1", 1), message("b", "a", "s2", 2)];
        assert_eq!(run(Algorithm::References, &looped), "THREAD (2 1)");
    }

    /// Random folders (a small xorshift generator, fixed seed) of messages whose IDs,
    /// references and subjects collide at random: every message is in each answer once.
    #[test]
    fn every_message_is_answered_once() {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..300 {
            let count = 1 + next(12) as usize;
            let messages: Vec<Vec<u8>> = (0..count)
                .map(|_| {
                    let id = format!("i{}", next(8));
                    let refs: Vec<String> = (0..next(5)).map(|_| format!("i{}", next(8))).collect();
                    let subject = ["a", "Re: a", "b", "", "Fwd: b"][next(5) as usize];
                    message(&id, &refs.join(" "), subject, 1 + next(3) as u32)
                })
                .collect();
            for algorithm in [Algorithm::OrderedSubject, Algorithm::References] {
                let answer = run(algorithm, &messages);
                let mut numbers: Vec<usize> = answer
                    .split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse().ok())
                    .collect();
                numbers.sort_unstable();
                assert_eq!(numbers, (1..=count).collect::<Vec<_>>(), "{answer}");
                assert_eq!(answer.matches('(').count(), answer.matches(')').count());
            }
        }
    }

    /// A 10,000-deep chain and one field of 100,000 IDs: no recursion, an answer in the RFC's
    /// form (a chain is one flat list).
    #[test]
    fn deep_threads_do_not_recurse() {
        let mut chain = Vec::new();
        for i in 0..10_000 {
            let refs = if i == 0 {
                String::new()
            } else {
                format!("c{}", i - 1)
            };
            chain.push(message(&format!("c{i}"), &refs, "chain", 1));
        }
        let got = run(Algorithm::References, &chain);
        let want: Vec<String> = (1..=10_000).map(|n| n.to_string()).collect();
        assert_eq!(got, format!("THREAD ({})", want.join(" ")));
        let many: Vec<String> = (0..100_000).map(|i| format!("r{i}")).collect();
        let long = [message("z", &many.join(" "), "long", 1)];
        assert_eq!(run(Algorithm::References, &long), "THREAD (1)");
    }
}
