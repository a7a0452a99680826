//! `group_by` (Chroma's `ranked_group_by.rs`, `../shared/chroma-search-api.md`
//! §2.6): ranked records are grouped by the tuple of their values under
//! the group keys (a missing value is null, its own group); each group is
//! ordered by the aggregate's keys (`#score` is the record's score) and its
//! first `k` kept; the kept records are re-sorted by (score, order).
//! Values order null first, then by type (bool < int < float < string <
//! sparse vector < arrays), then naturally within a type.

use std::cmp::Ordering;

use super::{GroupBy, Key};
use crate::metadata::{Metadata, MetadataValue};

/// Which records of a group are kept.
#[derive(Debug, Clone, PartialEq)]
pub enum Aggregate {
    /// The `k` smallest by `keys` (ascending tuple order).
    MinK {
        /// Sort keys (`#score` or metadata fields).
        keys: Vec<Key>,
        /// Records kept per group (at least 1).
        k: usize,
    },
    /// The `k` largest by `keys` (descending tuple order).
    MaxK {
        /// Sort keys (`#score` or metadata fields).
        keys: Vec<Key>,
        /// Records kept per group (at least 1).
        k: usize,
    },
}

/// A value as grouping and aggregation order it.
#[derive(Debug, Clone)]
enum Value<'a> {
    Null,
    Some(&'a MetadataValue),
    Score(f32),
}

fn type_rank(v: &MetadataValue) -> u8 {
    match v {
        MetadataValue::Bool(_) => 0,
        MetadataValue::Int(_) => 1,
        MetadataValue::Float(_) => 2,
        MetadataValue::Str(_) => 3,
        MetadataValue::SparseVector(_) => 4,
        MetadataValue::BoolArray(_) => 5,
        MetadataValue::IntArray(_) => 6,
        MetadataValue::FloatArray(_) => 7,
        MetadataValue::StrArray(_) => 8,
    }
}

