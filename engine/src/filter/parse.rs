//! Chroma's filter JSON to the typed AST.
//!
//! Grammar (`../shared/chroma-api.md` §6):
//!
//! ```text
//! where      := {"$and": [where*]} | {"$or": [where*]} | {key: scalar} | {key: {op: operand}}
//! op         := $eq | $ne            (scalar)
//!             | $gt | $gte | $lt | $lte   (number)
//!             | $in | $nin           (non-empty one-kind list of scalars)
//!             | $contains | $not_contains (scalar; a string on key "#document")
//!             | $regex | $not_regex  (string; only on key "#document")
//! where_doc  := {"$and": [where_doc*]} | {"$or": [where_doc*]}
//!             | {"$contains" | "$not_contains" | "$regex" | "$not_regex": string}
//! ```
//!
//! Every object has exactly one key. Errors are `InvalidArgument` with
//! Chroma's exact text, `Invalid where clause` / `Invalid where document
//! clause` (Python tests regex-match it), or Chroma's `Regex syntax error: ...`
//! for a bad pattern; the reason is logged at debug level.

use serde_json::{Map, Value};

use super::ast::{Comparison, DocumentTest, IdTest, Number, Pattern, Scalar, Where, WhereDocument};
use crate::error::{Error, Result};

/// Chroma's message for any malformed `where`.
pub const INVALID_WHERE: &str = "Invalid where clause";
/// Chroma's message for any malformed `where_document`.
pub const INVALID_WHERE_DOCUMENT: &str = "Invalid where document clause";

/// The metadata key under which `where` holds document tests.
pub const DOCUMENT_KEY: &str = "#document";

fn bad_where(detail: &str) -> Error {
    tracing::debug!(detail, "{INVALID_WHERE}");
    Error::invalid(INVALID_WHERE)
}

fn bad_where_document(detail: &str) -> Error {
    tracing::debug!(detail, "{INVALID_WHERE_DOCUMENT}");
    Error::invalid(INVALID_WHERE_DOCUMENT)
}

fn bad_regex(msg: String) -> Error {
    tracing::debug!(detail = %msg, "invalid regex in filter");
    Error::invalid(msg)
}

/// The single `(key, value)` of a one-key object.
fn single_entry(map: &Map<String, Value>) -> Option<(&String, &Value)> {
    if map.len() != 1 {
        return None;
    }
    map.iter().next()
}

impl Where {
    /// Parses Chroma's JSON `where`; errors are `InvalidArgument("Invalid where clause")`
    /// (or `"Regex syntax error: ..."` for a bad `$regex` pattern).
    ///
    /// `{}` is an error here: old clients' `{}` meaning "no filter" is the
    /// server's to handle.
    pub fn parse(json: &Value) -> Result<Where> {
        parse_where(json, false)
    }

    /// Parses a Search API `filter`: a `where` in which the key `#id` tests
    /// the record id (`$eq`, `$ne`, `$in`, `$nin`; any other operator on it
    /// matches nothing).
    pub fn parse_search(json: &Value) -> Result<Where> {
        parse_where(json, true)
    }
}

/// The key under which a search filter tests record ids.
pub const ID_KEY: &str = "#id";

fn parse_where(json: &Value, ids: bool) -> Result<Where> {
    {
        let map = json
            .as_object()
            .ok_or_else(|| bad_where("not a JSON object"))?;
        let (key, value) =
            single_entry(map).ok_or_else(|| bad_where("an object must have exactly one key"))?;
        match key.as_str() {
            "$and" | "$or" => {
                let items = value
                    .as_array()
                    .ok_or_else(|| bad_where("$and/$or needs a list"))?;
                let children = items
                    .iter()
                    .map(|w| parse_where(w, ids))
                    .collect::<Result<Vec<_>>>()?;
                Ok(if key == "$and" {
                    Where::And(children)
                } else {
                    Where::Or(children)
                })
            }
            k if k.starts_with('$') => Err(bad_where("unknown top-level operator")),
            ID_KEY if ids => parse_id(value),
            _ => parse_field(key, value),
        }
    }
}

fn parse_id(value: &Value) -> Result<Where> {
    let as_ids = |v: &Value| -> Result<std::collections::HashSet<String>> {
        match v {
            Value::String(s) => Ok([s.clone()].into()),
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad_where("#id needs strings"))
                })
                .collect(),
            _ => Err(bad_where("#id needs a string or a list of strings")),
        }
    };
    if value.is_string() {
        return Ok(Where::Id(IdTest::In(as_ids(value)?)));
    }
    let ops = value
        .as_object()
        .ok_or_else(|| bad_where("#id needs a string or an operator object"))?;
    let (op, operand) = single_entry(ops)
        .ok_or_else(|| bad_where("an operator object must have exactly one key"))?;
    Ok(Where::Id(match op.as_str() {
        "$eq" | "$in" => IdTest::In(as_ids(operand)?),
        "$ne" | "$nin" => IdTest::Nin(as_ids(operand)?),
        _ => IdTest::In(Default::default()),
    }))
}

