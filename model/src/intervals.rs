//! Sorted, disjoint, inclusive intervals over an integer domain: the one representation
//! behind port ranges and address blocks (CIDR minus except).

use std::fmt::Debug;

/// An integer domain with a first and last value.
pub trait Bound: Copy + Ord + Debug {
    const MIN: Self;
    const MAX: Self;
    fn succ(self) -> Self;
    fn pred(self) -> Self;
}

macro_rules! bound_impl {
    ($($t:ty),*) => {$(
        impl Bound for $t {
            const MIN: Self = <$t>::MIN;
            const MAX: Self = <$t>::MAX;
            fn succ(self) -> Self { self + 1 }
            fn pred(self) -> Self { self - 1 }
        }
    )*};
}
bound_impl!(u16, u32, u128);

/// A set of values kept as sorted, non-overlapping, non-adjacent `[start, end]` pairs.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Intervals<T: Bound> {
    ranges: Vec<(T, T)>,
}

impl<T: Bound> Default for Intervals<T> {
    fn default() -> Self {
        Intervals { ranges: Vec::new() }
    }
}

impl<T: Bound> Intervals<T> {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn full() -> Self {
        Intervals {
            ranges: vec![(T::MIN, T::MAX)],
        }
    }

    pub fn range(start: T, end: T) -> Self {
        debug_assert!(start <= end);
        Intervals {
            ranges: vec![(start, end)],
        }
    }

    /// Builds a set from arbitrary (possibly overlapping) ranges.
    pub fn from_ranges(mut ranges: Vec<(T, T)>) -> Self {
        ranges.sort();
        let mut out: Vec<(T, T)> = Vec::with_capacity(ranges.len());
        for (s, e) in ranges {
            match out.last_mut() {
                Some(last) if last.1 == T::MAX || s <= last.1.succ() => {
                    if e > last.1 {
                        last.1 = e;
                    }
                }
                _ => out.push((s, e)),
            }
        }
        Intervals { ranges: out }
    }

    pub fn ranges(&self) -> &[(T, T)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    pub fn is_full(&self) -> bool {
        self.ranges == [(T::MIN, T::MAX)]
    }

    pub fn contains(&self, v: T) -> bool {
        // Index of the first range whose end is >= v.
        let i = self.ranges.partition_point(|&(_, e)| e < v);
        i < self.ranges.len() && self.ranges[i].0 <= v
    }

    /// True when every value of `[s, e]` is in the set.
    pub fn contains_range(&self, s: T, e: T) -> bool {
        let i = self.ranges.partition_point(|&(_, end)| end < s);
        i < self.ranges.len() && self.ranges[i].0 <= s && self.ranges[i].1 >= e
    }

    /// True when some value of `[s, e]` is in the set.
    pub fn overlaps_range(&self, s: T, e: T) -> bool {
        let i = self.ranges.partition_point(|&(_, end)| end < s);
        i < self.ranges.len() && self.ranges[i].0 <= e
    }

    pub fn union(&self, other: &Self) -> Self {
        let mut all = self.ranges.clone();
        all.extend_from_slice(&other.ranges);
        Self::from_ranges(all)
    }

    pub fn insert_range(&mut self, s: T, e: T) {
        if self.contains_range(s, e) {
            return;
        }
        let mut all = std::mem::take(&mut self.ranges);
        all.push((s, e));
        *self = Self::from_ranges(all);
    }

    pub fn intersection(&self, other: &Self) -> Self {
        let (a, b) = (&self.ranges, &other.ranges);
        let (mut i, mut j) = (0, 0);
        let mut out = Vec::new();
        while i < a.len() && j < b.len() {
            let s = a[i].0.max(b[j].0);
            let e = a[i].1.min(b[j].1);
            if s <= e {
                out.push((s, e));
            }
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Intervals { ranges: out }
    }

    pub fn complement(&self) -> Self {
        let mut out = Vec::new();
        let mut next = Some(T::MIN);
        for &(s, e) in &self.ranges {
            if let Some(n) = next {
                if s > n {
                    out.push((n, s.pred()));
                }
            }
            next = if e == T::MAX { None } else { Some(e.succ()) };
        }
        if let Some(n) = next {
            out.push((n, T::MAX));
        }
        Intervals { ranges: out }
    }

    pub fn difference(&self, other: &Self) -> Self {
        self.intersection(&other.complement())
    }

    pub fn is_subset(&self, other: &Self) -> bool {
        self.ranges.iter().all(|&(s, e)| other.contains_range(s, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_overlapping_and_adjacent_ranges() {
        let s = Intervals::<u16>::from_ranges(vec![(5, 10), (1, 3), (4, 4), (20, 30), (25, 40)]);
        assert_eq!(s.ranges(), &[(1, 10), (20, 40)]);
    }

    #[test]
    fn complement_and_difference_at_the_domain_edges() {
        let s = Intervals::<u16>::from_ranges(vec![(0, 9), (65530, 65535)]);
        assert_eq!(s.complement().ranges(), &[(10, 65529)]);
        assert!(Intervals::<u16>::full().complement().is_empty());
        assert!(Intervals::<u16>::empty().complement().is_full());
        let d = Intervals::<u16>::range(1, 100).difference(&Intervals::range(50, 60));
        assert_eq!(d.ranges(), &[(1, 49), (61, 100)]);
    }

    #[test]
    fn membership_queries() {
        let s = Intervals::<u32>::from_ranges(vec![(10, 20), (30, 40)]);
        assert!(s.contains(10) && s.contains(20) && s.contains(35));
        assert!(!s.contains(9) && !s.contains(25) && !s.contains(41));
        assert!(s.contains_range(31, 39));
        assert!(!s.contains_range(15, 31));
        assert!(s.overlaps_range(15, 31) && !s.overlaps_range(21, 29));
        assert!(Intervals::range(12, 18).is_subset(&s));
        assert_eq!(
            s.intersection(&Intervals::range(15, 35)).ranges(),
            &[(15, 20), (30, 35)]
        );
    }
}
