// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! `this`, the model a template renders: `this.DeRef(path)` names another's rows
//! (an input's, a model's, or an input's var table), `this.ReadFile(path)` reads a file
//! of the project.

use std::sync::Arc;

use knit_sql::quote_ident_if_needed;
use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Error, ErrorKind, State};

use super::Scope;
use super::args::{one_string, unknown_method};
use super::material::{DeRefCall, Material};

/// `this`: the model being rendered; `this.DeRef(path)` names another's rows.
#[derive(Debug)]
pub(super) struct This {
    pub scope: Arc<Scope>,
}

impl Object for This {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method == "ReadFile" {
            return read_project_file(&self.scope.names.project_dir, one_string("ReadFile", args)?)
                .map(Value::from)
                .map_err(|reason| Error::new(ErrorKind::InvalidOperation, reason));
        }
        if method != "DeRef" {
            return Err(unknown_method("this", method));
        }
        let call = DeRefCall::parse(args)?;
        let disabled = |call: &DeRefCall| {
            Value::from_object(Material {
                sql: None,
                call: call.describe(),
                entity: None,
            })
        };
        if call.is_incremental() {
            return Ok(disabled(&call));
        }
        let path = call.path.as_deref().unwrap_or_default();
        let sql = self.deref_sql(path)?;
        if sql.starts_with('(')
            && let Some(name) = path.trim_end_matches('/').rsplit('/').next()
        {
            self.scope.record(|found| {
                found.subqueries.insert(sql.clone(), name.to_lowercase());
            });
        }
        let entity = (path.strip_prefix("models/"))
            .map(str::to_lowercase)
            .or_else(|| Some(path.to_lowercase()))
            .and_then(|model| self.scope.names.model_entities.get(&model))
            .cloned();
        Ok(Value::from_object(Material {
            sql: Some(sql),
            call: call.describe(),
            entity,
        }))
    }
}

impl This {
    /// The SQL of the rows `inputs/x` or `models/y` names.
    fn deref_sql(&self, path: &str) -> Result<String, Error> {
        let names = &self.scope.names;
        let missing = |what: &str, name: &str| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("DeRef(\"{path}\"): no {what} named '{name}'"),
            )
        };
        if let Some((kind, rest)) = path.split_once('/')
            && let Some((source, column)) = var_table_path(rest)
            && matches!(kind, "inputs" | "models")
        {
            return self.var_table(path, source, column);
        }
        match path.split_once('/') {
            Some(("inputs", input)) => names
                .input_rows
                .get(&input.to_lowercase())
                .cloned()
                .ok_or_else(|| missing("input", input)),
            Some(("models", model)) => {
                let model = model.to_lowercase();
                // Inputs are models too: `models/<input>` reads the input's rows.
                if !names.models.contains_key(&model)
                    && let Some(source) = names.input_rows.get(&model)
                {
                    return Ok(source.clone());
                }
                let sql = names
                    .models
                    .get(&model)
                    .cloned()
                    .ok_or_else(|| missing("model", &model))?;
                self.scope.record(|found| {
                    found.models.insert(model.clone());
                });
                Ok(sql)
            }
            // `<entity>/all`: the entity's members; `<entity>/<entity>_default_id_stitcher`:
            // its id graph.
            Some((entity, model)) if names.entities.contains(&entity.to_lowercase()) => {
                let key = format!("{}/{}", entity.to_lowercase(), model.to_lowercase());
                let sql = (names.models.get(&key).cloned())
                    .ok_or_else(|| missing(&format!("model of entity '{entity}'"), model))?;
                self.scope.record(|found| {
                    found.models.insert(key.clone());
                });
                Ok(sql)
            }
            _ => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "DeRef(\"{path}\"): takes inputs/<input>, models/<model>, \
                     inputs/<input>/var_table, <entity>/all or \
                     <entity>/<entity>_default_id_stitcher"
                ),
            )),
        }
    }

    /// `inputs/x/var_table` (also `models/x/var_table` for a model with ids): the
    /// input's rows with pb's `input_row_id` and each entity's main id;
    /// `inputs/x/var_table/<column>` is that column's name, as pb prints it.
    fn var_table(&self, path: &str, source: &str, column: Option<&str>) -> Result<String, Error> {
        let error = |reason: String| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!("DeRef(\"{path}\"): {reason}"),
            )
        };
        let Some(table) = self
            .scope
            .names
            .input_var_tables
            .get(&source.to_lowercase())
        else {
            return Err(error(format!(
                "no input with ids named '{source}' (a var table is an input's rows with \
                 its entities' main ids)"
            )));
        };
        self.scope.record(|found| {
            found.graphs.extend(table.entities.iter().cloned());
            found.models.extend(table.model.iter().cloned());
        });
        // pb prints the column's name: the main id's, `input_row_id`, an input var's.
        Ok(match column {
            None => table.sql.clone(),
            Some(column) => quote_ident_if_needed(&column.to_lowercase()),
        })
    }
}

/// `x/var_table` or `x/var_table/<column>`: the input `x` and the column.
fn var_table_path(rest: &str) -> Option<(&str, Option<&str>)> {
    let (source, tail) = rest.split_once("/var_table")?;
    match tail {
        "" | "/" => Some((source, None)),
        _ => {
            let column = tail.strip_prefix('/')?;
            (!column.is_empty() && !column.contains('/')).then_some((source, Some(column)))
        }
    }
}

/// The text of a file of the project (`this.ReadFile("models/q.sql")`), which must lie
/// inside the project folder.
fn read_project_file(project: &std::path::Path, path: &str) -> Result<String, String> {
    let relative = std::path::Path::new(path);
    let escapes = relative.is_absolute()
        || relative
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if escapes {
        return Err(format!(
            "ReadFile(\"{path}\"): name a file inside the project folder, relative to it"
        ));
    }
    let full = project.join(relative);
    std::fs::read_to_string(&full)
        .map(|text| {
            text.strip_prefix('\u{feff}')
                .map(str::to_string)
                .unwrap_or(text)
        })
        .map_err(|e| format!("ReadFile(\"{path}\"): cannot read {}: {e}", full.display()))
}
