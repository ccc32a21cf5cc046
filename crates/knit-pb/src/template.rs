// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb's templates in YAML text, rendered into Knit SQL by a Jinja engine (`minijinja`).
//!
//! pb pastes `select`, `where`, `default_value`, cohort filters and `sql_template` SQL
//! through pongo2, a Go template engine with Django's syntax. Its tags and expressions
//! are Jinja's, but for `!`, `&&` and `||` and `{% with a = x b = y %}` without commas,
//! which [`crate::pongo`] rewrites first. The objects a template sees:
//!
//! | template | becomes |
//! | --- | --- |
//! | `{{user.Var("x")}}`, `{{user.x}}`, `{{user.Var("~/entity/user/all/x")}}` | `user.x`, the entity var |
//! | `{{orders.Var("col")}}` | `orders.col`, the input's column or input var |
//! | `{{this.DeRef("inputs/x")}}`, `{{this.DeRef("models/y")}}` | the input's table, the model's view; `IsEnabled()` true |
//! | `{{this.DeRef("user/all")}}`, `{{this.DeRef("user/user_default_id_stitcher")}}` | the entity's members; its default stitcher's id graph |
//! | `{{this.DeRef("inputs/x/var_table")}}`, `.../var_table/user_main_id` | the input's rows with `input_row_id` and main ids; the column's name (see `this`) |
//! | `this.DeRef(pre_existing=true)`, `this.DeRef("inputs/x/incr_delta_tbl")` | incremental runs' inputs: `IsEnabled()` false (see `material`) |
//! | `{{warehouse.DataType("float")}}` | the SQL type |
//! | `{{warehouse.DatabaseType()}}` | the dialect the run takes the branches of (`--dialect`) |
//! | `{{end_time.Format("2006-01-02")}}`, `begin_time` | the run's time window (Go layouts); `nil` without one; older schemas' `{{timestamp}}` is `end_time` |
//! | `{{end_time_sql}}`, `{{begin_time_sql}}` | the same as a SQL timestamp; `NULL` without one |
//! | `{{ some_macro('a', b) }}`, `{{ macro_without_inputs }}` | the macro's `value` with its inputs bound |
//! | `{% exec %}{{this.ReadFile("models/q.sql")}}{% endexec %}` | the file's text, rendered in turn |
//!
//! A macro's value is itself a template, and so may be an argument (`'{{user.Var("x")}}'`),
//! so the output is rendered again until no template is left.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex};

use knit_sql::quote_ident_if_needed;
use minijinja::value::{Object, ObjectRepr, Value};
use minijinja::{Environment, Error, ErrorKind, State, UndefinedBehavior};

use crate::pongo::to_jinja;

mod args;
mod material;
mod this;
mod time;

use args::{one_string, unknown_method};
use material::printed_disabled;
use this::This;
use time::{time_sql, time_value};

/// A macro from a `macros:` list.
#[derive(Debug, Clone)]
pub(crate) struct Macro {
    /// Its input names, in order.
    pub inputs: Vec<String>,
    /// Its text.
    pub value: String,
}

/// What a template may refer to.
#[derive(Debug, Default)]
pub(crate) struct Names {
    /// Macros by name.
    pub macros: BTreeMap<String, Macro>,
    /// Entity names (lower case).
    pub entities: BTreeSet<String>,
    /// Cohort names (lower case) to their entity: `{{cohort.x}}` and
    /// `{{cohort.Var("x")}}` are the entity's var `x`, or the cohort's own `x` where it
    /// defines one under a name of its own (`scoped_vars`).
    pub cohorts: BTreeMap<String, String>,
    /// `(cohort, var)` to the Knit name of the var `x` seen from the cohort, where a
    /// cohort's var shares its name with another var of the entity.
    pub scoped_vars: BTreeMap<(String, String), String>,
    /// pb input name (lower case) to the table (or model) its rows come from.
    pub input_sources: BTreeMap<String, String>,
    /// pb input name (lower case) to the SQL of its rows as `this.DeRef` reads them: as
    /// pb's, cut to the run's time window and the input's `where`.
    pub input_rows: BTreeMap<String, String>,
    /// pb input name (lower case) to its var table as `this.DeRef("inputs/x/var_table")`
    /// reads it, and the entities whose id graphs that reads.
    pub input_var_tables: BTreeMap<String, VarTable>,
    /// Model names (lower case) to the SQL name of their rows, for `this.DeRef("models/..")`.
    pub models: BTreeMap<String, String>,
    /// Models of an entity (id stitchers, feature tables, cohorts; lower case) to it:
    /// `this.DeRef("models/x").Model.GetEntity()`.
    pub model_entities: BTreeMap<String, ModelEntity>,
    /// What `warehouse.DatabaseType()` answers.
    pub dialect: String,
    /// The run's end time (RFC 3339), `end_time` in templates.
    pub end_time: Option<String>,
    /// The run's begin time, `begin_time` (nil without one).
    pub begin_time: Option<String>,
    /// The project folder, which `this.ReadFile(path)` reads below.
    pub project_dir: std::path::PathBuf,
}

