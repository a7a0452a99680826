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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, op: i64, id: &str, v: Option<Vec<f32>>, meta: Option<&str>) -> QueueRow {
        QueueRow {
            seq,
            op,
            id: id.into(),
            vector: v,
            metadata: meta.map(str::to_string),
        }
    }

    #[test]
    fn queue_rows_apply_with_chroma_semantics() {
        let mut r = Records::new(Vec::new(), HashMap::new());
        // A 0.4-era add with `"chroma:document": null` (Chroma 1.5.9 panics
        // on it): "not given".
        r.apply(
            row(
                1,
                ADD,
                "a",
                Some(vec![1.0]),
                Some(r#"{"chroma:document": null, "n": 1, "f": 10.0}"#),
            ),
            0,
            0,
            false,
        )
        .unwrap();
        r.apply(row(2, ADD, "b", Some(vec![2.0]), None), 0, 0, false)
            .unwrap();
        // An add of an existing id is ignored entirely.
        r.apply(
            row(3, ADD, "a", Some(vec![9.0]), Some(r#"{"n": 9}"#)),
            0,
            0,
            false,
        )
        .unwrap();
        // Update merges; null removes a key and, for the document, removes it.
        r.apply(
            row(
                4,
                UPDATE,
                "b",
                None,
                Some(r#"{"chroma:document":"doc","k":"v"}"#),
            ),
            0,
            0,
            false,
        )
        .unwrap();
        r.apply(
            row(
                5,
                UPDATE,
                "a",
                Some(vec![3.0]),
                Some(r#"{"n":null,"arr":[1,2]}"#),
            ),
            0,
            0,
            false,
        )
        .unwrap();
        r.apply(
            row(6, UPDATE, "missing", Some(vec![5.0]), Some("{}")),
            0,
            0,
            false,
        )
        .unwrap();
        r.apply(
            row(
                7,
                UPSERT,
                "c",
                Some(vec![4.0]),
                Some(r#"{"chroma:uri":"u"}"#),
            ),
            0,
            0,
            false,
        )
        .unwrap();
        r.apply(row(8, DELETE, "b", None, Some("{}")), 0, 0, false)
            .unwrap();
        let out = r.finish();
        let ids: Vec<&str> = out.iter().map(|x| x.record.id.as_str()).collect();
        assert_eq!(ids, ["a", "c"]);
        let a = &out[0];
        assert_eq!(a.vector, Some(vec![3.0]));
        assert_eq!(a.record.document, None);
        assert_eq!(
            a.record.metadata.get("f"),
            Some(&MetadataValue::Float(10.0))
        );
        assert_eq!(a.record.metadata.get("n"), None);
        assert_eq!(
            a.record.metadata.get("arr"),
            Some(&MetadataValue::IntArray(vec![1, 2]))
        );
        assert_eq!(out[1].record.uri.as_deref(), Some("u"));
        assert_eq!(out[1].vector, Some(vec![4.0]));
    }

    #[test]
    fn rows_at_or_below_a_watermark_are_not_replayed() {
        let meta = vec![MetaRecord {
            id: "a".into(),
            document: Some("kept".into()),
            ..Default::default()
        }];
        let mut r = Records::new(meta, HashMap::from([("a".to_string(), vec![1.0])]));
        // Already in the files (seq 5 <= both watermarks): an old add after
        // which a delete was flushed must not resurrect anything.
        r.apply(row(5, ADD, "z", Some(vec![7.0]), Some("{}")), 5, 5, false)
            .unwrap();
        // Newer than the vector watermark only: vectors move, metadata not.
        r.apply(
            row(
                6,
                UPSERT,
                "a",
                Some(vec![2.0]),
                Some(r#"{"chroma:document":"new"}"#),
            ),
            5,
            6,
            false,
        )
        .unwrap();
        let out = r.finish();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].vector, Some(vec![2.0]));
        assert_eq!(out[0].record.document.as_deref(), Some("kept"));
    }

    #[test]
    fn cosine_queue_vectors_get_hnswlibs_round_trip() {
        let x = [0.1f32, -0.7, 3.3];
        let mut r = Records::new(Vec::new(), HashMap::new());
        r.apply(row(1, ADD, "a", Some(x.to_vec()), None), 0, 0, true)
            .unwrap();
        let v = r.finish().remove(0).vector.unwrap();
        assert_eq!(v, cosine_round_trip(&x));
        assert!(v
            .iter()
            .zip(x)
            .all(|(a, b)| (a - b).abs() <= 4.0 * f32::EPSILON * b.abs()));
    }
}
