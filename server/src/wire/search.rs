//! `POST .../collections/{id}/search`: Chroma's `SearchRequestPayload` and
//! `SearchResponse` (`../shared/chroma-search-api.md` §1, §3). The serde
//! shapes reproduce Chroma's 422 texts: the rank is an externally tagged
//! enum whose variants are declared in Chroma's order, the query an untagged
//! `QueryVector`, `limit`/`offset`/`k` are `u32`, `$val` an `f32`; unknown
//! fields are ignored at every level.

use chromite_engine::search::{
    Aggregate, GroupBy, Key, Knn, QueryVector as EngineQuery, Rank, SearchHits, SearchPayload,
};
use chromite_engine::{Metadata, SparseVector, Where};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::{ApiError, ApiResult};

/// The request body.
#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    /// The searches, run against one view of the collection.
    pub searches: Vec<SearchPayloadWire>,
    /// Accepted; a single node reads everything acknowledged at any level.
    #[serde(default)]
    pub read_level: ReadLevel,
}

/// Chroma's read levels.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadLevel {
    /// Index and the whole WAL (the default).
    #[default]
    IndexAndWal,
    /// The compacted index only.
    IndexOnly,
    /// Index and a bounded WAL prefix.
    IndexAndBoundedWal,
}

/// One search.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SearchPayloadWire {
    #[serde(default)]
    filter: Filter,
    #[serde(default)]
    rank: Option<RankWire>,
    #[serde(default)]
    group_by: GroupByWire,
    #[serde(default)]
    limit: LimitWire,
    #[serde(default)]
    select: SelectWire,
}

/// A search filter: `null` and `{}` are none; otherwise a `where` with
/// `#id` and `#document` (parse errors are Chroma's 422).
#[derive(Debug, Clone, Default)]
struct Filter(Option<Where>);

impl<'de> Deserialize<'de> for Filter {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Filter, D::Error> {
        let v = Option::<serde_json::Value>::deserialize(d)?;
        match v {
            None => Ok(Filter(None)),
            Some(v) if v.as_object().is_some_and(|o| o.is_empty()) => Ok(Filter(None)),
            Some(v) => Where::parse_search(&v)
                .map(|w| Filter(Some(w)))
                .map_err(|_| serde::de::Error::custom("Invalid where clause")),
        }
    }
}

/// A rank expression, Chroma's `RankExpr` (variants in its order).
#[derive(Debug, Clone, Deserialize)]
enum RankWire {
    #[serde(rename = "$abs")]
    Abs(Box<RankWire>),
    #[serde(rename = "$div")]
    Div {
        left: Box<RankWire>,
        right: Box<RankWire>,
    },
    #[serde(rename = "$exp")]
    Exp(Box<RankWire>),
    #[serde(rename = "$knn")]
    Knn(KnnWire),
    #[serde(rename = "$log")]
    Log(Box<RankWire>),
    #[serde(rename = "$max")]
    Max(Vec<RankWire>),
    #[serde(rename = "$min")]
    Min(Vec<RankWire>),
    #[serde(rename = "$mul")]
    Mul(Vec<RankWire>),
    #[serde(rename = "$sub")]
    Sub {
        left: Box<RankWire>,
        right: Box<RankWire>,
    },
    #[serde(rename = "$sum")]
    Sum(Vec<RankWire>),
    #[serde(rename = "$val")]
    Val(f32),
}

fn embedding_key() -> String {
    "#embedding".into()
}

fn knn_limit() -> u32 {
    16
}

#[derive(Debug, Clone, Deserialize)]
struct KnnWire {
    query: QueryVector,
    #[serde(default = "embedding_key")]
    key: String,
    #[serde(default = "knn_limit")]
    limit: u32,
    #[serde(default)]
    default: Option<f32>,
    #[serde(default)]
    return_rank: bool,
}

/// Chroma's `QueryVector`: the enum's name is in its 422 message. A text
/// (which Chroma's clients embed before sending) is a Chromite extension:
/// the server embeds it with its model, like `query_texts`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum QueryVector {
    Dense(Vec<f32>),
    Sparse(SparseQuery),
    Text(String),
}

