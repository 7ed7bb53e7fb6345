//! A list that is cheap to copy and then change in one place: the shape of a folder's shared
//! listing (`uids::Listing`).
//!
//! Every session reads the listing while one of them changes a message's flags. The change
//! goes to a copy, so that the readers keep a listing that does not move under them. A plain
//! `Vec` of 10,000 messages copies 10,000 elements for every change; here the elements live
//! in chunks of `CHUNK` behind shared pointers, so a copy copies the pointers to the chunks
//! (40 of them for 10,000 messages), and a change copies the one chunk it touches.

use std::sync::Arc;

/// Elements per chunk when a list is made; removals may leave chunks smaller.
const CHUNK: usize = 256;

/// An ordered list in shared chunks. Cloning shares every chunk.
#[derive(Debug)]
pub struct Chunked<T> {
    chunks: Vec<Arc<Vec<T>>>,
    /// The index of the first element of each chunk, for finding element `i`.
    starts: Vec<usize>,
    len: usize,
}

impl<T> Clone for Chunked<T> {
    fn clone(&self) -> Self {
        Chunked {
            chunks: self.chunks.clone(),
            starts: self.starts.clone(),
            len: self.len,
        }
    }
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            starts: Vec::new(),
            len: 0,
        }
    }
}

impl<T: Clone> Chunked<T> {
    pub fn from_vec(items: Vec<T>) -> Chunked<T> {
        let len = items.len();
        let mut chunks = Vec::with_capacity(len.div_ceil(CHUNK));
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            chunks.push(Arc::new(items.by_ref().take(CHUNK).collect()));
        }
        let mut list = Chunked {
            chunks,
            starts: Vec::new(),
            len,
        };
        list.recount();
        list
    }

    fn recount(&mut self) {
        self.starts.clear();
        let mut at = 0;
        for chunk in &self.chunks {
            self.starts.push(at);
            at += chunk.len();
        }
        self.len = at;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The chunk holding element `i`, and where in it.
    fn locate(&self, i: usize) -> Option<(usize, usize)> {
        if i >= self.len {
            return None;
        }
        let chunk = self.starts.partition_point(|&start| start <= i) - 1;
        Some((chunk, i - self.starts[chunk]))
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        let (chunk, at) = self.locate(i)?;
        self.chunks[chunk].get(at)
    }

    /// Element `i` to change: its chunk is copied first if a clone of the list shares it.
    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        let (chunk, at) = self.locate(i)?;
        Arc::make_mut(&mut self.chunks[chunk]).get_mut(at)
    }

    pub fn remove(&mut self, i: usize) -> Option<T> {
        let (chunk, at) = self.locate(i)?;
        let removed = Arc::make_mut(&mut self.chunks[chunk]).remove(at);
        if self.chunks[chunk].is_empty() {
            self.chunks.remove(chunk);
        }
        self.recount();
        Some(removed)
    }

    /// Adds `item` at the end (to the last chunk, copied first if shared, while it has room).
    pub fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(last) if last.len() < CHUNK => Arc::make_mut(last).push(item),
            _ => {
                self.starts.push(self.len);
                self.chunks.push(Arc::new(vec![item]));
            }
        }
        self.len += 1;
    }

    /// The elements from index `from` on, in order.
    pub fn iter_from(&self, from: usize) -> impl Iterator<Item = &T> {
        let (chunk, at) = self.locate(from).unwrap_or((self.chunks.len(), 0));
        self.chunks
            .iter()
            .skip(chunk)
            .enumerate()
            .flat_map(move |(n, c)| c[if n == 0 { at } else { 0 }..].iter())
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flat_map(|c| c.iter())
    }

    /// The index of the first element for which `before` is false, when it is true for a
    /// prefix of the list and false for the rest (as `slice::partition_point`).
    pub fn partition_point(&self, before: impl Fn(&T) -> bool) -> usize {
        let chunk = self
            .chunks
            .partition_point(|c| c.last().is_some_and(&before));
        match self.chunks.get(chunk) {
            Some(c) => self.starts[chunk] + c.partition_point(&before),
            None => self.len,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_shares_its_chunks_until_one_of_them_changes() {
        let original = Chunked::from_vec((0..1000u32).collect());
        let mut copy = original.clone();
        *copy.get_mut(700).unwrap() = 7000;
        assert_eq!(copy.remove(3), Some(3));
        assert_eq!(original.get(700), Some(&700));
        assert_eq!(original.get(3), Some(&3));
        assert_eq!(copy.get(699), Some(&7000));
        let shared = (0..copy.chunks.len())
            .filter(|&i| Arc::ptr_eq(&copy.chunks[i], &original.chunks[i]))
            .count();
        assert_eq!(shared, 2, "two of four chunks changed");
        assert_eq!(copy.len(), 999);
        let model: Vec<u32> = (0..1000)
            .filter(|&n| n != 3)
            .map(|n| if n == 700 { 7000 } else { n })
            .collect();
        assert_eq!(copy.iter().copied().collect::<Vec<_>>(), model);
        assert_eq!(
            copy.iter_from(500).copied().collect::<Vec<_>>(),
            model[500..]
        );
        assert_eq!(copy.iter_from(999).count(), 0);
        // Pushed at the end: into the last chunk while it has room, then a new one.
        let mut grown = Chunked::from_vec((0..255u32).collect());
        let before = grown.clone();
        grown.push(255);
        grown.push(256);
        assert_eq!(
            (grown.len(), grown.chunks.len(), before.len()),
            (257, 2, 255)
        );
        assert_eq!(
            grown.iter().copied().collect::<Vec<_>>(),
            (0..257).collect::<Vec<_>>()
        );
        assert_eq!(
            (grown.get(256), grown.partition_point(|&n| n < 256)),
            (Some(&256), 256)
        );
    }

    #[test]
    fn positions_agree_with_a_plain_vector_after_many_removals() {
        let mut list = Chunked::from_vec((0..2000u32).map(|n| n * 2).collect());
        let mut model: Vec<u32> = (0..2000).map(|n| n * 2).collect();
        // Remove every element of the second chunk and scattered others.
        for i in (0..model.len())
            .rev()
            .filter(|i| (256..512).contains(i) || i % 7 == 0)
        {
            assert_eq!(list.remove(i), Some(model.remove(i)));
        }
        assert_eq!(list.len(), model.len());
        for probe in [0, 1, 511, 512, 1000, 2500, 3998, 3999, 5000] {
            let want = model.partition_point(|&n| n < probe);
            assert_eq!(list.partition_point(|&n| n < probe), want, "{probe}");
        }
        for (i, n) in model.iter().enumerate() {
            assert_eq!(list.get(i), Some(n));
        }
        assert_eq!(list.get(model.len()), None);
        let empty: Chunked<u32> = Chunked::from_vec(Vec::new());
        assert_eq!(
            (
                empty.len(),
                empty.partition_point(|_| true),
                empty.iter_from(0).count()
            ),
            (0, 0, 0)
        );
    }
}
