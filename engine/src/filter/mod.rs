//! Chroma's `where` and `where_document` filters: parsed from JSON into a
//! typed AST (`parse`), evaluated against a record's metadata and document
//! (`eval`, `document`), and narrowed with a per-segment inverted
//! [`MetadataIndex`] (`index`).
//!
//! The grammar and semantics are Chroma 1.5.9's (`../shared/chroma-api.md` §6).

mod ast;
mod document;
mod eval;
mod index;
mod numeric;
mod parse;

pub use crate::row_set::Row;
pub use ast::{Comparison, DocumentTest, IdTest, Number, Pattern, Scalar, Where, WhereDocument};
pub use index::{Candidates, MetadataIndex};
pub use numeric::NumKey;
pub use parse::{DOCUMENT_KEY, INVALID_WHERE, INVALID_WHERE_DOCUMENT};