/// The entity of a model, as `.Model.GetEntity()` shows it.
#[derive(Debug, Clone)]
pub(crate) struct ModelEntity {
    /// The entity's name.
    pub name: String,
    /// Its main id column, `IdColumnName`.
    pub id_column: String,
}

/// An input's var table, as pb makes it: the input's rows (those `this.DeRef("inputs/x")`
/// reads), pb's `input_row_id`, and the main id of each entity the input has ids of.
#[derive(Debug, Clone)]
pub(crate) struct VarTable {
    /// The SQL of its rows.
    pub sql: String,
    /// The entities whose id graphs it reads.
    pub entities: Vec<String>,
    /// The `sql_template` model whose rows it holds, if the input is one.
    pub model: Option<String>,
}

/// The result of rendering one text.
#[derive(Debug, Default, Clone)]
pub(crate) struct Rendered {
    /// The SQL text.
    pub sql: String,
    /// The entity vars it reads, as `(entity, var)`.
    pub vars: BTreeSet<(String, String)>,
    /// The input columns or input vars it reads, as `(input, name)`.
    pub input_names: BTreeSet<(String, String)>,
    /// The models it reads.
    pub models: BTreeSet<String>,
    /// The entities whose id graphs it reads (through an input's var table).
    pub graphs: BTreeSet<String>,
    /// The rows `this.DeRef` printed as a subquery, by its SQL, with the name of the
    /// input or model they are (see [`qualify_subqueries`]).
    pub subqueries: BTreeMap<String, String>,
}

/// Rendering passes (a macro's output holding templates takes one more) beyond this
/// are taken to be a macro that expands to itself.
const MAX_PASSES: usize = 32;

/// Work one render may do (Jinja's "fuel"): bounds loops written by mistake.
const FUEL: u64 = 1_000_000;

/// Renders `text`; `inputs` maps a pb input name (lower case) to the name the rendered
/// SQL uses for it (the inputs of the entity whose var is rendered).
pub(crate) fn render(
    text: &str,
    names: &Arc<Names>,
    inputs: &BTreeMap<String, String>,
) -> Result<Rendered, String> {
    let scope = Arc::new(Scope {
        names: Arc::clone(names),
        inputs: inputs.clone(),
        found: Mutex::new(Rendered::default()),
    });
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::SemiStrict);
    env.set_fuel(Some(FUEL));
    env.add_filter("isnil", |value: Value| {
        value.is_none() || value.is_undefined()
    });
    let mut sql = text.to_string();
    let mut passes = 0;
    while sql.contains("{{") || sql.contains("{%") || sql.contains("{#") {
        passes += 1;
        if passes > MAX_PASSES {
            return Err(format!(
                "templates still left after {MAX_PASSES} rendering passes; does a macro expand \
                 to itself?"
            ));
        }
        let context = Value::from_object(Context {
            scope: Arc::clone(&scope),
            locals: BTreeMap::new(),
        });
        let rendered = env
            .render_str(&to_jinja(&sql), context)
            .map_err(|e| describe(&e, &sql))?;
        if let Some(call) = printed_disabled(&rendered) {
            return Err(format!(
                "template `{}`: {call} is a previous run's output or an input's rows since \
                 one, which only pb's incremental runs have; Knit runs every model in full, \
                 so read it only where `IsEnabled()` is true (the template's full branch \
                 then runs)",
                sql.trim().chars().take(200).collect::<String>()
            ));
        }
        sql = rendered;
    }
    let mut rendered = scope
        .found
        .lock()
        .map(|found| found.clone())
        .unwrap_or_default();
    sql = qualify_subqueries(sql, &rendered.subqueries);
    // Where the project's warehouse means another thing than DataFusion by a function,
    // the project means its warehouse's.
    sql = crate::dialect::dialect_meanings(&sql, &names.dialect);
    rendered.sql = sql;
    Ok(rendered)
}

