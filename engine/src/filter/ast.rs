//! The typed form of Chroma's filters, as [`Where::parse`] and
//! [`WhereDocument::parse`] produce them.
//!
//! Invariants the parser guarantees (and evaluation and the metadata index
//! rely on): `In`/`Nin` lists are non-empty and of one [`Scalar`] kind (ints
//! and floats may mix only as Chroma's parser allows: a list that starts with
//! a float is all floats); regex patterns compiled.

use std::fmt;

use regex::Regex;

/// A parsed `where` clause: a metadata filter, which may also hold document
/// tests under the key `#document`.
#[derive(Debug, Clone, PartialEq)]
pub enum Where {
    /// `{"$and": [...]}`: every child matches (`[]` matches everything).
    And(Vec<Where>),
    /// `{"$or": [...]}`: some child matches (`[]` matches nothing).
    Or(Vec<Where>),
    /// `{"key": ...}`: a test on one metadata key.
    Field {
        /// The metadata key.
        key: String,
        /// The test applied to its value.
        op: Comparison,
    },
    /// `{"#document": {"$contains" | "$not_contains" | "$regex" | "$not_regex": "..."}}`.
    Document(DocumentTest),
    /// A test on the record id (`#id` in a search filter only).
    Id(IdTest),
}

/// A record-id test: `$eq`/`$in` and their negations; any other operator
/// on `#id` matches nothing (`In` of no id), as in Chroma.
#[derive(Debug, Clone, PartialEq)]
pub enum IdTest {
    /// The id is one of these.
    In(std::collections::HashSet<String>),
    /// The id is none of these.
    Nin(std::collections::HashSet<String>),
}

/// A test on one metadata value.
///
/// Negative operators are exact complements of their positive ones: they
/// match a record that lacks the key, has no metadata, or holds a value of
/// another type.
#[derive(Debug, Clone, PartialEq)]
pub enum Comparison {
    /// `$eq` (and the bare `{"key": scalar}` form). Never matches an array value.
    Eq(Scalar),
    /// `$ne`: not `$eq`.
    Ne(Scalar),
    /// `$gt` (numbers only).
    Gt(Number),
    /// `$gte` (numbers only).
    Gte(Number),
    /// `$lt` (numbers only).
    Lt(Number),
    /// `$lte` (numbers only).
    Lte(Number),
    /// `$in`: equal to one of the (non-empty, one-kind) list.
    In(Vec<Scalar>),
    /// `$nin`: not `$in`.
    Nin(Vec<Scalar>),
    /// `$contains` on a metadata key: the value is an array holding this element.
    Contains(Scalar),
    /// `$not_contains`: not `$contains`.
    NotContains(Scalar),
}

impl Comparison {
    /// Whether this is a negative operator (`$ne`, `$nin`, `$not_contains`),
    /// which matches records lacking the key.
    pub fn is_negative(&self) -> bool {
        matches!(
            self,
            Comparison::Ne(_) | Comparison::Nin(_) | Comparison::NotContains(_)
        )
    }
}

/// A scalar operand: Chroma's four metadata scalar types.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    /// A boolean; never equal to a number.
    Bool(bool),
    /// An integer (a JSON number without fraction or exponent).
    Int(i64),
    /// A float; compares numerically with integers.
    Float(f64),
    /// A string.
    Str(String),
}

/// A numeric operand of `$gt`, `$gte`, `$lt`, `$lte`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
}

/// A test on a record's document.
///
/// Records without a document never match the positive tests and always
/// match the negative ones.
#[derive(Debug, Clone, PartialEq)]
pub enum DocumentTest {
    /// `$contains`: case-sensitive substring (`""` matches every document).
    Contains(String),
    /// `$not_contains`.
    NotContains(String),
    /// `$regex`: the regex finds a match somewhere in the document.
    Regex(Pattern),
    /// `$not_regex`.
    NotRegex(Pattern),
}

/// A parsed `where_document` clause.
#[derive(Debug, Clone, PartialEq)]
pub enum WhereDocument {
    /// `{"$and": [...]}` (`[]` matches everything).
    And(Vec<WhereDocument>),
    /// `{"$or": [...]}` (`[]` matches nothing).
    Or(Vec<WhereDocument>),
    /// One document test.
    Test(DocumentTest),
}

/// A regular expression compiled once at parse time (Rust `regex` syntax, as
/// Chroma uses). Two patterns are equal when their source text is.
#[derive(Clone)]
pub struct Pattern {
    regex: Regex,
}

impl Pattern {
    /// Compiles `source`. The error text follows Chroma's
    /// (`Regex syntax error: ...`).
    pub fn new(source: &str) -> Result<Pattern, String> {
        match Regex::new(source) {
            Ok(regex) => Ok(Pattern { regex }),
            Err(regex::Error::Syntax(msg)) => Err(format!("Regex syntax error: {msg}")),
            Err(other) => Err(format!("Unexpected regex error: {other}")),
        }
    }

    /// The pattern's source text.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }

    /// The compiled regex.
    pub fn regex(&self) -> &Regex {
        &self.regex
    }
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Pattern").field(&self.as_str()).finish()
    }
}

impl Where {
    /// Whether evaluating this clause needs the record's document (it holds
    /// a `#document` test somewhere).
    pub fn uses_document(&self) -> bool {
        match self {
            Where::And(children) | Where::Or(children) => children.iter().any(Where::uses_document),
            Where::Field { .. } | Where::Id(_) => false,
            Where::Document(_) => true,
        }
    }
}
