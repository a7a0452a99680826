//! A collection's records rebuilt from a Chroma directory
//! (`../shared/chroma-format.md` §5): the METADATA segment's rows, the
//! flushed index's vectors, and the queue replayed on top of each from its
//! own watermark, with Chroma's write semantics (§2.3): `add` of an
//! existing id is ignored, `update` of a missing one too, `update` and
//! `upsert` merge metadata (a JSON `null` removes the key).

use std::collections::HashMap;

use chromite_engine::MetadataValue;
use serde_json::Value;

use super::hnsw::cosine_round_trip;
use super::sqlite::{MetaRecord, QueueRow};

const ADD: i64 = 0;
const UPDATE: i64 = 1;
const UPSERT: i64 = 2;
const DELETE: i64 = 3;

/// Records in Chroma's `get()` order, each with its vector once known.
#[derive(Debug, Default)]
pub struct Records {
    order: Vec<String>,
    by_id: HashMap<String, MetaRecord>,
    vectors: HashMap<String, Vec<f32>>,
}

/// One finished record.
pub struct Rebuilt {
    pub record: MetaRecord,
    pub vector: Option<Vec<f32>>,
}

impl Records {
    /// The METADATA segment's records and the flushed vectors.
    pub fn new(meta: Vec<MetaRecord>, vectors: HashMap<String, Vec<f32>>) -> Records {
        let order = meta.iter().map(|r| r.id.clone()).collect();
        let by_id = meta.into_iter().map(|r| (r.id.clone(), r)).collect();
        Records {
            order,
            by_id,
            vectors,
        }
    }

    /// Applies queue row `r`: to the vectors if it is newer than the
    /// vector watermark `wv`, to the records if newer than the metadata
    /// watermark `wm` (rows a crash left unapplied).
    pub fn apply(&mut self, r: QueueRow, wv: u64, wm: u64, cosine: bool) -> Result<(), String> {
        if r.seq > wv {
            let v = r.vector.as_deref().map(|v| {
                if cosine {
                    cosine_round_trip(v)
                } else {
                    v.to_vec()
                }
            });
            match (r.op, v) {
                (ADD, Some(v)) => {
                    self.vectors.entry(r.id.clone()).or_insert(v);
                }
                (UPDATE, Some(v)) => {
                    if let Some(old) = self.vectors.get_mut(&r.id) {
                        *old = v;
                    }
                }
                (UPSERT, Some(v)) => {
                    self.vectors.insert(r.id.clone(), v);
                }
                (DELETE, _) => {
                    self.vectors.remove(&r.id);
                }
                _ => {}
            }
        }
        if r.seq > wm {
            let json = match r.metadata.as_deref() {
                None | Some("") => serde_json::Map::new(),
                Some(s) => match serde_json::from_str::<Value>(s) {
                    Ok(Value::Object(m)) => m,
                    Ok(Value::Null) => serde_json::Map::new(),
                    _ => {
                        return Err(format!(
                            "queue row {} has metadata that is not a JSON object",
                            r.seq
                        ))
                    }
                },
            };
            let present = self.by_id.contains_key(&r.id);
            match r.op {
                ADD if !present => {
                    let mut rec = MetaRecord {
                        id: r.id.clone(),
                        ..Default::default()
                    };
                    merge(&mut rec, json, r.seq)?;
                    self.order.push(r.id.clone());
                    self.by_id.insert(r.id, rec);
                }
                UPSERT if !present => {
                    let mut rec = MetaRecord {
                        id: r.id.clone(),
                        ..Default::default()
                    };
                    merge(&mut rec, json, r.seq)?;
                    self.order.push(r.id.clone());
                    self.by_id.insert(r.id, rec);
                }
                UPDATE | UPSERT if present => {
                    if let Some(rec) = self.by_id.get_mut(&r.id) {
                        merge(rec, json, r.seq)?;
                    }
                }
                DELETE if present => {
                    self.by_id.remove(&r.id);
                    self.order.retain(|id| *id != r.id);
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The records in order, each with its vector (`None`: the files and
    /// the queue lost it).
    pub fn finish(mut self) -> Vec<Rebuilt> {
        self.order
            .into_iter()
            .filter_map(|id| {
                let record = self.by_id.remove(&id)?;
                let vector = self.vectors.remove(&id);
                Some(Rebuilt { record, vector })
            })
            .collect()
    }
}

/// Merges a queue row's metadata into `rec`: `chroma:document` and
/// `chroma:uri` replace the document and URI (`null`: 0.4-era "not
/// given" on an add, "remove" on an update), other keys are set, `null`
/// removes one.
fn merge(
    rec: &mut MetaRecord,
    json: serde_json::Map<String, Value>,
    seq: u64,
) -> Result<(), String> {
    for (k, v) in json {
        match (k.as_str(), v) {
            ("chroma:document", Value::String(s)) => rec.document = Some(s),
            ("chroma:document", _) => rec.document = None,
            ("chroma:uri", Value::String(s)) => rec.uri = Some(s),
            ("chroma:uri", _) => rec.uri = None,
            (_, Value::Null) => {
                rec.metadata.remove(&k);
            }
            (_, v) => {
                let value = value_of(&v).ok_or_else(|| {
                    format!("queue row {seq}: metadata key {k:?} has an unsupported value {v}")
                })?;
                rec.metadata.insert(k, value);
            }
        }
    }
    Ok(())
}

/// A JSON metadata value as Chroma stores it: an integer stays an
/// integer, a number with a fraction or exponent is a float.
fn value_of(v: &Value) -> Option<MetadataValue> {
    Some(match v {
        Value::Bool(b) => MetadataValue::Bool(*b),
        Value::String(s) => MetadataValue::Str(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => MetadataValue::Int(i),
            None => MetadataValue::Float(n.as_f64()?),
        },
        Value::Array(a) => match a.first()? {
            Value::Bool(_) => {
                MetadataValue::BoolArray(a.iter().map(Value::as_bool).collect::<Option<_>>()?)
            }
            Value::String(_) => MetadataValue::StrArray(
                a.iter()
                    .map(|x| x.as_str().map(str::to_string))
                    .collect::<Option<_>>()?,
            ),
            Value::Number(n) if n.is_i64() => {
                MetadataValue::IntArray(a.iter().map(Value::as_i64).collect::<Option<_>>()?)
            }
            Value::Number(_) => {
                MetadataValue::FloatArray(a.iter().map(Value::as_f64).collect::<Option<_>>()?)
            }
            _ => return None,
        },
        Value::Object(_) => serde_json::from_value(v.clone()).ok()?,
        Value::Null => return None,
    })
}
