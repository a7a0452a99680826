//! Chroma's Search API over one version (`../shared/chroma-search-api.md`
//! §2): every payload of a request sees the same version. Per payload: the
//! schema checks (disabled indexes, sparse keys), the filter, each Knn leaf
//! in depth-first order (dense: the collection's k-NN; sparse: `1 - q·d`
//! over the records that share a dimension with the query), the rank
//! algebra (`search/rank.rs`), `group_by`, the page, the projection. With no
//! rank, the filtered records in insertion order, scored by page position.
//!
//! Sparse leaves run MaxScore over the key's posting lists (`sparse.rs`).

use std::collections::HashMap;

use rayon::prelude::*;

use super::search::top_k;
use super::version::{Loc, Version};
use super::{validate, Collection};
use crate::error::{Error, Result};
use crate::index::RowSet;
use crate::metadata::Metadata;
use crate::schema::ValueType;
use crate::search::{evaluate, group, Domain, Key, Knn, QueryVector, SearchHits, SearchPayload};
use crate::types::Selection;

impl Collection {
    /// Runs search payloads against the current version, in order.
    pub fn search(&self, payloads: &[SearchPayload]) -> Result<Vec<SearchHits>> {
        self.core.check_alive()?;
        let v = self.core.version();
        for p in payloads {
            check(&v, p)?;
        }
        payloads
            .iter()
            .map(|p| self.run(&v, p))
            .collect::<Result<Vec<_>>>()
    }

    fn run(&self, v: &Version, p: &SearchPayload) -> Result<SearchHits> {
        let mut select = p.select.clone();
        select.sort();
        select.dedup();
        if v.dimension.is_none() {
            // Never written to: an empty result, not an error.
            return project(v, &[], &select);
        }
        let sel = Selection {
            r#where: p.filter.clone(),
            ..Default::default()
        };
        let Some(rank) = &p.rank else {
            let locs = super::select(v, &sel)?;
            let page: Vec<(Loc, f32)> = locs
                .into_iter()
                .skip(p.offset)
                .take(p.limit.unwrap_or(usize::MAX))
                .enumerate()
                .map(|(i, l)| (l, i as f32))
                .collect();
            return project(v, &page, &select);
        };
        let allowed = v.filtered(&sel)?;
        let leaves = rank
            .leaves()
            .par_iter()
            .map(|k| self.leaf(v, &allowed, k))
            .collect::<Result<Vec<_>>>()?;
        let scored = evaluate(rank, &mut leaves.into_iter()).support;
        let mut ranked: Vec<(Loc, f32, u64)> = scored
            .into_iter()
            .map(|(l, s)| (l, s, v.order(l)))
            .collect();
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.2.cmp(&b.2)));
        if let Some(by) = &p.group_by {
            ranked = group(ranked, by, |l| v.metadata(l));
        }
        let page: Vec<(Loc, f32)> = ranked
            .into_iter()
            .skip(p.offset)
            .take(p.limit.unwrap_or(usize::MAX))
            .map(|(l, s, _)| (l, s))
            .collect();
        project(v, &page, &select)
    }

    /// One Knn leaf: its top `limit` (measure, then insertion order) as a
    /// domain of distances or 0-based positions.
    fn leaf(&self, v: &Version, allowed: &[RowSet], k: &Knn) -> Result<Domain<Loc>> {
        let hits: Vec<(Loc, f32)> = match &k.query {
            QueryVector::Dense(q) => top_k(
                v,
                self.core.space,
                q,
                allowed,
                k.limit,
                v.config.hnsw.ef_search,
            )?
            .into_iter()
            .map(|h| (h.loc, h.dist))
            .collect(),
            QueryVector::Sparse(q) => {
                super::sparse::top_k(v, allowed, &k.key, q, v.schema.bm25(&k.key), k.limit)?
            }
        };
        let support: HashMap<Loc, f32> = hits
            .into_iter()
            .enumerate()
            .map(|(i, (l, d))| (l, if k.return_rank { i as f32 } else { d }))
            .collect();
        Ok(Domain {
            support,
            default: k.default,
        })
    }
}

/// The checks that run before anything executes: filters on disabled
/// indexes, sparse leaves on keys without an enabled sparse index, dense
/// queries of the wrong dimension.
fn check(v: &Version, p: &SearchPayload) -> Result<()> {
    if let Some(w) = &p.filter {
        v.schema.check_where(w)?;
    }
    for k in p.rank.iter().flat_map(|r| r.leaves()) {
        match &k.query {
            QueryVector::Sparse(_) => {
                if !v.schema.index_enabled(&k.key, ValueType::SparseVector) {
                    return Err(Error::invalid(format!(
                        "Cannot filter using metadata key '{}' with type 'SparseVector' because indexing is disabled",
                        k.key
                    )));
                }
            }
            QueryVector::Dense(q) => {
                if let Some(d) = v.dimension.filter(|&d| d != q.len()) {
                    return Err(validate::dimension_error(d, q.len()));
                }
            }
        }
    }
    Ok(())
}

/// The selected fields of `page` (records with their scores).
fn project(v: &Version, page: &[(Loc, f32)], select: &[Key]) -> Result<SearchHits> {
    let has = |k: &Key| select.contains(k);
    let fields: Vec<&str> = select
        .iter()
        .filter_map(|k| match k {
            Key::Field(f) => Some(f.as_str()),
            _ => None,
        })
        .collect();
    let mut out = SearchHits {
        ids: page.iter().map(|&(l, _)| v.id(l).to_string()).collect(),
        select: select.to_vec(),
        ..Default::default()
    };
    if has(&Key::Document) {
        out.documents = Some(
            page.iter()
                .map(|&(l, _)| v.document(l).map(str::to_string))
                .collect(),
        );
    }
    if has(&Key::Embedding) {
        out.embeddings = Some(
            page.iter()
                .map(|&(l, _)| v.embedding(l).map(<[f32]>::to_vec))
                .collect::<Result<_>>()?,
        );
    }
    if has(&Key::Metadata) || !fields.is_empty() {
        let all = has(&Key::Metadata);
        out.metadatas = Some(
            page.iter()
                .map(|&(l, _)| {
                    let m = v.metadata(l)?;
                    let m: Metadata = if all {
                        m.clone()
                    } else {
                        m.iter()
                            .filter(|(k, _)| fields.contains(&k.as_str()))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    };
                    (!m.is_empty()).then_some(m)
                })
                .collect(),
        );
    }
    if has(&Key::Score) {
        out.scores = Some(
            page.iter()
                .map(|&(_, s)| s.is_finite().then_some(s))
                .collect(),
        );
    }
    Ok(out)
}
