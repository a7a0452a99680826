//! Exact numeric comparison across Chroma's `int` (i64) and `float` (f64).
//!
//! Filters compare ints and floats by value (`{"n": 1.0}` matches `n = 1`).
//! Casting an i64 to f64 rounds above 2^53, so the mixed case is compared
//! exactly instead. NaN is unordered: it equals nothing and is in no range.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::ast::{Number, Scalar};
use crate::metadata::MetadataValue;

/// A number that is either an i64 or an f64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Num {
    Int(i64),
    Float(f64),
}

impl From<Number> for Num {
    fn from(n: Number) -> Num {
        match n {
            Number::Int(i) => Num::Int(i),
            Number::Float(f) => Num::Float(f),
        }
    }
}

impl Num {
    /// The number a scalar operand holds, if it is one (bool is not).
    pub(crate) fn of_scalar(s: &Scalar) -> Option<Num> {
        match s {
            Scalar::Int(i) => Some(Num::Int(*i)),
            Scalar::Float(f) => Some(Num::Float(*f)),
            Scalar::Bool(_) | Scalar::Str(_) => None,
        }
    }

    /// The number a scalar metadata value holds, if it is one.
    pub(crate) fn of_value(v: &MetadataValue) -> Option<Num> {
        match v {
            MetadataValue::Int(i) => Some(Num::Int(*i)),
            MetadataValue::Float(f) => Some(Num::Float(*f)),
            _ => None,
        }
    }
}

/// Compares two numbers by value; `None` when either is NaN.
pub(crate) fn cmp_num(a: Num, b: Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(&y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(&y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(y, x).map(Ordering::reverse),
    }
}

/// Exact `i` vs `f`.
fn cmp_int_float(i: i64, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    // 2^63 is exactly representable; every i64 is below it and at or above -2^63.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if f >= TWO_63 {
        return Some(Ordering::Less);
    }
    if f < -TWO_63 {
        return Some(Ordering::Greater);
    }
    let whole = f.trunc();
    // In range, so the cast is exact.
    #[allow(clippy::cast_possible_truncation)]
    let whole_int = whole as i64;
    match i.cmp(&whole_int) {
        Ordering::Equal => {
            let frac = f - whole;
            // i == trunc(f): i < f iff f has a positive fraction.
            Some(0.0f64.partial_cmp(&frac).unwrap_or(Ordering::Equal))
        }
        other => Some(other),
    }
}

/// A totally ordered numeric key for the metadata index's range maps.
///
/// Ordered by value across ints and floats (so `Int(1)` and `Float(1.0)` are
/// the same key). NaN is never stored; `-0.0` is stored
/// as `0.0`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub enum NumKey {
    /// An integer value.
    Int(i64),
    /// A float value (never NaN).
    Float(f64),
}

impl NumKey {
    /// The key for a number; `None` for NaN, which no range or equality matches.
    pub(crate) fn new(n: Num) -> Option<NumKey> {
        match n {
            Num::Int(i) => Some(NumKey::Int(i)),
            Num::Float(f) if f.is_nan() => None,
            // `+ 0.0` turns -0.0 into 0.0.
            Num::Float(f) => Some(NumKey::Float(f + 0.0)),
        }
    }

    fn num(self) -> Num {
        match self {
            NumKey::Int(i) => Num::Int(i),
            NumKey::Float(f) => Num::Float(f),
        }
    }
}

impl PartialEq for NumKey {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for NumKey {}

impl PartialOrd for NumKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for NumKey {
    fn cmp(&self, other: &Self) -> Ordering {
        // NaN is never stored, so the comparison is always defined.
        cmp_num(self.num(), other.num()).unwrap_or(Ordering::Equal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixed_comparison_is_exact() {
        let big = (1i64 << 53) + 1;
        // As f64, `big` rounds to 2^53; exact comparison still tells them apart.
        assert_eq!(
            cmp_num(Num::Int(big), Num::Float((1i64 << 53) as f64)),
            Some(Ordering::Greater)
        );
        assert_eq!(cmp_num(Num::Int(1), Num::Float(1.0)), Some(Ordering::Equal));
        assert_eq!(cmp_num(Num::Int(1), Num::Float(1.5)), Some(Ordering::Less));
        assert_eq!(
            cmp_num(Num::Int(-1), Num::Float(-1.5)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_num(Num::Int(-2), Num::Float(-1.5)),
            Some(Ordering::Less)
        );
        assert_eq!(cmp_num(Num::Float(-0.5), Num::Int(0)), Some(Ordering::Less));
        assert_eq!(
            cmp_num(Num::Int(i64::MAX), Num::Float(9.3e18)),
            Some(Ordering::Less)
        );
        assert_eq!(
            cmp_num(Num::Int(i64::MIN), Num::Float(-9.3e18)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            cmp_num(Num::Int(i64::MIN), Num::Float(-9_223_372_036_854_775_808.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(cmp_num(Num::Int(0), Num::Float(f64::NAN)), None);
        assert_eq!(
            cmp_num(Num::Float(f64::INFINITY), Num::Int(i64::MAX)),
            Some(Ordering::Greater)
        );
    }

    #[test]
    fn keys_unify_int_and_float() {
        let a = NumKey::new(Num::Int(3)).unwrap();
        let b = NumKey::new(Num::Float(3.0)).unwrap();
        assert_eq!(a, b);
        assert!(NumKey::new(Num::Float(f64::NAN)).is_none());
        assert_eq!(
            NumKey::new(Num::Float(-0.0)).unwrap(),
            NumKey::new(Num::Int(0)).unwrap()
        );
    }
}