/// `sql` with the columns of `this.DeRef`'s rows qualified by the input's or model's
/// name. pb prints a table's name, so projects write `{{t}}.col` and
/// `ON {{t}}.id = {{g}}.other_id`; Knit prints a subquery, which cannot qualify a column.
/// Where the text has `<subquery>.`, that becomes `<name>.`, and the subquery elsewhere
/// (where it is read, in `FROM` or `JOIN`) takes the name as its alias.
fn qualify_subqueries(mut sql: String, subqueries: &BTreeMap<String, String>) -> String {
    // Longer first: a subquery may hold a shorter one.
    let mut by_length: Vec<_> = subqueries.iter().collect();
    by_length.sort_by_key(|(subquery, _)| std::cmp::Reverse(subquery.len()));
    for (subquery, name) in by_length {
        let qualifier = format!("{subquery}.");
        if !sql.contains(&qualifier) {
            continue;
        }
        let alias = quote_ident_if_needed(name);
        sql = sql.replace(&qualifier, &format!("{alias}."));
        sql = sql.replace(subquery.as_str(), &format!("{subquery} AS {alias}"));
    }
    sql
}

/// A template error in words, with the text it is about.
fn describe(error: &Error, text: &str) -> String {
    let mut message = match error.detail() {
        Some(detail) => detail.to_string(),
        None => error.kind().to_string(),
    };
    if error.kind() == ErrorKind::UndefinedError {
        message = format!("{message}: a name in the template is not an entity, input or macro");
    }
    if let Some(mut source) = std::error::Error::source(error) {
        while let Some(next) = source.source() {
            source = next;
        }
        message = format!("{message}: {source}");
    }
    let excerpt: String = text.trim().chars().take(200).collect();
    format!("template `{excerpt}`: {message}")
}

/// What every object of one render shares: the names, and what the template read.
#[derive(Debug)]
struct Scope {
    names: Arc<Names>,
    inputs: BTreeMap<String, String>,
    found: Mutex<Rendered>,
}

impl Scope {
    fn record(&self, add: impl FnOnce(&mut Rendered)) {
        if let Ok(mut found) = self.found.lock() {
            add(&mut found);
        }
    }
}

/// The template's variables: pb's objects, entities, inputs, macros, and a macro's
/// bound inputs. Names are looked up in lower case, as pb's are.
#[derive(Debug)]
struct Context {
    scope: Arc<Scope>,
    locals: BTreeMap<String, Value>,
}

impl Object for Context {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        if let Some(value) = self.locals.get(key) {
            return Some(value.clone());
        }
        let names = &self.scope.names;
        let lower = key.to_lowercase();
        let scope = Arc::clone(&self.scope);
        Some(match lower.as_str() {
            "this" => Value::from_object(This { scope }),
            "warehouse" => Value::from_object(Warehouse {
                dialect: names.dialect.clone(),
            }),
            "end_time" => time_value(names.end_time.as_deref()),
            "begin_time" => time_value(names.begin_time.as_deref()),
            "end_time_sql" => time_sql(names.end_time.as_deref()),
            "begin_time_sql" => time_sql(names.begin_time.as_deref()),
            "nil" => Value::from(()),
            _ if names.entities.contains(&lower) => Value::from_object(Entity {
                name: lower,
                cohort: None,
                scope,
            }),
            _ if names.cohorts.contains_key(&lower) => Value::from_object(Entity {
                name: names.cohorts[&lower].clone(),
                cohort: Some(lower),
                scope,
            }),
            _ => {
                if let Some(sql_name) = self.scope.inputs.get(&lower) {
                    return Some(Value::from_object(Input {
                        name: lower.clone(),
                        sql_name: sql_name.clone(),
                        scope,
                    }));
                }
                // Older schemas' name of the end time (pb's migration renames it), where
                // no input or macro has the name.
                let Some(definition) = names.macros.get(key).or_else(|| names.macros.get(&lower))
                else {
                    return (lower == "timestamp").then(|| time_value(names.end_time.as_deref()));
                };
                Value::from_object(MacroCall {
                    name: key.to_string(),
                    definition: definition.clone(),
                    scope,
                })
            }
        })
    }
}

