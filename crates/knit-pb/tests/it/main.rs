// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Property tests of project reading: a pb project mutated at random (keys removed,
//! renamed or given values of other shapes, YAML cut short) loads and translates to a
//! script, or fails with an error; it never panics.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use knit_pb::{OutputFormat, Project, ScriptOptions};
use proptest::prelude::*;
use serde_yaml::{Mapping, Value};

/// The project every case starts from: the e-commerce example, with inputs, vars with
/// windows and defaults, cohorts, feature views and a stitcher.
fn base_project() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/oracle/ecommerce")
}

const FILES: &[&str] = &[
    "pb_project.yaml",
    "models/inputs.yaml",
    "models/profiles.yaml",
];

/// Keys pb projects use, and some they do not, to rename keys to.
const KEYS: &[&str] = &[
    "name",
    "entities",
    "id_types",
    "inputs",
    "var_groups",
    "models",
    "model_type",
    "model_spec",
    "entity_var",
    "input_var",
    "select",
    "from",
    "where",
    "window",
    "order_by",
    "partition_by",
    "default_value",
    "ids",
    "type",
    "entity",
    "table",
    "csv",
    "occurred_at_col",
    "filters",
    "include",
    "exclude",
    "regex",
    "value",
    "extends",
    "feature_views",
    "using_ids",
    "id_stitcher",
    "edge_sources",
    "filter_pipeline",
    "features",
    "macros",
    "inputs",
    "app_defaults",
    "is_feature",
    "single_sql",
    "nope",
    "",
];

/// One change to a YAML tree: which node (an index into its nodes), and what to do.
#[derive(Debug, Clone)]
enum Mutation {
    Remove(prop::sample::Index),
    Replace(prop::sample::Index, Value),
    RenameKey(prop::sample::Index, &'static str),
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| Value::Number(n.into())),
        any::<f64>().prop_map(|n| Value::Number(n.into())),
        prop::sample::select(KEYS).prop_map(|k| Value::String(k.to_string())),
        "[a-z_ {}()'\"*.%|/~-]{0,24}".prop_map(Value::String),
        Just(Value::String("{{ user.Var(\"nope\") }}".to_string())),
        Just(Value::String("{% if x %}".to_string())),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Sequence),
            prop::collection::vec((prop::sample::select(KEYS), inner), 0..4).prop_map(|entries| {
                let mut map = Mapping::new();
                for (k, v) in entries {
                    map.insert(Value::String(k.to_string()), v);
                }
                Value::Mapping(map)
            }),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<prop::sample::Index>().prop_map(Mutation::Remove),
        (any::<prop::sample::Index>(), value()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        (any::<prop::sample::Index>(), prop::sample::select(KEYS))
            .prop_map(|(i, k)| Mutation::RenameKey(i, k)),
    ]
}

/// How many nodes `value` has, itself included.
fn count(value: &Value) -> usize {
    1 + match value {
        Value::Sequence(items) => items.iter().map(count).sum(),
        Value::Mapping(map) => map.values().map(count).sum(),
        _ => 0,
    }
}

/// Applies `mutation` to the `target`-th node below `value` (in pre-order; the root is 0
/// and is only ever replaced). Returns the nodes still to skip.
fn apply(value: &mut Value, mut target: usize, mutation: &Mutation) -> Option<usize> {
    match value {
        Value::Sequence(items) => {
            for i in 0..items.len() {
                if target == 0 {
                    match mutation {
                        Mutation::Remove(_) => {
                            items.remove(i);
                        }
                        Mutation::Replace(_, new) => items[i] = new.clone(),
                        Mutation::RenameKey(..) => {}
                    }
                    return None;
                }
                target = apply(&mut items[i], target - 1, mutation)?;
            }
            Some(target)
        }
        Value::Mapping(map) => {
            let keys: Vec<Value> = map.keys().cloned().collect();
            for key in keys {
                if target == 0 {
                    match mutation {
                        Mutation::Remove(_) => {
                            map.remove(&key);
                        }
                        Mutation::Replace(_, new) => {
                            map.insert(key, new.clone());
                        }
                        Mutation::RenameKey(_, name) => {
                            if let Some(old) = map.remove(&key) {
                                map.insert(Value::String(name.to_string()), old);
                            }
                        }
                    }
                    return None;
                }
                let child = map.get_mut(&key)?;
                target = apply(child, target - 1, mutation)?;
            }
            Some(target)
        }
        _ => Some(target),
    }
}

fn mutate(value: &mut Value, mutation: &Mutation) {
    let index = match mutation {
        Mutation::Remove(i) | Mutation::Replace(i, _) | Mutation::RenameKey(i, _) => i,
    };
    let nodes = count(value);
    // Node 0 is the root itself; mutations address the nodes under it.
    let target = index.index(nodes.max(2) - 1);
    apply(value, target, mutation);
}

fn scratch() -> PathBuf {
    static CASE: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "knit-pb-fuzz-{}-{}",
        std::process::id(),
        CASE.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("models")).unwrap();
    dir
}

/// Loads and translates the project in `dir`; `Err` is fine, a panic is not.
fn translate(dir: &Path) -> Result<usize, String> {
    let project = Project::load(dir).map_err(|e| e.to_string())?;
    let options = ScriptOptions {
        tables: base_project().join("tables"),
        out: dir.join("out"),
        format: OutputFormat::Csv,
        begin_time: None,
        end_time: "2024-01-01T00:00:00Z".to_string(),
        dialect: "snowflake".to_string(),
        skip_models: Vec::new(),
        model_refs: Vec::new(),
        grains: None,
    };
    let script = project.script(&options).map_err(|e| e.to_string())?;
    Ok(script.statements.len())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 400,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_projects_translate_or_fail_cleanly(
        file in prop::sample::select(FILES),
        mutations in prop::collection::vec(mutation(), 1..4),
        cut in prop::option::weighted(0.1, any::<prop::sample::Index>()),
    ) {
        let dir = scratch();
        for name in FILES {
            std::fs::copy(base_project().join("project").join(name), dir.join(name)).unwrap();
        }
        let text = std::fs::read_to_string(dir.join(file)).unwrap();
        let mut yaml: Value = serde_yaml::from_str(&text).unwrap();
        for m in &mutations {
            mutate(&mut yaml, m);
        }
        let mut text = serde_yaml::to_string(&yaml).unwrap();
        if let Some(cut) = cut {
            let at = cut.index(text.len() + 1);
            let at = (0..=at).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            text.truncate(at);
        }
        std::fs::write(dir.join(file), &text).unwrap();
        if let Err(message) = translate(&dir) {
            prop_assert!(!message.trim().is_empty());
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn the_base_project_translates() {
    let statements = translate(&base_project().join("project")).unwrap();
    assert!(statements > 10, "{statements}");
}