fn parse_field(key: &str, value: &Value) -> Result<Where> {
    let field = |op| {
        Ok(Where::Field {
            key: key.to_owned(),
            op,
        })
    };
    if let Some(scalar) = scalar(value) {
        return field(Comparison::Eq(scalar?));
    }
    let ops = value
        .as_object()
        .ok_or_else(|| bad_where("a field needs a scalar or an operator object"))?;
    let (op, operand) = single_entry(ops)
        .ok_or_else(|| bad_where("an operator object must have exactly one key"))?;
    let need_scalar = || match scalar(operand) {
        Some(s) => s,
        None => Err(bad_where("operator needs a string, number or boolean")),
    };
    let need_number = || match operand {
        Value::Number(_) => match scalar(operand) {
            Some(Ok(Scalar::Int(i))) => Ok(Number::Int(i)),
            Some(Ok(Scalar::Float(f))) => Ok(Number::Float(f)),
            _ => Err(bad_where("number out of range")),
        },
        _ => Err(bad_where("comparison operator needs a number")),
    };
    let need_string = || {
        operand
            .as_str()
            .ok_or_else(|| bad_where("document operator needs a string"))
    };
    let is_document = key == DOCUMENT_KEY;
    match op.as_str() {
        "$eq" => field(Comparison::Eq(need_scalar()?)),
        "$ne" => field(Comparison::Ne(need_scalar()?)),
        "$gt" => field(Comparison::Gt(need_number()?)),
        "$gte" => field(Comparison::Gte(need_number()?)),
        "$lt" => field(Comparison::Lt(need_number()?)),
        "$lte" => field(Comparison::Lte(need_number()?)),
        "$in" => field(Comparison::In(scalar_list(operand)?)),
        "$nin" => field(Comparison::Nin(scalar_list(operand)?)),
        "$contains" if is_document => Ok(Where::Document(DocumentTest::Contains(
            need_string()?.to_owned(),
        ))),
        "$not_contains" if is_document => Ok(Where::Document(DocumentTest::NotContains(
            need_string()?.to_owned(),
        ))),
        "$contains" => field(Comparison::Contains(need_scalar()?)),
        "$not_contains" => field(Comparison::NotContains(need_scalar()?)),
        "$regex" | "$not_regex" if is_document => {
            let pattern = Pattern::new(need_string()?).map_err(bad_regex)?;
            Ok(Where::Document(if op == "$regex" {
                DocumentTest::Regex(pattern)
            } else {
                DocumentTest::NotRegex(pattern)
            }))
        }
        "$regex" | "$not_regex" => Err(bad_where("$regex/$not_regex only apply to #document")),
        _ => Err(bad_where("unknown operator")),
    }
}

/// `None` if `v` is not a string, bool or number; `Some(Err)` for a number
/// that fits neither i64 nor a float literal (e.g. an integer above i64::MAX).
fn scalar(v: &Value) -> Option<Result<Scalar>> {
    match v {
        Value::String(s) => Some(Ok(Scalar::Str(s.clone()))),
        Value::Bool(b) => Some(Ok(Scalar::Bool(*b))),
        Value::Number(n) => Some(if let Some(i) = n.as_i64() {
            Ok(Scalar::Int(i))
        } else if n.is_f64() {
            n.as_f64()
                .map(Scalar::Float)
                .ok_or_else(|| bad_where("bad float"))
        } else {
            Err(bad_where("integer out of the i64 range"))
        }),
        _ => None,
    }
}

/// A `$in`/`$nin` operand: a non-empty list of one kind. As in Chroma, the
/// first element picks the kind; a list starting with a float takes later
/// integers as floats, one starting with an integer rejects floats.
fn scalar_list(v: &Value) -> Result<Vec<Scalar>> {
    let items = v
        .as_array()
        .ok_or_else(|| bad_where("$in/$nin needs a list"))?;
    let first = items
        .first()
        .ok_or_else(|| bad_where("$in/$nin needs a non-empty list"))?;
    let mixed = || bad_where("$in/$nin list must hold one type");
    let convert: fn(&Value) -> Option<Scalar> = match first {
        Value::String(_) => |x| x.as_str().map(|s| Scalar::Str(s.to_owned())),
        Value::Bool(_) => |x| x.as_bool().map(Scalar::Bool),
        Value::Number(n) if n.is_f64() => |x| x.as_f64().map(Scalar::Float),
        Value::Number(n) if n.is_i64() => |x| x.as_i64().map(Scalar::Int),
        _ => {
            return Err(bad_where(
                "$in/$nin list must hold strings, numbers or booleans",
            ))
        }
    };
    items.iter().map(|x| convert(x).ok_or_else(mixed)).collect()
}

impl WhereDocument {
    /// Parses Chroma's JSON `where_document`; errors are
    /// `InvalidArgument("Invalid where document clause")` (or
    /// `"Regex syntax error: ..."` for a bad pattern).
    pub fn parse(json: &Value) -> Result<WhereDocument> {
        let map = json
            .as_object()
            .ok_or_else(|| bad_where_document("not a JSON object"))?;
        let (key, value) = single_entry(map)
            .ok_or_else(|| bad_where_document("an object must have exactly one key"))?;
        if key == "$and" || key == "$or" {
            let items = value
                .as_array()
                .ok_or_else(|| bad_where_document("$and/$or needs a list"))?;
            let children = items
                .iter()
                .map(WhereDocument::parse)
                .collect::<Result<Vec<_>>>()?;
            return Ok(if key == "$and" {
                WhereDocument::And(children)
            } else {
                WhereDocument::Or(children)
            });
        }
        let text = || {
            value
                .as_str()
                .ok_or_else(|| bad_where_document("operator needs a string"))
        };
        let test = match key.as_str() {
            "$contains" => DocumentTest::Contains(text()?.to_owned()),
            "$not_contains" => DocumentTest::NotContains(text()?.to_owned()),
            "$regex" => DocumentTest::Regex(Pattern::new(text()?).map_err(bad_regex)?),
            "$not_regex" => DocumentTest::NotRegex(Pattern::new(text()?).map_err(bad_regex)?),
            _ => return Err(bad_where_document("unknown operator")),
        };
        Ok(WhereDocument::Test(test))
    }
}