/// An entity: `user.Var("x")` and `user.x` are its var `x`; named by a cohort
/// (`multi.Var("x")`), the var `x` as the cohort sees it.
#[derive(Debug)]
struct Entity {
    name: String,
    cohort: Option<String>,
    scope: Arc<Scope>,
}

impl Entity {
    fn var(&self, path: &str) -> String {
        // A var may be named by a path: ~/entity/user/all/x or ./x.
        let var = path.rsplit('/').next().unwrap_or(path).to_lowercase();
        let scoped = self.cohort.as_ref().and_then(|cohort| {
            (self.scope.names.scoped_vars)
                .get(&(cohort.clone(), var.clone()))
                .cloned()
        });
        let var = scoped.unwrap_or(var);
        self.scope.record(|found| {
            found.vars.insert((self.name.clone(), var.clone()));
        });
        format!(
            "{}.{}",
            quote_ident_if_needed(&self.name),
            quote_ident_if_needed(&var)
        )
    }
}

impl Object for Entity {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(self.var(key.as_str()?)))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "Var" => Ok(Value::from(self.var(one_string("Var", args)?))),
            _ => Err(unknown_method(&format!("entity {}", self.name), method)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", quote_ident_if_needed(&self.name))
    }
}

/// An input of the var's entity: `orders.Var("col")` (or `orders.col`, as pb's docs
/// write an input var) is its column or input var.
#[derive(Debug)]
struct Input {
    name: String,
    sql_name: String,
    scope: Arc<Scope>,
}

impl Input {
    fn column(&self, column: &str) -> String {
        let column = column.rsplit('/').next().unwrap_or(column).to_lowercase();
        self.scope.record(|found| {
            found
                .input_names
                .insert((self.name.clone(), column.clone()));
        });
        format!("{}.{}", self.sql_name, quote_ident_if_needed(&column))
    }
}

impl Object for Input {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(Value::from(self.column(key.as_str()?)))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "Var" => Ok(Value::from(self.column(one_string("Var", args)?))),
            _ => Err(unknown_method(&format!("input {}", self.name), method)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.sql_name)
    }
}

/// `warehouse`: `DataType(name)` and `DatabaseType()`.
#[derive(Debug)]
struct Warehouse {
    dialect: String,
}

impl Object for Warehouse {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "DataType" => sql_type(one_string("DataType", args)?)
                .map(Value::from)
                .map_err(|reason| Error::new(ErrorKind::InvalidOperation, reason)),
            "DatabaseType" => Ok(Value::from(self.dialect.clone())),
            _ => Err(unknown_method("warehouse", method)),
        }
    }
}

/// A macro: called with its inputs, or (without inputs) printed as its value.
#[derive(Debug)]
struct MacroCall {
    name: String,
    definition: Macro,
    scope: Arc<Scope>,
}

impl Object for MacroCall {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let inputs = &self.definition.inputs;
        if inputs.len() != args.len() {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!(
                    "macro '{}' takes {} arguments ({}), got {}",
                    self.name,
                    inputs.len(),
                    inputs.join(", "),
                    args.len()
                ),
            ));
        }
        let locals = inputs.iter().cloned().zip(args.iter().cloned()).collect();
        let context = Value::from_object(Context {
            scope: Arc::clone(&self.scope),
            locals,
        });
        let text = state
            .env()
            .render_str(&to_jinja(&self.definition.value), context)?;
        Ok(Value::from(text))
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Printed without a call: the value, rendered by the next pass.
        write!(f, "{}", self.definition.value)
    }
}