/// A sparse query: `#type` optional (must be `sparse_vector`), `tokens`
/// optional, other fields ignored.
#[derive(Debug, Clone, Deserialize)]
struct SparseQuery {
    /// Checked by serde (only `sparse_vector` parses), unused after.
    #[serde(rename = "#type", default)]
    #[allow(dead_code)]
    kind: Option<SparseTag>,
    indices: Vec<u32>,
    values: Vec<f32>,
    #[serde(default)]
    tokens: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
enum SparseTag {
    #[serde(rename = "sparse_vector")]
    SparseVector,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct GroupByWire {
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    aggregate: Option<AggregateWire>,
}

#[derive(Debug, Clone, Deserialize)]
enum AggregateWire {
    #[serde(rename = "$min_k")]
    MinK { keys: Vec<String>, k: u32 },
    #[serde(rename = "$max_k")]
    MaxK { keys: Vec<String>, k: u32 },
}

#[derive(Debug, Clone, Default, Deserialize)]
struct LimitWire {
    #[serde(default)]
    offset: u32,
    #[serde(default)]
    limit: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct SelectWire {
    #[serde(default)]
    keys: Vec<String>,
}

/// Why the first invalid sparse query of a rank (depth first) is invalid.
fn first_bad_sparse(r: &RankWire) -> Option<&'static str> {
    match r {
        RankWire::Abs(a) | RankWire::Exp(a) | RankWire::Log(a) => first_bad_sparse(a),
        RankWire::Div { left, right } | RankWire::Sub { left, right } => {
            first_bad_sparse(left).or_else(|| first_bad_sparse(right))
        }
        RankWire::Max(v) | RankWire::Min(v) | RankWire::Mul(v) | RankWire::Sum(v) => {
            v.iter().find_map(first_bad_sparse)
        }
        RankWire::Val(_) => None,
        RankWire::Knn(k) => match &k.query {
            QueryVector::Sparse(s) => SparseVector {
                indices: s.indices.clone(),
                values: s.values.clone(),
                tokens: s.tokens.clone(),
            }
            .check()
            .err(),
            _ => None,
        },
    }
}

/// The text queries of a rank, depth first, each with its key.
fn texts_of(r: &RankWire, out: &mut Vec<(String, String)>) {
    match r {
        RankWire::Abs(a) | RankWire::Exp(a) | RankWire::Log(a) => texts_of(a, out),
        RankWire::Div { left, right } | RankWire::Sub { left, right } => {
            texts_of(left, out);
            texts_of(right, out);
        }
        RankWire::Max(v) | RankWire::Min(v) | RankWire::Mul(v) | RankWire::Sum(v) => {
            v.iter().for_each(|r| texts_of(r, out))
        }
        RankWire::Val(_) => {}
        RankWire::Knn(k) => {
            if let QueryVector::Text(t) = &k.query {
                out.push((t.clone(), k.key.clone()));
            }
        }
    }
}

fn rank_of<E: Iterator<Item = Vec<f32>>>(r: RankWire, embedded: &mut E) -> ApiResult<Rank> {
    fn many<E: Iterator<Item = Vec<f32>>>(
        v: Vec<RankWire>,
        embedded: &mut E,
    ) -> ApiResult<Vec<Rank>> {
        v.into_iter().map(|r| rank_of(r, embedded)).collect()
    }
    fn one<E: Iterator<Item = Vec<f32>>>(b: RankWire, embedded: &mut E) -> ApiResult<Box<Rank>> {
        rank_of(b, embedded).map(Box::new)
    }
    Ok(match r {
        RankWire::Abs(a) => Rank::Abs(one(*a, embedded)?),
        RankWire::Exp(a) => Rank::Exp(one(*a, embedded)?),
        RankWire::Log(a) => Rank::Log(one(*a, embedded)?),
        RankWire::Div { left, right } => Rank::Div(one(*left, embedded)?, one(*right, embedded)?),
        RankWire::Sub { left, right } => Rank::Sub(one(*left, embedded)?, one(*right, embedded)?),
        RankWire::Max(v) => Rank::Max(many(v, embedded)?),
        RankWire::Min(v) => Rank::Min(many(v, embedded)?),
        RankWire::Mul(v) => Rank::Mul(many(v, embedded)?),
        RankWire::Sum(v) => Rank::Sum(many(v, embedded)?),
        RankWire::Val(x) => Rank::Val(x),
        RankWire::Knn(k) => {
            let query = match k.query {
                QueryVector::Dense(v) => EngineQuery::Dense(v),
                QueryVector::Text(_) => EngineQuery::Dense(
                    embedded
                        .next()
                        .ok_or_else(|| ApiError::internal("a text query was not embedded"))?,
                ),
                // Checked by `problems` first.
                QueryVector::Sparse(s) => EngineQuery::Sparse(SparseVector {
                    indices: s.indices,
                    values: s.values,
                    tokens: s.tokens,
                }),
            };
            Rank::Knn(Knn {
                query,
                key: k.key,
                limit: k.limit as usize,
                default: k.default,
                return_rank: k.return_rank,
            })
        }
    })
}

fn is_reserved(name: &str, score_ok: bool) -> bool {
    matches!(name, "#document" | "#embedding" | "#metadata") || (!score_ok && name == "#score")
}

impl SearchPayloadWire {
    /// The payload's Knn queries given as text, depth first, each with its
    /// key (they are embedded by the server's model).
    pub fn texts(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(r) = &self.rank {
            texts_of(r, &mut out);
        }
        out
    }

