// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The profile store of a Knit SQL session. `CREATE PROFILE STORE 'path'` names it (the
//! engine keeps the name as `knit.profile_store`); `REFRESH PROFILE STORE` runs the
//! session's definitions into it, as `knit project run --store` runs a pb project's: the
//! first refresh computes everything, a later one reads only the input files it has not
//! read and recomputes only the clusters their rows touch, with a full run's result.
//!
//! The definitions are the statements the session ran that define tables, entities,
//! inputs, vars and cohorts or set options, in the order they ran (queries, `COPY` and
//! `SHOW` are left out). A refresh replays them in sessions of its own, each table that
//! `CREATE EXTERNAL TABLE` registers pinned to the files it lists. The outputs, one
//! Delta table each in the store:
//!
//! - per entity: `<entity>_id_graph` (`id_stitch`, keyed by `other_id, other_id_type`),
//!   `<entity>_id_graph_edges` (`id_stitch_edges`) and `<entity>_features` (every var,
//!   `feature_table`, keyed by the main id);
//! - per cohort: `<entity>_<cohort>` (its members) and `<cohort>_features` (their vars).

use std::path::Path;

use datafusion::sql::parser::Statement as DFStatement;
use knit_core::catalog::Catalog;
use knit_pb::{Script, ScriptStatement};
use knit_sql::sqlparser::ast::Statement as SqlStatement;
use knit_sql::{Statement, quote_literal};

/// What a session's refresh computes: its definitions, and the outputs they make.
#[derive(Debug, Clone, Default)]
pub(crate) struct SqlProfile {
    /// The statements that define, in the order they ran.
    definitions: Vec<ScriptStatement>,
    /// The outputs: name, query, the columns that key its rows, its entity.
    outputs: Vec<(String, String, Vec<String>, String)>,
    /// The first statement that changed rows a replay of the definitions would not
    /// have (an `INSERT` into a table in memory), if any.
    unreplayable: Option<String>,
}

impl SqlProfile {
    /// Whether it makes no output (it defines no entity).
    pub(super) fn has_no_outputs(&self) -> bool {
        self.outputs.is_empty()
    }

    /// Notes that `statement` changed rows that a replay of the definitions would not
    /// have, so that a refresh refuses to run rather than compute without them.
    pub(crate) fn note_unreplayable(&mut self, statement: String) {
        self.unreplayable.get_or_insert(statement);
    }

    /// The first statement [`SqlProfile::note_unreplayable`] noted.
    pub(super) fn unreplayable(&self) -> Option<&str> {
        self.unreplayable.as_deref()
    }

    /// Keeps `sql` (parsed as `statement`, which ran) if it defines something a refresh
    /// needs.
    pub(crate) fn record(&mut self, sql: &str, statement: &Statement) {
        let table = match statement {
            Statement::CreateEntity(_)
            | Statement::CreateInput(_)
            | Statement::CreateEntityVar(_)
            | Statement::CreateInputVar(_)
            | Statement::CreateCohort(_)
            | Statement::Drop(_) => None,
            Statement::DataFusion(df) => match df.as_ref() {
                DFStatement::CreateExternalTable(create) => Some(create.name.to_string()),
                DFStatement::Statement(inner)
                    if matches!(
                        inner.as_ref(),
                        SqlStatement::CreateView(_)
                            | SqlStatement::CreateTable(_)
                            | SqlStatement::CreateSchema { .. }
                            | SqlStatement::CreateFunction(_)
                            | SqlStatement::Drop { .. }
                            | SqlStatement::Set(_)
                    ) =>
                {
                    None
                }
                DFStatement::Reset(_) => None,
                _ => return,
            },
            Statement::Show(_)
            | Statement::DescribeEntity(_)
            | Statement::CreateProfileStore(_)
            | Statement::RefreshProfileStore { .. } => return,
        };
        self.definitions.push(ScriptStatement {
            sql: sql.trim().trim_end_matches(';').to_string(),
            origin: None,
            output: None,
            keys: Vec::new(),
            entity: None,
            table,
        });
    }

