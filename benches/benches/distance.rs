//! Distance kernels: the dispatched ones (AVX2+FMA where the CPU has it)
//! against the portable ones, at common embedding dimensions.
//!
//! Run: `cargo bench -p chromite-benches --bench distance`

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::hint::black_box;

use chromite_benches::gaussian_mixture;
use chromite_engine::index::distance::{self, portable};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn kernels(c: &mut Criterion) {
    eprintln!("dispatched distance kernels: {}", distance::kernel_name());
    let mut group = c.benchmark_group("distance");
    for dim in [384usize, 768, 1536] {
        let ds = gaussian_mixture(2, 0, dim, false, 1);
        let (a, b) = ds.vectors.split_at(dim);
        group.throughput(Throughput::Elements(1));
        group.bench_function(
            format!("l2_squared/{}/{dim}", distance::kernel_name()),
            |bch| bch.iter(|| distance::l2_squared(black_box(a), black_box(b))),
        );
        group.bench_function(format!("l2_squared/portable/{dim}"), |bch| {
            bch.iter(|| portable::l2_squared(black_box(a), black_box(b)))
        });
        group.bench_function(format!("dot/{}/{dim}", distance::kernel_name()), |bch| {
            bch.iter(|| distance::dot(black_box(a), black_box(b)))
        });
        group.bench_function(format!("dot/portable/{dim}"), |bch| {
            bch.iter(|| portable::dot(black_box(a), black_box(b)))
        });
    }
    group.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
