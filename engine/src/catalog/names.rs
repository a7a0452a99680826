//! Chroma's name rules for tenants, databases and collections, with its
//! exact error messages (`chroma-api.md` §2, §4).

use crate::error::{Error, Result};

const RULE: &str = "Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a character in [a-zA-Z0-9]. Got: ";

fn rule_violation(name: &str, prefix: &str) -> Option<String> {
    let len = name.chars().count();
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    let ok = (3..=512).contains(&len)
        && name.chars().all(allowed)
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if !ok {
        return Some(format!("{prefix}{RULE}{name}"));
    }
    if name.contains("..") {
        return Some(format!(
            "{prefix}Expected a name that does not contains two consecutive periods (..). Got {name}"
        ));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some(format!(
            "{prefix}Expected a name that is not a valid ip address. Got {name}"
        ));
    }
    None
}

/// Checks a collection name.
pub fn check_collection(name: &str) -> Result<()> {
    match rule_violation(name, "Validation error: name: ") {
        Some(msg) => Err(Error::invalid(msg)),
        None => Ok(()),
    }
}

/// Checks a database name (same rule, no "Validation error" prefix).
pub fn check_database(name: &str) -> Result<()> {
    match rule_violation(name, "") {
        Some(msg) => Err(Error::invalid(msg)),
        None => Ok(()),
    }
}

/// Checks a tenant name (at least 3 characters).
pub fn check_tenant(name: &str) -> Result<()> {
    if name.chars().count() < 3 {
        return Err(Error::invalid(format!(
            "Validation error: name: Validation error: length [{{\"min\": Number(3), \"value\": String({name:?})}}]"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<()>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn collection_names() {
        assert!(check_collection("abc").is_ok());
        assert!(check_collection("a.b_c-d9").is_ok());
        assert_eq!(
            msg(check_collection("ab")),
            "Validation error: name: Expected a name containing 3-512 characters from [a-zA-Z0-9._-], starting and ending with a character in [a-zA-Z0-9]. Got: ab"
        );
        assert!(check_collection("-abc").is_err());
        assert!(check_collection("abc_").is_err());
        assert!(check_collection("ab c").is_err());
        assert!(check_collection(&"a".repeat(513)).is_err());
        assert!(check_collection(&"a".repeat(512)).is_ok());
        assert_eq!(
            msg(check_collection("a..b")),
            "Validation error: name: Expected a name that does not contains two consecutive periods (..). Got a..b"
        );
        assert_eq!(
            msg(check_collection("127.0.0.1")),
            "Validation error: name: Expected a name that is not a valid ip address. Got 127.0.0.1"
        );
    }

    #[test]
    fn database_and_tenant_names() {
        assert!(msg(check_database("x")).starts_with("Expected a name containing 3-512"));
        assert_eq!(
            msg(check_tenant("t1")),
            r#"Validation error: name: Validation error: length [{"min": Number(3), "value": String("t1")}]"#
        );
        assert!(check_tenant("abc").is_ok());
    }
}