    /// The definitions with the outputs of the entities and cohorts in `catalog`.
    pub(super) fn with_outputs(&self, catalog: &Catalog) -> Result<Self, String> {
        let mut outputs = Vec::new();
        let cohorts = catalog.cohorts().map_err(|e| e.to_string())?;
        for entity in catalog.entities().map_err(|e| e.to_string())? {
            let name = quote_literal(&entity.name);
            let main = vec![entity.main_id_column.clone()];
            let mut add = |output: String, query: String, keys: Vec<String>| {
                outputs.push((output, query, keys, entity.name.clone()));
            };
            add(
                format!("{}_id_graph", entity.name),
                format!("SELECT * FROM id_stitch({name})"),
                vec!["other_id".into(), "other_id_type".into()],
            );
            add(
                format!("{}_id_graph_edges", entity.name),
                format!("SELECT * FROM id_stitch_edges({name})"),
                ["id1", "id1_type", "id2", "id2_type"]
                    .map(String::from)
                    .to_vec(),
            );
            add(
                format!("{}_features", entity.name),
                format!("SELECT * FROM feature_table({name})"),
                main.clone(),
            );
            for cohort in cohorts.iter().filter(|c| c.entity == entity.name) {
                let literal = quote_literal(&cohort.name);
                add(
                    format!("{}_{}", entity.name, cohort.name),
                    format!("SELECT * FROM cohort({literal})"),
                    main.clone(),
                );
                add(
                    format!("{}_features", cohort.name),
                    format!("SELECT * FROM feature_table({name}, {literal})"),
                    main.clone(),
                );
            }
        }
        Ok(Self {
            definitions: self.definitions.clone(),
            outputs,
            unreplayable: self.unreplayable.clone(),
        })
    }

    /// The script of a run writing its outputs to `staging` as Parquet files.
    pub(super) fn script(&self, staging: &Path) -> Script {
        let mut statements = self.definitions.clone();
        for (output, query, keys, entity) in &self.outputs {
            let path = staging.join(format!("{output}.parquet"));
            statements.push(ScriptStatement {
                sql: format!(
                    "COPY ({query}) TO {} STORED AS PARQUET",
                    quote_literal(&path.display().to_string())
                ),
                origin: None,
                output: Some(output.clone()),
                keys: keys.clone(),
                entity: Some(entity.clone()),
                table: None,
            });
        }
        Script { statements }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recorded(statements: &[&str]) -> Vec<(String, Option<String>)> {
        let mut profile = SqlProfile::default();
        for sql in statements {
            profile.record(sql, &knit_sql::parse_statement(sql).unwrap());
        }
        profile
            .definitions
            .into_iter()
            .map(|s| (s.sql, s.table))
            .collect()
    }

    #[test]
    fn definitions_are_kept_in_order_and_queries_left_out() {
        let kept = recorded(&[
            "SET datafusion.execution.batch_size = 1024;",
            "CREATE EXTERNAL TABLE shop.events STORED AS PARQUET LOCATION 'events/'",
            "SELECT * FROM shop.events",
            "CREATE ENTITY user ID TYPES (user_id)",
            "CREATE INPUT events FOR user FROM shop.events IDS (user_id AS user_id)",
            "COPY (SELECT 1) TO 'x.parquet'",
            "CREATE ENTITY VAR user.n AS count(*) FROM events",
            "EXPLAIN SELECT 1",
            "SHOW ENTITIES",
            "CREATE VIEW v AS SELECT 1",
            "DROP ENTITY VAR user.n",
            "CREATE PROFILE STORE 'store'",
            "REFRESH PROFILE STORE",
        ]);
        let sql: Vec<&str> = kept.iter().map(|(s, _)| s.as_str()).collect();
        assert_eq!(
            sql,
            [
                "SET datafusion.execution.batch_size = 1024",
                "CREATE EXTERNAL TABLE shop.events STORED AS PARQUET LOCATION 'events/'",
                "CREATE ENTITY user ID TYPES (user_id)",
                "CREATE INPUT events FOR user FROM shop.events IDS (user_id AS user_id)",
                "CREATE ENTITY VAR user.n AS count(*) FROM events",
                "CREATE VIEW v AS SELECT 1",
                "DROP ENTITY VAR user.n",
            ]
        );
        let tables: Vec<Option<&str>> = kept.iter().map(|(_, t)| t.as_deref()).collect();
        assert_eq!(tables[1], Some("shop.events"));
        assert!(tables.iter().filter(|t| t.is_some()).count() == 1);
    }
}
