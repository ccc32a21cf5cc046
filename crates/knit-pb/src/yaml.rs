// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Project files read as YAML (merge keys applied), and a value together with where it
//! sits (file and key path), so that every error about a project can say which key is wrong.

use std::path::Path;

use serde_yaml::Value;

use crate::error::{PbError, Result};

/// A value of a project file and its key path.
#[derive(Debug, Clone)]
pub(crate) struct Node<'a> {
    value: &'a Value,
    file: &'a str,
    path: String,
}

impl<'a> Node<'a> {
    /// The root of a file.
    pub(crate) fn root(value: &'a Value, file: &'a str) -> Self {
        Self {
            value,
            file,
            path: String::new(),
        }
    }

    /// The file it is in.
    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    /// Its key path (empty at the root).
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// An error about this key.
    pub(crate) fn error(&self, reason: impl Into<String>) -> PbError {
        PbError::Key {
            file: self.file.to_string(),
            key: if self.path.is_empty() {
                "(top level)".to_string()
            } else {
                self.path.clone()
            },
            reason: reason.into(),
        }
    }

    pub(crate) fn child(&self, key: &str, value: &'a Value) -> Self {
        let path = if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        };
        Self {
            value,
            file: self.file,
            path,
        }
    }

    /// The value of `key`, if this is a mapping that has it (a null value counts as absent).
    pub(crate) fn get(&self, key: &str) -> Option<Self> {
        self.value
            .as_mapping()?
            .get(key)
            .filter(|v| !v.is_null())
            .map(|v| self.child(key, v))
    }

    /// The value of `key`, which must be there.
    pub(crate) fn require(&self, key: &str) -> Result<Self> {
        self.get(key).ok_or_else(|| {
            self.child(key, self.value)
                .error("missing; this key is required")
        })
    }

    /// A scalar as text: strings as written, numbers and booleans as YAML prints them.
    pub(crate) fn text(&self) -> Result<String> {
        match self.value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(self.error("expected a single value (text or a number)")),
        }
    }

    /// The text of `key`, if present.
    pub(crate) fn text_of(&self, key: &str) -> Result<Option<String>> {
        self.get(key).map(|n| n.text()).transpose()
    }

    /// A boolean.
    pub(crate) fn boolean(&self) -> Result<bool> {
        match self.value {
            Value::Bool(b) => Ok(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
            _ => Err(self.error("expected true or false")),
        }
    }

    /// The items of a list (a missing key is an empty list at the caller).
    pub(crate) fn items(&self) -> Result<Vec<Self>> {
        let sequence = self
            .value
            .as_sequence()
            .ok_or_else(|| self.error("expected a list"))?;
        Ok(sequence
            .iter()
            .enumerate()
            .map(|(i, v)| Self {
                value: v,
                file: self.file,
                path: format!("{}[{i}]", self.path),
            })
            .collect())
    }

    /// Whether the value is YAML's null (`~`, `null`, or nothing).
    pub(crate) fn is_null(&self) -> bool {
        self.value.is_null()
    }

    /// The entries of a mapping, as keys and values.
    pub(crate) fn items_of_mapping(&self) -> Result<Vec<(String, Self)>> {
        let mapping = self
            .value
            .as_mapping()
            .ok_or_else(|| self.error("expected a mapping of names to values"))?;
        mapping
            .iter()
            .map(|(key, value)| {
                let key = key
                    .as_str()
                    .ok_or_else(|| self.error("keys must be text"))?;
                Ok((key.to_string(), self.child(key, value)))
            })
            .collect()
    }

    /// The items of the list under `key`; none when the key is absent.
    pub(crate) fn items_of(&self, key: &str) -> Result<Vec<Self>> {
        match self.get(key) {
            Some(node) => node.items(),
            None => Ok(Vec::new()),
        }
    }

    /// Checks that a mapping has only keys Knit reads (`known`) or knowingly ignores
    /// (`ignored`: documentation, warehouse settings); any other key is an error, so that
    /// nothing a project asks for is silently dropped.
    pub(crate) fn only_keys(&self, known: &[&str], ignored: &[&str]) -> Result<()> {
        let mapping = self
            .value
            .as_mapping()
            .ok_or_else(|| self.error("expected a mapping of keys to values"))?;
        for key in mapping.keys() {
            let Some(key) = key.as_str() else {
                return Err(self.error("keys must be text"));
            };
            if !known.contains(&key) && !ignored.contains(&key) {
                let hint = closest(key, known.iter().chain(ignored))
                    .map(|k| format!("did you mean '{k}'? "))
                    .unwrap_or_default();
                return Err(self.child(key, self.value).error(format!(
                    "unknown key; {hint}the keys here are: {}",
                    known
                        .iter()
                        .chain(ignored)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// The key among `candidates` that `key` is most likely a misspelling of, if any is close.
fn closest<'k>(key: &str, candidates: impl Iterator<Item = &'k &'k str>) -> Option<&'k str> {
    let key = key.to_lowercase();
    candidates
        .map(|c| (strsim::damerau_levenshtein(&key, c), *c))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

/// A project file, parsed, with its merge keys applied.
pub(crate) fn read_yaml(dir: &Path, file: &str) -> Result<Value> {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path).map_err(|source| PbError::Read {
        path: path.clone(),
        source,
    })?;
    let yaml_error = |source| PbError::Yaml {
        file: file.to_string(),
        source,
    };
    // Editors on Windows start files with a byte-order mark, which YAML allows.
    let mut value: Value =
        serde_yaml::from_str(text.strip_prefix('\u{feff}').unwrap_or(&text)).map_err(yaml_error)?;
    apply_merge_keys(&mut value).map_err(yaml_error)?;
    Ok(value)
}

/// Projects share blocks of YAML with anchors and merge keys (`<<: *spec`, also written
/// `!!merge <<: *spec`), which pb's YAML reader applies: the keys of the merged mapping
/// join the mapping, its own keys winning. A merged block can hold a merge key of its own,
/// so merging repeats until none is left (anchors cannot form cycles).
fn apply_merge_keys(value: &mut Value) -> std::result::Result<(), serde_yaml::Error> {
    loop {
        untag_merge_keys(value);
        value.apply_merge()?;
        if !has_merge_key(value) {
            return Ok(());
        }
    }
}

/// `!!merge <<` is the merge key with its tag written out; serde_yaml keeps the tag.
fn untag_merge_keys(value: &mut Value) {
    match value {
        Value::Mapping(mapping) => {
            let tagged: Vec<Value> = mapping
                .keys()
                .filter(|k| matches!(k, Value::Tagged(t) if t.value == "<<"))
                .cloned()
                .collect();
            for key in tagged {
                if let Some(merged) = mapping.remove(&key) {
                    mapping.insert(Value::from("<<"), merged);
                }
            }
            mapping.values_mut().for_each(untag_merge_keys);
        }
        Value::Sequence(items) => items.iter_mut().for_each(untag_merge_keys),
        Value::Tagged(tagged) => untag_merge_keys(&mut tagged.value),
        _ => {}
    }
}

fn has_merge_key(value: &Value) -> bool {
    match value {
        Value::Mapping(mapping) => {
            mapping.contains_key("<<") || mapping.values().any(has_merge_key)
        }
        Value::Sequence(items) => items.iter().any(has_merge_key),
        Value::Tagged(tagged) => has_merge_key(&tagged.value),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Value {
        let mut value: Value = serde_yaml::from_str(text).unwrap();
        apply_merge_keys(&mut value).unwrap();
        value
    }

    #[test]
    fn merge_keys_join_the_mapping_and_its_own_keys_win() {
        let value = parse(
            "base: &base {a: 1, b: 2}\n\
             plain: {<<: *base, b: 3}\n\
             tagged: {!!merge <<: *base, c: 4}\n\
             nested: &nested {<<: *base, d: 5}\n\
             twice: {<<: *nested, e: 6}\n\
             listed: {<<: [*base, {f: 7}]}\n",
        );
        assert_eq!(value["plain"]["a"], 1);
        assert_eq!(value["plain"]["b"], 3);
        assert_eq!(value["tagged"]["a"], 1);
        assert_eq!(value["tagged"]["c"], 4);
        assert_eq!(value["twice"]["a"], 1);
        assert_eq!(value["twice"]["d"], 5);
        assert_eq!(value["listed"]["f"], 7);
        assert!(!has_merge_key(&value));
    }

    #[test]
    fn merging_a_scalar_is_an_error() {
        let mut value: Value = serde_yaml::from_str("a: {<<: 3}").unwrap();
        assert!(apply_merge_keys(&mut value).is_err());
    }
}
