//! The rank algebra (Chroma's `rust/worker/src/execution/operators/rank.rs`,
//! `../shared/chroma-search-api.md` §2.3). Every sub-expression is a
//! [`Domain`]: a support (record → value) and an optional default for the
//! records outside it. A binary step keeps the union of both supports when
//! both sides have a default, the side without one's support when one has,
//! and the intersection when neither has. All arithmetic is f32; only the
//! final support is a result (its default is dropped).

use std::collections::HashMap;
use std::hash::Hash;

use super::Rank;

/// A sub-expression's value: `support` per record, `default` elsewhere.
#[derive(Debug, Clone)]
pub(crate) struct Domain<K> {
    pub(crate) support: HashMap<K, f32>,
    pub(crate) default: Option<f32>,
}

impl<K: Copy + Eq + Hash> Domain<K> {
    fn constant(v: f32) -> Domain<K> {
        Domain {
            support: HashMap::new(),
            default: Some(v),
        }
    }

    fn map(mut self, f: impl Fn(f32) -> f32) -> Domain<K> {
        self.support.values_mut().for_each(|v| *v = f(*v));
        self.default = self.default.map(f);
        self
    }

    fn merge(self, r: Domain<K>, op: impl Fn(f32, f32) -> f32) -> Domain<K> {
        let l = self;
        let mut support = HashMap::new();
        match (l.default, r.default) {
            (Some(a), Some(b)) => {
                for (k, lv) in &l.support {
                    support.insert(*k, op(*lv, r.support.get(k).copied().unwrap_or(b)));
                }
                for (k, rv) in &r.support {
                    support.entry(*k).or_insert_with(|| op(a, *rv));
                }
                Domain {
                    support,
                    default: Some(op(a, b)),
                }
            }
            (Some(a), None) => {
                for (k, rv) in &r.support {
                    support.insert(*k, op(l.support.get(k).copied().unwrap_or(a), *rv));
                }
                Domain {
                    support,
                    default: None,
                }
            }
            (None, Some(b)) => {
                for (k, lv) in &l.support {
                    support.insert(*k, op(*lv, r.support.get(k).copied().unwrap_or(b)));
                }
                Domain {
                    support,
                    default: None,
                }
            }
            (None, None) => {
                for (k, lv) in &l.support {
                    if let Some(rv) = r.support.get(k) {
                        support.insert(*k, op(*lv, *rv));
                    }
                }
                Domain {
                    support,
                    default: None,
                }
            }
        }
    }
}

/// Evaluates `rank`, taking the Knn leaves' domains from `leaves` in
/// depth-first, left-to-right order ([`Rank::leaves`]'s).
pub(crate) fn evaluate<K: Copy + Eq + Hash, I: Iterator<Item = Domain<K>>>(
    rank: &Rank,
    leaves: &mut I,
) -> Domain<K> {
    fn fold<K: Copy + Eq + Hash, I: Iterator<Item = Domain<K>>>(
        items: &[Rank],
        leaves: &mut I,
        start: f32,
        op: fn(f32, f32) -> f32,
    ) -> Domain<K> {
        let mut acc = Domain::constant(start);
        for r in items {
            let next = evaluate(r, leaves);
            acc = acc.merge(next, op);
        }
        acc
    }
    match rank {
        Rank::Knn(_) => leaves.next().unwrap_or(Domain {
            support: HashMap::new(),
            default: None,
        }),
        Rank::Val(v) => Domain::constant(*v),
        Rank::Sum(items) => fold(items, leaves, 0.0, |a, b| a + b),
        Rank::Mul(items) => fold(items, leaves, 1.0, |a, b| a * b),
        Rank::Max(items) => fold(items, leaves, f32::MIN, f32::max),
        Rank::Min(items) => fold(items, leaves, f32::MAX, f32::min),
        Rank::Sub(a, b) => {
            let l = evaluate(a, leaves);
            l.merge(evaluate(b, leaves), |x, y| x - y)
        }
        Rank::Div(a, b) => {
            let l = evaluate(a, leaves);
            l.merge(evaluate(b, leaves), |x, y| x / y)
        }
        Rank::Abs(a) => evaluate(a, leaves).map(f32::abs),
        Rank::Exp(a) => evaluate(a, leaves).map(f32::exp),
        Rank::Log(a) => evaluate(a, leaves).map(f32::ln),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{Knn, QueryVector};

    fn knn() -> Rank {
        Rank::Knn(Knn {
            query: QueryVector::Dense(vec![0.0]),
            key: "#embedding".into(),
            limit: 3,
            default: None,
            return_rank: false,
        })
    }

    fn dom(pairs: &[(u32, f32)], default: Option<f32>) -> Domain<u32> {
        Domain {
            support: pairs.iter().copied().collect(),
            default,
        }
    }

    fn run(rank: &Rank, leaves: Vec<Domain<u32>>) -> Vec<(u32, f32)> {
        let mut out: Vec<(u32, f32)> = evaluate(rank, &mut leaves.into_iter())
            .support
            .into_iter()
            .collect();
        out.sort_by_key(|p| p.0);
        out
    }

    #[test]
    fn the_merge_table() {
        let a = || dom(&[(1, 1.0), (2, 2.0)], None);
        let b = || dom(&[(2, 10.0), (3, 30.0)], None);
        let sum = Rank::Sum(vec![knn(), knn()]);
        // Neither has a default: the intersection.
        assert_eq!(run(&sum, vec![a(), b()]), vec![(2, 12.0)]);
        // The right has one: the left's ids.
        assert_eq!(
            run(&sum, vec![a(), dom(&[(2, 10.0), (3, 30.0)], Some(100.0))]),
            vec![(1, 101.0), (2, 12.0)]
        );
        // Both have one: the union.
        assert_eq!(
            run(
                &sum,
                vec![dom(&[(1, 1.0)], Some(5.0)), dom(&[(3, 3.0)], Some(7.0))]
            ),
            vec![(1, 8.0), (3, 8.0)]
        );
        // No Knn at all: nothing.
        assert!(run(&Rank::Val(1.0), vec![]).is_empty());
        assert!(run(&Rank::Sum(vec![]), vec![]).is_empty());
        // Unary functions and the n-ary identities.
        let neg = Rank::Mul(vec![Rank::Val(-1.0), knn()]);
        assert_eq!(run(&neg, vec![a()]), vec![(1, -1.0), (2, -2.0)]);
        let log = Rank::Log(Box::new(knn()));
        let got = run(&log, vec![dom(&[(1, 0.0), (2, -1.0)], None)]);
        assert_eq!(got[0], (1, f32::NEG_INFINITY));
        assert!(got[1].1.is_nan());
        let max = Rank::Max(vec![knn()]);
        assert_eq!(run(&max, vec![dom(&[(1, -3.0)], None)]), vec![(1, -3.0)]);
        // RRF as the Python client sends it: -(1/(60 + r)).
        let rrf = Rank::Mul(vec![
            Rank::Val(-1.0),
            Rank::Div(
                Box::new(Rank::Val(1.0)),
                Box::new(Rank::Sum(vec![Rank::Val(60.0), knn()])),
            ),
        ]);
        assert_eq!(
            run(&rrf, vec![dom(&[(1, 0.0)], None)]),
            vec![(1, -1.0 / 60.0)]
        );
    }
}
