//! Evaluating a [`Where`] against one record's metadata (and document).
//!
//! Semantics (`../shared/chroma-api.md` §6.1): positive operators never match
//! a missing key; negative ones (`$ne`, `$nin`, `$not_contains`) are exact
//! complements of the positive ones, so they match a missing key, missing
//! metadata and values of another type. Ints and floats compare by value;
//! bool is its own type; a scalar `$eq` never matches an array value;
//! `$contains` on a metadata key is array membership.

use std::cmp::Ordering;

use super::ast::{Comparison, IdTest, Scalar, Where};
use super::numeric::{cmp_num, Num};
use crate::metadata::{Metadata, MetadataValue};

impl Where {
    /// Whether a record with this metadata and document matches (an `#id`
    /// test, which needs the id, never does: see [`Where::matches_record`]).
    pub fn matches(&self, metadata: Option<&Metadata>, document: Option<&str>) -> bool {
        self.matches_record(None, metadata, document)
    }

    /// Whether the record with this id, metadata and document matches.
    pub fn matches_record(
        &self,
        id: Option<&str>,
        metadata: Option<&Metadata>,
        document: Option<&str>,
    ) -> bool {
        match self {
            Where::And(c) => c.iter().all(|c| c.matches_record(id, metadata, document)),
            Where::Or(c) => c.iter().any(|c| c.matches_record(id, metadata, document)),
            Where::Field { key, op } => op.matches(metadata.and_then(|m| m.get(key))),
            Where::Document(test) => test.matches(document),
            Where::Id(IdTest::In(ids)) => id.is_some_and(|id| ids.contains(id)),
            Where::Id(IdTest::Nin(ids)) => id.is_some_and(|id| !ids.contains(id)),
        }
    }
}

impl Comparison {
    /// Whether a record whose value under the key is `value` (`None`: the key
    /// is absent) passes.
    pub fn matches(&self, value: Option<&MetadataValue>) -> bool {
        let Some(value) = value else {
            return self.is_negative();
        };
        match self {
            Comparison::Eq(s) => scalar_eq(value, s),
            Comparison::Ne(s) => !scalar_eq(value, s),
            Comparison::Gt(n) => num_cmp(value, Num::from(*n), |o| o == Ordering::Greater),
            Comparison::Gte(n) => num_cmp(value, Num::from(*n), |o| o != Ordering::Less),
            Comparison::Lt(n) => num_cmp(value, Num::from(*n), |o| o == Ordering::Less),
            Comparison::Lte(n) => num_cmp(value, Num::from(*n), |o| o != Ordering::Greater),
            Comparison::In(list) => list.iter().any(|s| scalar_eq(value, s)),
            Comparison::Nin(list) => !list.iter().any(|s| scalar_eq(value, s)),
            Comparison::Contains(s) => array_contains(value, s),
            Comparison::NotContains(s) => !array_contains(value, s),
        }
    }
}

/// `value` (scalar) compared with `n` satisfies `pred`; false for non-numbers and NaN.
fn num_cmp(value: &MetadataValue, n: Num, pred: impl Fn(Ordering) -> bool) -> bool {
    Num::of_value(value)
        .and_then(|v| cmp_num(v, n))
        .is_some_and(pred)
}

/// Scalar equality with Chroma's typing: numbers by value, bool and str only
/// with their own type, arrays never.
pub(crate) fn scalar_eq(value: &MetadataValue, s: &Scalar) -> bool {
    match (value, s) {
        (MetadataValue::Str(v), Scalar::Str(x)) => v == x,
        (MetadataValue::Bool(v), Scalar::Bool(x)) => v == x,
        (MetadataValue::Int(_) | MetadataValue::Float(_), Scalar::Int(_) | Scalar::Float(_)) => {
            match (Num::of_value(value), Num::of_scalar(s)) {
                (Some(a), Some(b)) => cmp_num(a, b) == Some(Ordering::Equal),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Whether an array value holds an element equal to `s` (numbers by value).
pub(crate) fn array_contains(value: &MetadataValue, s: &Scalar) -> bool {
    let num_eq = |a: Num| Num::of_scalar(s).and_then(|b| cmp_num(a, b)) == Some(Ordering::Equal);
    match (value, s) {
        (MetadataValue::StrArray(items), Scalar::Str(x)) => items.iter().any(|i| i == x),
        (MetadataValue::BoolArray(items), Scalar::Bool(x)) => items.contains(x),
        (MetadataValue::IntArray(items), Scalar::Int(_) | Scalar::Float(_)) => {
            items.iter().any(|i| num_eq(Num::Int(*i)))
        }
        (MetadataValue::FloatArray(items), Scalar::Int(_) | Scalar::Float(_)) => {
            items.iter().any(|f| num_eq(Num::Float(*f)))
        }
        _ => false,
    }
}
