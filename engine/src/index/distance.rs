//! Chroma's three distances (`../shared/chroma-api.md` §7.1), computed in f32.

use crate::types::Space;

/// Squared Euclidean distance.
pub fn l2_squared(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// Dot product.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Euclidean norm.
pub fn norm(a: &[f32]) -> f32 {
    dot(a, a).sqrt()
}

/// The distance between `a` and `b` in `space`, as Chroma reports it:
/// l2 is squared, cosine is `1 - cos`, ip is `1 - dot`.
pub fn distance(space: Space, a: &[f32], b: &[f32]) -> f32 {
    match space {
        Space::L2 => l2_squared(a, b),
        Space::Ip => 1.0 - dot(a, b),
        Space::Cosine => {
            let denom = norm(a) * norm(b);
            if denom == 0.0 {
                1.0
            } else {
                1.0 - dot(a, b) / denom
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The observed values of chroma-api.md §7.1: query [1,1] over a=[1,0], b=[0,2], c=[3,4].
    #[test]
    fn matches_chroma_observed_values() {
        let q = [1.0, 1.0];
        let (a, b, c) = ([1.0, 0.0], [0.0, 2.0], [3.0, 4.0]);
        assert_eq!(distance(Space::L2, &q, &a), 1.0);
        assert_eq!(distance(Space::L2, &q, &b), 2.0);
        assert_eq!(distance(Space::L2, &q, &c), 13.0);
        assert!((distance(Space::Cosine, &q, &c) - 0.010050476).abs() < 1e-6);
        assert!((distance(Space::Cosine, &q, &a) - 0.29289323).abs() < 1e-6);
        assert_eq!(distance(Space::Ip, &q, &c), -6.0);
        assert_eq!(distance(Space::Ip, &q, &b), -1.0);
        assert_eq!(distance(Space::Ip, &q, &a), 0.0);
    }
}
