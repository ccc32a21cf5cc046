// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! What `this.DeRef(...)` gives a template: another model's rows, printed as the SQL that
//! reads them, or a model a full run does not have.
//!
//! pb's incremental templates ask for this model's output of the previous run
//! (`this.DeRef(pre_existing=true, dependency="optional", checkpoint_name="baseline")`)
//! and for the rows an input gained since it (`this.DeRef("inputs/x/incr_delta_tbl",
//! baseline_name=.., prereqs=[..])`), and pick a branch with `IsEnabled()`. Knit runs
//! every model in full, as pb's first run (or `--rebase_incremental`) does: neither exists,
//! `IsEnabled()` is false, and the template takes its full branch. Printing one into the
//! SQL is an error, found after rendering by the [`DISABLED_MARK`] it prints.

use std::fmt;
use std::sync::Arc;

use minijinja::value::{Kwargs, Object, ObjectRepr, Value, from_args};
use minijinja::{Error, ErrorKind, State};

use super::ModelEntity;

/// Printed by a disabled model in place of SQL, around its reference; no SQL holds it.
pub(super) const DISABLED_MARK: char = '\u{1}';

/// The keyword arguments of `DeRef` that pb documents. None changes which rows a full
/// run reads: `dependency` and `prereqs` order pb's runs, and the checkpoint and baseline
/// names pair incremental runs.
const KEYWORDS: &[&str] = &[
    "pre_existing",
    "dependency",
    "checkpoint_name",
    "baseline_name",
    "prereqs",
];

/// A `DeRef` call's arguments: the path, if any, and whether it asks for a previous run.
#[derive(Debug)]
pub(super) struct DeRefCall {
    /// `inputs/x`, `models/y`; `None` for `this.DeRef(pre_existing=true)` alone.
    pub path: Option<String>,
    /// `pre_existing=true`: the output of a previous run.
    pub pre_existing: bool,
}

impl DeRefCall {
    /// Reads `DeRef`'s arguments, refusing a keyword pb does not take.
    pub fn parse(args: &[Value]) -> Result<Self, Error> {
        let (path, kwargs): (Option<Value>, Kwargs) = from_args(args)?;
        let path = match path {
            None => None,
            Some(value) => Some(value.as_str().map(str::to_string).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidOperation,
                    format!("DeRef takes a quoted path, not {value}"),
                )
            })?),
        };
        for key in kwargs.args() {
            if !KEYWORDS.contains(&key) {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "DeRef: unknown argument '{key}' (it takes {})",
                        KEYWORDS.join(", ")
                    ),
                ));
            }
        }
        // The others are known above and change nothing here, so they are not read.
        let pre_existing = kwargs.get::<Option<bool>>("pre_existing")?.unwrap_or(false);
        if path.is_none() && !pre_existing {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "DeRef takes a path (inputs/<input> or models/<model>) or pre_existing=true",
            ));
        }
        Ok(Self { path, pre_existing })
    }

    /// Whether the call asks for what only an incremental run has: a previous output,
    /// or an input's rows since one (`inputs/x/incr_delta_tbl`).
    pub fn is_incremental(&self) -> bool {
        self.pre_existing
            || self
                .path
                .as_deref()
                .is_some_and(|p| p.trim_end_matches('/').ends_with("/incr_delta_tbl"))
    }

    /// How the call reads in a message.
    pub fn describe(&self) -> String {
        match (&self.path, self.pre_existing) {
            (Some(path), false) => format!("this.DeRef(\"{path}\")"),
            (Some(path), true) => format!("this.DeRef(\"{path}\", pre_existing=true)"),
            (None, _) => "this.DeRef(pre_existing=true)".to_string(),
        }
    }
}

/// A model's rows: its SQL when the run has them, or a disabled model.
#[derive(Debug)]
pub(super) struct Material {
    /// The SQL that reads the rows; `None` for a model the run does not have.
    pub sql: Option<String>,
    /// The `DeRef` call, for messages.
    pub call: String,
    /// The model's entity, for a model of one (`.Model.GetEntity()`).
    pub entity: Option<ModelEntity>,
}

impl Object for Material {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    /// `.Model`: the model behind the rows, whose `GetEntity()` pb templates read for
    /// the main id column's name (`.Model.GetEntity().IdColumnName`).
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        (key.as_str()? == "Model").then(|| {
            Value::from_object(ModelOf {
                call: self.call.clone(),
                entity: self.entity.clone(),
            })
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if !args.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("{method} takes no argument"),
            ));
        }
        match method {
            "IsEnabled" => Ok(Value::from(self.sql.is_some())),
            // `prereqs=[x.Except()]`: run only when x does not; it orders pb's runs and
            // changes no row here.
            "Except" => Ok(Value::from_object(Material {
                sql: None,
                call: format!("{}.Except()", self.call),
                entity: None,
            })),
            _ => Err(Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "{} has no method {method} (it has IsEnabled, Except)",
                    self.call
                ),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.sql {
            Some(sql) => f.write_str(sql),
            None => write!(f, "{DISABLED_MARK}{}{DISABLED_MARK}", self.call),
        }
    }
}

/// `this.DeRef(..).Model`: the model, of which templates read its entity.
#[derive(Debug)]
struct ModelOf {
    call: String,
    entity: Option<ModelEntity>,
}

impl Object for ModelOf {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "GetEntity" || !args.is_empty() {
            return Err(Error::new(
                ErrorKind::UnknownMethod,
                format!(
                    "{}.Model has no method {method} (it has GetEntity())",
                    self.call
                ),
            ));
        }
        let entity = self.entity.clone().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "{}.Model.GetEntity(): the model is not of an entity (id stitchers, \
                     feature tables and cohorts are)",
                    self.call
                ),
            )
        })?;
        Ok(Value::from_object(EntityOf(entity)))
    }
}

/// `.Model.GetEntity()`: `Name` and `IdColumnName`, the main id column's name.
#[derive(Debug)]
struct EntityOf(ModelEntity);

impl Object for EntityOf {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "IdColumnName" => Some(Value::from(self.0.id_column.clone())),
            "Name" => Some(Value::from(self.0.name.clone())),
            _ => None,
        }
    }
}

/// The first disabled model printed into `sql`, if any.
pub(super) fn printed_disabled(sql: &str) -> Option<&str> {
    let start = sql.find(DISABLED_MARK)? + DISABLED_MARK.len_utf8();
    let end = sql[start..].find(DISABLED_MARK)? + start;
    Some(&sql[start..end])
}
