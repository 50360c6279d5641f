//! A fixed-size bitset over endpoint indices: peers, selections and matrix rows.

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct EndpointSet {
    len: usize,
    words: Vec<u64>,
}

impl EndpointSet {
    pub fn empty(len: usize) -> Self {
        EndpointSet {
            len,
            words: vec![0; len.div_ceil(64)],
        }
    }

    pub fn full(len: usize) -> Self {
        let mut s = EndpointSet {
            len,
            words: vec![u64::MAX; len.div_ceil(64)],
        };
        s.clear_tail();
        s
    }

    fn clear_tail(&mut self) {
        let r = self.len % 64;
        if r != 0 {
            if let Some(last) = self.words.last_mut() {
                *last &= (1u64 << r) - 1;
            }
        }
    }

    /// Grows or shrinks to `len` endpoints; new ones are not in the set.
    pub fn resize(&mut self, len: usize) {
        self.len = len;
        self.words.resize(len.div_ceil(64), 0);
        self.clear_tail();
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn words(&self) -> &[u64] {
        &self.words
    }

    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }

    pub fn insert(&mut self, i: usize) {
        self.words[i / 64] |= 1 << (i % 64);
    }

    pub fn remove(&mut self, i: usize) {
        self.words[i / 64] &= !(1 << (i % 64));
    }

    pub fn contains(&self, i: usize) -> bool {
        self.words[i / 64] & (1 << (i % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }

    pub fn count(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn union_with(&mut self, other: &EndpointSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a |= b;
        }
    }

    pub fn intersect_with(&mut self, other: &EndpointSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= b;
        }
    }

    pub fn subtract(&mut self, other: &EndpointSet) {
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            *a &= !b;
        }
    }

    /// Moves the members also in `a` (and in `b`, when given) into `into`, in one pass
    /// over the words; true when any moved. A tier's walk hands each undecided end to
    /// the first element matching it this way.
    pub fn move_common(
        &mut self,
        a: &EndpointSet,
        b: Option<&EndpointSet>,
        into: &mut EndpointSet,
    ) -> bool {
        let mut any = 0u64;
        let mut step = |w: &mut u64, m: u64, out: &mut u64| {
            *w &= !m;
            *out |= m;
            any |= m;
        };
        match b {
            None => {
                for ((w, x), out) in self.words.iter_mut().zip(&a.words).zip(&mut into.words) {
                    let m = *w & x;
                    step(w, m, out);
                }
            }
            Some(b) => {
                for (((w, x), y), out) in self
                    .words
                    .iter_mut()
                    .zip(&a.words)
                    .zip(&b.words)
                    .zip(&mut into.words)
                {
                    let m = *w & x & y;
                    step(w, m, out);
                }
            }
        }
        any != 0
    }

    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.words.iter().enumerate().flat_map(|(wi, &w)| {
            let mut w = w;
            std::iter::from_fn(move || {
                if w == 0 {
                    return None;
                }
                let b = w.trailing_zeros() as usize;
                w &= w - 1;
                Some(wi * 64 + b)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        let mut a = EndpointSet::empty(130);
        a.insert(0);
        a.insert(64);
        a.insert(129);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 64, 129]);
        let full = EndpointSet::full(130);
        assert_eq!(full.count(), 130);
        let mut c = full.clone();
        c.subtract(&a);
        assert_eq!(c.count(), 127);
        assert!(!c.contains(64) && c.contains(63));
        c.intersect_with(&a);
        assert!(c.is_empty());
        a.resize(129);
        assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 64]);
        a.resize(200);
        a.insert(199);
        assert_eq!((a.len(), a.count()), (200, 3));
    }

    #[test]
    fn move_common_moves_the_intersection() {
        let set = |xs: &[usize]| {
            let mut s = EndpointSet::empty(130);
            xs.iter().for_each(|&x| s.insert(x));
            s
        };
        let mut left = set(&[1, 64, 65, 129]);
        let mut into = set(&[2]);
        assert!(left.move_common(&set(&[1, 65, 100]), None, &mut into));
        assert_eq!(left, set(&[64, 129]));
        assert_eq!(into, set(&[1, 2, 65]));
        assert!(left.move_common(&set(&[64, 129]), Some(&set(&[129])), &mut into));
        assert_eq!((left, into), (set(&[64]), set(&[1, 2, 65, 129])));
        let mut none = set(&[]);
        assert!(!set(&[5]).move_common(&set(&[6]), None, &mut none));
    }
}
