//! VyOS's "lexical-numeric" (natural) order of node names and values.
//!
//! Owns the one comparison that decides the order of children everywhere in `vyos`. It must not
//! allocate: it runs inside every sort and binary search of the tree.
//!
//! The reference is vyos1x-config `src/lexical_numeric_compare.c`: strings are walked in lockstep,
//! runs of ASCII digits that start at the same place compare as numbers (so `eth2 < eth10` and
//! `rule 5 < rule 10`), every other byte compares as a byte, and a string that is a prefix of the
//! other sorts first. Two quirks of the C code are not copied, because a sort needs a total
//! order: the C code overflows on digit runs longer than an `int`, and it fails ("internal
//! indexing error") when two runs are numerically equal but of different lengths (`a01x` against
//! `a1x`). Here runs of any length compare exactly, and strings that compare equal that way are
//! ordered by their bytes, so the order is total and `Equal` means the strings are identical.

use std::cmp::Ordering;

/// Compares two names the way VyOS orders config nodes.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (x, y) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    loop {
        match (x.get(i), y.get(j)) {
            (None, None) => return x.cmp(y),
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(&c), Some(&d)) => {
                if c.is_ascii_digit() && d.is_ascii_digit() {
                    let ei = digit_run_end(x, i);
                    let ej = digit_run_end(y, j);
                    let ra = trim_zeros(&x[i..ei]);
                    let rb = trim_zeros(&y[j..ej]);
                    let o = ra.len().cmp(&rb.len()).then_with(|| ra.cmp(rb));
                    if o != Ordering::Equal {
                        return o;
                    }
                    i = ei;
                    j = ej;
                } else if c != d {
                    return c.cmp(&d);
                } else {
                    i += 1;
                    j += 1;
                }
            }
        }
    }
}

fn digit_run_end(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && s[i].is_ascii_digit() {
        i += 1;
    }
    i
}

fn trim_zeros(run: &[u8]) -> &[u8] {
    let zeros = run.iter().take_while(|&&b| b == b'0').count();
    &run[zeros..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(a: &str, b: &str, expected: Ordering) {
        assert_eq!(natural_cmp(a, b), expected, "{a:?} vs {b:?}");
        assert_eq!(natural_cmp(b, a), expected.reverse(), "{b:?} vs {a:?}");
    }

    #[test]
    fn orders_like_vyos() {
        check("eth2", "eth10", Ordering::Less);
        check("5", "10", Ordering::Less);
        check("10", "10", Ordering::Equal);
        check("eth0", "eth0.10", Ordering::Less);
        check("eth0.9", "eth0.10", Ordering::Less);
        check("a", "ab", Ordering::Less);
        check("a1", "ab", Ordering::Less); // '1' < 'b' bytewise, as memcmp does
        check("a-", "a5", Ordering::Less); // '-' < '5'
        check("address", "address-group", Ordering::Less);
        check("192.0.2.10", "192.0.2.9", Ordering::Greater);
        check(
            "99999999999999999999",
            "100000000000000000000",
            Ordering::Less,
        );
        check("01", "1", Ordering::Less); // equal numbers: tie broken by bytes, "0" < "1"
        check("", "a", Ordering::Less);
    }

    proptest! {
        #[test]
        fn is_a_total_order(a in "[a-c0-2.-]{0,6}", b in "[a-c0-2.-]{0,6}", c in "[a-c0-2.-]{0,6}") {
            prop_assert_eq!(natural_cmp(&a, &b), natural_cmp(&b, &a).reverse());
            prop_assert_eq!(natural_cmp(&a, &b) == Ordering::Equal, a == b);
            if natural_cmp(&a, &b) != Ordering::Greater && natural_cmp(&b, &c) != Ordering::Greater {
                prop_assert_ne!(natural_cmp(&a, &c), Ordering::Greater);
            }
        }
    }
}