fn cmp_values(a: &MetadataValue, b: &MetadataValue) -> Ordering {
    use MetadataValue as V;
    match (a, b) {
        (V::Bool(x), V::Bool(y)) => x.cmp(y),
        (V::Int(x), V::Int(y)) => x.cmp(y),
        (V::Float(x), V::Float(y)) => x.total_cmp(y),
        (V::Str(x), V::Str(y)) => x.cmp(y),
        (V::SparseVector(x), V::SparseVector(y)) => x
            .indices
            .cmp(&y.indices)
            .then_with(|| cmp_f32s(&x.values, &y.values)),
        (V::BoolArray(x), V::BoolArray(y)) => x.cmp(y),
        (V::IntArray(x), V::IntArray(y)) => x.cmp(y),
        (V::FloatArray(x), V::FloatArray(y)) => {
            let n = x.len().min(y.len());
            (0..n)
                .map(|i| x[i].total_cmp(&y[i]))
                .find(|o| o.is_ne())
                .unwrap_or(x.len().cmp(&y.len()))
        }
        (V::StrArray(x), V::StrArray(y)) => x.cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn cmp_f32s(x: &[f32], y: &[f32]) -> Ordering {
    let n = x.len().min(y.len());
    (0..n)
        .map(|i| x[i].total_cmp(&y[i]))
        .find(|o| o.is_ne())
        .unwrap_or(x.len().cmp(&y.len()))
}

impl Value<'_> {
    fn cmp(&self, other: &Value<'_>) -> Ordering {
        match (self, other) {
            (Value::Null, Value::Null) => Ordering::Equal,
            (Value::Null, _) => Ordering::Less,
            (_, Value::Null) => Ordering::Greater,
            (Value::Score(a), Value::Score(b)) => a.total_cmp(b),
            (Value::Some(a), Value::Some(b)) => cmp_values(a, b),
            // A score is a float.
            (Value::Score(a), Value::Some(b)) => {
                cmp_values(&MetadataValue::Float(f64::from(*a)), b)
            }
            (Value::Some(a), Value::Score(b)) => {
                cmp_values(a, &MetadataValue::Float(f64::from(*b)))
            }
        }
    }
}

fn cmp_tuples(a: &[Value<'_>], b: &[Value<'_>]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| x.cmp(y))
        .find(|o| o.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// One ranked record: its key, score and insertion order.
pub(crate) type Ranked<K> = (K, f32, u64);

/// Groups `ranked` (sorted by score, then order) as `by` says; the kept
/// records come back sorted by (score, order).
pub(crate) fn group<'m, K: Copy>(
    ranked: Vec<Ranked<K>>,
    by: &GroupBy,
    metadata: impl Fn(K) -> Option<&'m Metadata>,
) -> Vec<Ranked<K>> {
    let value = |m: Option<&'m Metadata>, key: &str| -> Value<'m> {
        m.and_then(|m| m.get(key)).map_or(Value::Null, Value::Some)
    };
    // Groups: records sorted (stably) by their key tuple, then cut where
    // the tuple changes. Group order does not matter: the kept records
    // are re-sorted by score at the end.
    let mut keyed: Vec<(Vec<Value<'m>>, Ranked<K>)> = ranked
        .into_iter()
        .map(|r| (by.keys.iter().map(|k| value(metadata(r.0), k)).collect(), r))
        .collect();
    keyed.sort_by(|a, b| cmp_tuples(&a.0, &b.0));
    let mut groups: Vec<Vec<Ranked<K>>> = Vec::new();
    let mut last: Option<Vec<Value<'m>>> = None;
    for (tuple, r) in keyed {
        match &last {
            Some(t) if cmp_tuples(t, &tuple) == Ordering::Equal => {
                if let Some(g) = groups.last_mut() {
                    g.push(r);
                }
            }
            _ => {
                groups.push(vec![r]);
                last = Some(tuple);
            }
        }
    }
    let (keys, k, descending) = match &by.aggregate {
        Aggregate::MinK { keys, k } => (keys, *k, false),
        Aggregate::MaxK { keys, k } => (keys, *k, true),
    };
    let mut kept = Vec::new();
    for mut members in groups {
        let sort_key = |r: &Ranked<K>| -> Vec<Value<'m>> {
            let m = metadata(r.0);
            keys.iter()
                .map(|key| match key {
                    Key::Score => Value::Score(r.1),
                    other => value(m, other.name()),
                })
                .collect()
        };
        // Stable: equal tuples keep their ranked order.
        members.sort_by(|a, b| {
            let o = cmp_tuples(&sort_key(a), &sort_key(b));
            if descending {
                o.reverse()
            } else {
                o
            }
        });
        members.truncate(k);
        kept.extend(members);
    }
    kept.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(pairs: &[(&str, MetadataValue)]) -> Metadata {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn keeps_the_first_k_per_group_and_resorts_by_score() {
        let metas = [
            md(&[
                ("cat", MetadataValue::Str("a".into())),
                ("p", MetadataValue::Int(3)),
            ]),
            md(&[
                ("cat", MetadataValue::Str("a".into())),
                ("p", MetadataValue::Int(1)),
            ]),
            md(&[
                ("cat", MetadataValue::Str("b".into())),
                ("p", MetadataValue::Int(2)),
            ]),
            md(&[("p", MetadataValue::Int(9))]),
            md(&[
                ("cat", MetadataValue::Str("a".into())),
                ("p", MetadataValue::Int(2)),
            ]),
        ];
        let ranked: Vec<Ranked<usize>> = vec![
            (0, 0.1, 0),
            (1, 0.2, 1),
            (2, 0.3, 2),
            (3, 0.4, 3),
            (4, 0.5, 4),
        ];
        let by = |aggregate| GroupBy {
            keys: vec!["cat".into()],
            aggregate,
        };
        let ids = |v: Vec<Ranked<usize>>| v.into_iter().map(|r| r.0).collect::<Vec<_>>();
        let min_score = by(Aggregate::MinK {
            keys: vec![Key::Score],
            k: 2,
        });
        assert_eq!(
            ids(group(ranked.clone(), &min_score, |i| Some(&metas[i]))),
            vec![0, 1, 2, 3]
        );
        let max_p = by(Aggregate::MaxK {
            keys: vec![Key::Field("p".into())],
            k: 1,
        });
        assert_eq!(
            ids(group(ranked.clone(), &max_p, |i| Some(&metas[i]))),
            vec![0, 2, 3]
        );
        let min_p = by(Aggregate::MinK {
            keys: vec![Key::Field("p".into()), Key::Score],
            k: 1,
        });
        assert_eq!(
            ids(group(ranked, &min_p, |i| Some(&metas[i]))),
            vec![1, 2, 3]
        );
    }
}