    /// Chroma's validation errors of payload `i`, each as
    /// `searches[i].field: message`, in field order: the first invalid
    /// sparse query of the rank, the first `group_by` error, then the
    /// payload-level one (`group_by` without a rank). The handler joins
    /// every payload's with `\n`, as Chroma joins field errors.
    pub fn problems(&self, i: usize) -> Vec<String> {
        let mut out = Vec::new();
        let at = |field: &str, msg: &str| format!("searches[{i}].{field}: {msg}");
        if let Some(why) = self.rank.as_ref().and_then(first_bad_sparse) {
            out.push(at(
                "rank",
                &format!("Invalid sparse vector in KNN query: {why}"),
            ));
        }
        let g = &self.group_by;
        match (g.keys.is_empty(), &g.aggregate) {
            (true, None) => {}
            (false, Some(a)) => {
                let (keys, k) = match a {
                    AggregateWire::MinK { keys, k } | AggregateWire::MaxK { keys, k } => (keys, *k),
                };
                let why = if g.keys.iter().any(|k| is_reserved(k, false)) {
                    Some("group_by keys must be metadata fields (cannot use #score, #document, #embedding, or #metadata)")
                } else if keys.is_empty() {
                    Some("aggregate keys must not be empty")
                } else if k == 0 {
                    Some("aggregate k must be greater than 0")
                } else if keys.iter().any(|k| is_reserved(k, true)) {
                    Some("aggregate keys must be metadata fields or #score (cannot use #document, #embedding, or #metadata)")
                } else {
                    None
                };
                match why {
                    Some(why) => out.push(at("group_by", why)),
                    None if self.rank.is_none() => out.push(at(
                        "__all__",
                        "group_by requires rank expression to be specified",
                    )),
                    None => {}
                }
            }
            _ => out.push(at(
                "group_by",
                "group_by keys and aggregate must both be specified or both be omitted",
            )),
        }
        out
    }

    /// The engine payload of a payload [`SearchPayloadWire::problems`]
    /// found nothing wrong with; `embedded` holds the vectors of
    /// [`SearchPayloadWire::texts`], in order.
    pub fn into_engine(
        self,
        embedded: &mut impl Iterator<Item = Vec<f32>>,
    ) -> ApiResult<SearchPayload> {
        let rank = self.rank.map(|r| rank_of(r, embedded)).transpose()?;
        let group_by = match (self.group_by.keys.is_empty(), self.group_by.aggregate) {
            (false, Some(a)) => {
                let (keys, k, max) = match a {
                    AggregateWire::MinK { keys, k } => (keys, k, false),
                    AggregateWire::MaxK { keys, k } => (keys, k, true),
                };
                let keys: Vec<Key> = keys.iter().map(|k| Key::parse(k)).collect();
                let k = k as usize;
                Some(GroupBy {
                    keys: self.group_by.keys,
                    aggregate: if max {
                        Aggregate::MaxK { keys, k }
                    } else {
                        Aggregate::MinK { keys, k }
                    },
                })
            }
            _ => None,
        };
        Ok(SearchPayload {
            filter: self.filter.0,
            rank,
            group_by,
            offset: self.limit.offset as usize,
            limit: self.limit.limit.map(|l| l as usize),
            select: self.select.keys.iter().map(|k| Key::parse(k)).collect(),
        })
    }
}

/// The response: one entry per payload in each column.
#[derive(Debug, Default, Serialize)]
pub struct SearchResponse {
    /// Ids per payload.
    pub ids: Vec<Vec<String>>,
    /// Documents per payload (`null` unless `#document` was selected).
    pub documents: Vec<Option<Vec<Option<String>>>>,
    /// Embeddings per payload (`null` unless `#embedding` was selected).
    pub embeddings: Vec<Option<Vec<Vec<f32>>>>,
    /// Metadata per payload (`null` unless `#metadata` or a field was selected).
    pub metadatas: Vec<Option<Vec<Option<Metadata>>>>,
    /// Scores per payload (`null` unless `#score` was selected; a
    /// non-finite score is `null`).
    pub scores: Vec<Option<Vec<Option<f32>>>>,
    /// The selected keys per payload, sorted.
    pub select: Vec<Vec<String>>,
}

impl From<Vec<SearchHits>> for SearchResponse {
    fn from(hits: Vec<SearchHits>) -> SearchResponse {
        let mut r = SearchResponse::default();
        for h in hits {
            r.ids.push(h.ids);
            r.documents.push(h.documents);
            r.embeddings.push(h.embeddings);
            r.metadatas.push(h.metadatas);
            r.scores.push(h.scores);
            r.select
                .push(h.select.iter().map(|k| k.name().to_string()).collect());
        }
        r
    }
}
