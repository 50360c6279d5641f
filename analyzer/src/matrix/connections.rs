//! Every allowed connection of every ordered pair, over port ranges: the matrix decided
//! once per port class ([`port_classes`]), the classes a pair reaches gathered as a bit
//! mask, and the mask read back as a port set. Pairs with equal masks share one set.

use super::port_classes::{port_classes, PortClass};
use super::{Matrix, MatrixPort};
use netfence_model::ports::PortRef;
use netfence_model::{Model, PortSet, Protocol};
use std::fmt;

/// Which port classes one pair reaches, bit `c` for class `c`.
pub type ClassMask = [u64];

pub struct Connections {
    pub classes: Vec<PortClass>,
    matrix: Matrix,
    n: usize,
}

impl Connections {
    pub fn compute(model: &Model) -> Connections {
        let classes = port_classes(model);
        let cols: Vec<MatrixPort> = classes
            .iter()
            .map(|c| MatrixPort {
                port: PortRef::Number(c.probe()),
                protocol: c.protocol,
            })
            .collect();
        Connections {
            matrix: Matrix::compute(model, &cols),
            classes,
            n: model.cluster.endpoints.len(),
        }
    }

    /// Words of one [`ClassMask`].
    pub fn mask_words(&self) -> usize {
        self.classes.len().div_ceil(64).max(1)
    }

    /// The class masks of every destination of `src` (endpoint index), `mask_words()`
    /// words per destination, into `out`.
    pub fn row_masks(&self, src: usize, out: &mut Vec<u64>) {
        let w = self.mask_words();
        out.clear();
        out.resize(self.n * w, 0);
        // 64 classes x 64 destinations at a time: the block of row words (a class per
        // word, a destination per bit) transposed is a mask word per destination.
        let mut block = [0u64; 64];
        for cw in 0..w {
            for dw in 0..self.n.div_ceil(64) {
                let mut any = 0;
                for (k, slot) in block.iter_mut().enumerate() {
                    let c = cw * 64 + k;
                    *slot = if c < self.classes.len() {
                        self.matrix.row(c, src).words()[dw]
                    } else {
                        0
                    };
                    any |= *slot;
                }
                if any == 0 {
                    continue;
                }
                super::transpose::transpose64(&mut block);
                for (j, word) in block.iter().enumerate() {
                    let d = dw * 64 + j;
                    if d < self.n {
                        out[d * w + cw] = *word;
                    }
                }
            }
        }
    }

    /// A hash of every destination set of `src` (endpoint index) but `src` itself:
    /// sources with [`Connections::same_rows_but_each_other`] have equal hashes when
    /// they also reach each other alike.
    pub fn row_hash(&self, src: usize) -> u64 {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let (own_word, own_bit) = (src / 64, 1u64 << (src % 64));
        for c in 0..self.classes.len() {
            for (i, &w) in self.matrix.row(c, src).words().iter().enumerate() {
                let w = if i == own_word { w & !own_bit } else { w };
                h = (h ^ w).wrapping_mul(0x0000_0100_0000_01b3).rotate_left(29);
            }
        }
        h
    }

    /// Do sources `a` and `b` reach the same destinations on every class, `a` and `b`
    /// themselves aside? Then the masks of `a` are those of `b` for every other
    /// destination.
    pub fn same_rows_but_each_other(&self, a: usize, b: usize) -> bool {
        let mut keep = vec![!0u64; self.n.div_ceil(64)];
        keep[a / 64] &= !(1 << (a % 64));
        keep[b / 64] &= !(1 << (b % 64));
        (0..self.classes.len()).all(|c| {
            let (ra, rb) = (self.matrix.row(c, a).words(), self.matrix.row(c, b).words());
            ra.iter()
                .zip(rb)
                .zip(&keep)
                .all(|((x, y), k)| x & k == y & k)
        })
    }

    /// The class mask of one pair (endpoint indices), into `out` (`mask_words()`).
    pub fn mask_of(&self, src: usize, dst: usize, out: &mut [u64]) {
        out.iter_mut().for_each(|w| *w = 0);
        for c in 0..self.classes.len() {
            if self.matrix.allowed(c, src, dst) {
                out[c / 64] |= 1 << (c % 64);
            }
        }
    }

    /// The ports of the classes in `mask`.
    pub fn ports(&self, mask: &ClassMask) -> PortSet {
        let mut set = PortSet::empty();
        for (c, class) in self.classes.iter().enumerate() {
            if mask[c / 64] & (1 << (c % 64)) != 0 {
                for &(s, e) in &class.ranges {
                    set.add_range(class.protocol, s, e);
                }
            }
        }
        set
    }

    /// Every port `src` may open on `dst` (endpoint indices), over any address family.
    pub fn between(&self, src: usize, dst: usize) -> PortSet {
        let mut mask = vec![0u64; self.mask_words()];
        self.mask_of(src, dst, &mut mask);
        self.ports(&mask)
    }
}

/// A pair's allowed connections as netpol-analyzer prints them: `All Connections`, or
/// per protocol its ports (`TCP 80,443,8000-8080; UDP 53`; a protocol alone: every port
/// of it). The empty set prints as `No Connections`.
pub struct ConnectionText<'a>(pub &'a PortSet);

impl fmt::Display for ConnectionText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = self.0;
        if set.is_all() {
            return f.write_str("All Connections");
        }
        if set.is_empty() {
            return f.write_str("No Connections");
        }
        let mut first = true;
        for p in Protocol::ALL {
            let ranges = set.protocol(p);
            if ranges.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            f.write_str(p.as_str())?;
            if !ranges.is_full() {
                f.write_str(" ")?;
                write_ranges(f, ranges.ranges())?;
            }
        }
        Ok(())
    }
}

/// `80,443,8000-8080`.
pub fn write_ranges(f: &mut impl fmt::Write, ranges: &[(u16, u16)]) -> fmt::Result {
    for (i, &(s, e)) in ranges.iter().enumerate() {
        if i > 0 {
            f.write_char(',')?;
        }
        if s == e {
            write!(f, "{s}")?;
        } else {
            write!(f, "{s}-{e}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_per_protocol() {
        let mut s = PortSet::range(Protocol::Tcp, 8000, 8080);
        s.add_range(Protocol::Tcp, 80, 80);
        s.add_range(Protocol::Tcp, 443, 443);
        s.add_range(Protocol::Udp, 53, 53);
        assert_eq!(
            ConnectionText(&s).to_string(),
            "TCP 80,443,8000-8080; UDP 53"
        );
        assert_eq!(
            ConnectionText(&PortSet::all()).to_string(),
            "All Connections"
        );
        let mut t = PortSet::all_of(Protocol::Tcp);
        t.add_range(Protocol::Sctp, 3868, 3868);
        assert_eq!(ConnectionText(&t).to_string(), "TCP; SCTP 3868");
    }
}