/// The SQL type of pb's `warehouse.DataType(...)` names.
pub(crate) fn sql_type(name: &str) -> Result<&'static str, String> {
    Ok(match name.trim().to_ascii_lowercase().as_str() {
        "float" | "double" | "number" | "real" | "float64" => "DOUBLE",
        "int" | "integer" | "bigint" | "long" | "int64" => "BIGINT",
        "string" | "varchar" | "text" => "VARCHAR",
        "bool" | "boolean" => "BOOLEAN",
        "timestamp" | "datetime" => "TIMESTAMP",
        "date" => "DATE",
        other => return Err(format!("data type '{other}' is not supported")),
    })
}

#[cfg(test)]
mod tests {
    use super::time::go_layout_to_strftime;
    use super::*;

    fn names() -> Arc<Names> {
        let mut names = Names {
            dialect: "snowflake".into(),
            end_time: Some("2025-07-01T00:00:00Z".into()),
            ..Names::default()
        };
        names.entities.insert("user".into());
        names.macros.insert(
            "multiply_add".into(),
            Macro {
                inputs: vec!["a".into(), "b".into()],
                value: "{{a}} * 10 + {{ b}}".into(),
            },
        );
        names.macros.insert(
            "frame".into(),
            Macro {
                inputs: vec![],
                value: "rows between unbounded preceding and unbounded following".into(),
            },
        );
        names.macros.insert(
            "days_since".into(),
            Macro {
                inputs: vec!["column".into()],
                value: "{% if warehouse.DatabaseType() == \"bigquery\" %}date_diff(x){% else %}{% if !(end_time|isnil) %}datediff(day, {{column}}, '{{end_time.Format(\"2006-01-02 15:04:05\")}}'){% else %}datediff(day, {{column}}, getdate()){% endif %}{% endif %}".into(),
            },
        );
        names
            .input_sources
            .insert("tbl_c".into(), "sample.tbl_c".into());
        names
            .input_rows
            .insert("tbl_c".into(), "sample.tbl_c".into());
        names.models.insert("m".into(), "m".into());
        names.models.insert("graph".into(), "g".into());
        names.models.insert(
            "stitched".into(),
            "(SELECT * FROM id_stitch('user'))".into(),
        );
        names.model_entities.insert(
            "graph".into(),
            ModelEntity {
                name: "user".into(),
                id_column: "person_key".into(),
            },
        );
        names.input_var_tables.insert(
            "tbl_c".into(),
            VarTable {
                sql: "(vt)".into(),
                entities: vec!["user".into()],
                model: None,
            },
        );
        Arc::new(names)
    }

    fn run(text: &str) -> Result<Rendered, String> {
        let inputs = [("tbl_c".to_string(), "tbl_c".to_string())].into();
        render(text, &names(), &inputs)
    }

    #[test]
    fn renders_vars_inputs_and_macros() {
        let r = run(r#"max({{tbl_c.Var("num_c")}} + {{user.Var("a_max")}})"#).unwrap();
        assert_eq!(r.sql, "max(tbl_c.num_c + \"user\".a_max)");
        assert!(r.vars.contains(&("user".into(), "a_max".into())));
        assert_eq!(
            run(r#"{{user.Var("~/entity/user/all/a_max")}} - {{user.b}}"#)
                .unwrap()
                .sql,
            "\"user\".a_max - \"user\".b"
        );
        let r =
            run(r#"{{ multiply_add('{{tbl_c.Var(\"rank_var\")}}', '{{tbl_c.Var(\"num_c\")}}') }}"#)
                .unwrap();
        assert_eq!(r.sql, "tbl_c.rank_var * 10 + tbl_c.num_c");
        assert!(r.input_names.contains(&("tbl_c".into(), "rank_var".into())));
        // An input var as an attribute of its input, as pb's docs write it.
        let r = run("{{ tbl_c.Rank_Var }} = 1").unwrap();
        assert_eq!(r.sql, "tbl_c.rank_var = 1");
        assert!(r.input_names.contains(&("tbl_c".into(), "rank_var".into())));
        assert_eq!(
            run(r#"select * from {{this.DeRef("inputs/tbl_c")}}"#)
                .unwrap()
                .sql,
            "select * from sample.tbl_c"
        );
        assert_eq!(run("no templates").unwrap().sql, "no templates");
        assert_eq!(
            run("{% with t = this.DeRef(\"inputs/tbl_c\") %} from {{ t }} {% endwith %}")
                .unwrap()
                .sql
                .trim(),
            "from sample.tbl_c"
        );
        let r = run("{% with a = this.DeRef(\"inputs/tbl_c\") b = this.DeRef(\"models/m\") %}{{a}} join {{b}}{% endwith %}").unwrap();
        assert_eq!(r.sql, "sample.tbl_c join m");
        assert!(r.models.contains("m"));
        assert_eq!(
            run(r#"{{this.DeRef("models/TBL_C")}}"#).unwrap().sql,
            "sample.tbl_c"
        );
        assert_eq!(
            run("{{frame}}").unwrap().sql,
            "rows between unbounded preceding and unbounded following"
        );
    }

    #[test]
    fn columns_of_derefed_subqueries_are_qualified_by_their_names() {
        let r = run(r#"{% with s = this.DeRef("models/stitched") %}SELECT {{s}}.user_main_id, t.x FROM t JOIN {{s}} ON t.id = {{s}}.other_id{% endwith %}"#)
            .unwrap();
        assert_eq!(
            r.sql,
            "SELECT stitched.user_main_id, t.x FROM t JOIN (SELECT * FROM id_stitch('user')) \
             AS stitched ON t.id = stitched.other_id"
        );
        // Read without a qualifier, the subquery stays as it is, free to take an alias.
        let r = run(r#"SELECT x FROM {{this.DeRef("models/stitched")}} s"#).unwrap();
        assert_eq!(r.sql, "SELECT x FROM (SELECT * FROM id_stitch('user')) s");
    }

    #[test]
    fn a_model_of_an_entity_names_its_main_id_column() {
        let r = run(r#"{% with g = this.DeRef("models/graph") %}select {{g.Model.GetEntity().IdColumnName}} from {{g}} -- {{g.Model.GetEntity().Name}}{% endwith %}"#)
            .unwrap();
        assert_eq!(r.sql, "select person_key from g -- user");
        let error =
            run(r#"{{this.DeRef("models/m").Model.GetEntity().IdColumnName}}"#).unwrap_err();
        assert!(error.contains("the model is not of an entity"), "{error}");
        let error = run(r#"{{this.DeRef("models/graph").Model.GetName()}}"#).unwrap_err();
        assert!(error.contains("it has GetEntity()"), "{error}");
    }

    #[test]
    fn branches_on_the_dialect_and_the_end_time() {
        assert_eq!(
            run("{{ days_since('{{user.Var(\"last\")}}') }}")
                .unwrap()
                .sql,
            "datediff(day, \"user\".last, '2025-07-01 00:00:00')"
        );
        assert_eq!(
            run("{% if begin_time|isnil && warehouse.DatabaseType() != 'redshift' %}a{% else %}b{% endif %}")
                .unwrap()
                .sql,
            "a"
        );
        assert_eq!(
            run("{{ end_time.Format(\"Jan 2, 2006 at 3:04pm (MST)\") }}")
                .unwrap()
                .sql,
            "Jul 1, 2025 at 12:00am (UTC)"
        );
        // pb's SQL forms of the window's ends: a timestamp, NULL without a begin time.
        assert_eq!(
            run("ts > {{ end_time_sql }} - INTERVAL '90 day' and ts >= {{begin_time_sql}}")
                .unwrap()
                .sql,
            "ts > CAST('2025-07-01T00:00:00Z' AS TIMESTAMP) - INTERVAL '90 day' and ts >= NULL"
        );
    }

    #[test]
    fn rejects_what_it_cannot_render() {
        let error = |text: &str| run(text).unwrap_err();
        assert!(
            error("{{ nope(1) }}").contains("nope"),
            "{}",
            error("{{ nope(1) }}")
        );
        assert!(error("{{ multiply_add(1) }}").contains("takes 2 arguments"));
        assert!(
            error("{{ account.Var('x') }}").contains("account"),
            "{}",
            error("{{ account.Var('x') }}")
        );
        assert!(error("{{ user.Var('x') ").contains("template"));
        assert!(error("{{ this.DeRef('models/nope') }}").contains("no model named 'nope'"));
        assert!(
            error("{{ this.ReadFile('../etc/passwd') }}").contains("inside the project folder")
        );
        assert!(error("{{ this.ReadFile('no/such.sql') }}").contains("cannot read"));
        let endless = error("{% for i in range(100000000) %}x{% endfor %}");
        assert!(
            endless.contains("range") || endless.contains("fuel"),
            "{endless}"
        );
    }

    #[test]
    fn incremental_derefs_take_the_full_branch() {
        let template = r#"{%- set last = this.DeRef(pre_existing=true, dependency="optional",
              checkpoint_name="baseline") -%}
            {% set delta = this.DeRef("inputs/tbl_c/incr_delta_tbl", dependency="coercive",
               baseline_name="baseline", prereqs=[last]) %}
            {% set full = this.DeRef("inputs/TBL_C", prereqs=[delta.Except()]) %}
            {% if last.IsEnabled() and delta.IsEnabled() %}select * from {{ last }}
            {% elif full.IsEnabled() %}select * from {{ full }}{% endif %}"#;
        assert_eq!(
            run(template).unwrap().sql.trim(),
            "select * from sample.tbl_c"
        );
        let error = |text: &str| run(text).unwrap_err();
        let printed = error("select * from {{ this.DeRef(pre_existing=true) }}");
        assert!(
            printed.contains("this.DeRef(pre_existing=true) is a previous run's output"),
            "{printed}"
        );
        assert!(error("{{ this.DeRef('inputs/tbl_c/incr_delta_tbl') }}").contains("IsEnabled()"));
        let unknown = error("{{ this.DeRef('inputs/tbl_c', prereq=[]) }}");
        assert!(unknown.contains("unknown argument 'prereq'"), "{unknown}");
        assert!(error("{{ this.DeRef() }}").contains("takes a path"));
        assert!(
            error("{{ this.DeRef('inputs/tbl_c').IsEnabled(1) }}").contains("takes no argument")
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any text renders or fails with an error; nothing panics or runs away.
        #[test]
        fn any_text_renders_or_fails(text in "[{}%#!|&()'\"a-z_. =é0-9\n-]{0,60}") {
            let _ = run(&text);
            let _ = run(&format!("{{{{ end_time.Format('{}') }}}}", text.replace('\'', "")));
        }
    }

    #[test]
    fn dialect_meanings_of_functions() {
        assert_eq!(
            run("mod(RANDOM(), 3) + random ( )").unwrap().sql,
            "mod(random_int64(), 3) + random_int64()"
        );
        assert_eq!(
            run("REGEXP_LIKE(email, '.+@.+') and rlike (x, 'a', 'i') and not_regexp_like(y)")
                .unwrap()
                .sql,
            "regexp_full_match(email, '.+@.+') and regexp_full_match(x, 'a', 'i') and \
             not_regexp_like(y)"
        );
    }

    #[test]
    fn go_layouts() {
        assert_eq!(
            go_layout_to_strftime("2006-01-02 15:04:05"),
            "%Y-%m-%d %H:%M:%S"
        );
        assert_eq!(
            go_layout_to_strftime("2006-01-02T15:04:05Z07:00"),
            "%Y-%m-%dT%H:%M:%SZ"
        );
        assert_eq!(go_layout_to_strftime("100%"), "%-m00%%");
    }

    #[test]
    fn var_tables_print_their_rows_and_name_their_columns() {
        let r = run(r#"{% with m = this.DeRef("inputs/tbl_c/var_table/USER_MAIN_ID") t = this.DeRef("inputs/TBL_C/var_table") %}select {{m}} from {{t}}{% endwith %}"#).unwrap();
        assert_eq!(r.sql, "select user_main_id from (vt)");
        assert!(r.graphs.contains("user"));
        let error = run(r#"{{ this.DeRef("inputs/nope/var_table") }}"#).unwrap_err();
        assert!(error.contains("no input with ids named 'nope'"), "{error}");
        // A path that only starts like a var table is an input's name.
        let error = run(r#"{{ this.DeRef("inputs/tbl_c/var_tables") }}"#).unwrap_err();
        assert!(
            error.contains("no input named 'tbl_c/var_tables'"),
            "{error}"
        );
    }
}
