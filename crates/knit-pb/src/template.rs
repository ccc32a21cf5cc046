// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb's templates in YAML text, rendered into Knit SQL.
//!
//! pb pastes `select`, `where`, `default_value`, cohort filters and `sql_template` SQL
//! through a template engine. The forms Knit renders:
//!
//! | template | becomes |
//! | --- | --- |
//! | `{{user.Var("x")}}`, `{{user.x}}`, `{{user.Var("~/entity/user/all/x")}}` | `user.x`, the entity var |
//! | `{{orders.Var("col")}}` | `orders.col`, the input's column or input var |
//! | `{{this.DeRef("inputs/x")}}`, `{{this.DeRef("models/y")}}` | the input's table, the model's view (in `sql_template`) |
//! | `{{warehouse.DataType("float")}}` | the SQL type |
//! | `{{ some_macro('a', b) }}` | the macro's `value` with its inputs replaced, rendered again |
//!
//! Anything else, control flow (`{% if %}`) included, is an error that quotes it.

use std::collections::{BTreeMap, BTreeSet};

use knit_sql::quote_ident_if_needed;

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
    /// pb input name (lower case) to the SQL that reads its rows, for `this.DeRef`.
    pub input_sources: BTreeMap<String, String>,
    /// `sql_template` model names, for `this.DeRef("models/..")`.
    pub sql_models: BTreeSet<String>,
}

/// The result of rendering one text.
#[derive(Debug, Default)]
pub(crate) struct Rendered {
    /// The SQL text.
    pub sql: String,
    /// The entity vars it reads, as `(entity, var)`.
    pub vars: BTreeSet<(String, String)>,
    /// The input columns or input vars it reads, as `(input, name)`.
    pub input_names: BTreeSet<(String, String)>,
    /// The `sql_template` models it reads.
    pub models: BTreeSet<String>,
}

/// Macro expansions deeper than this are taken to be a macro that calls itself.
const MAX_DEPTH: usize = 32;

/// Renders `text`; `inputs` maps a pb input name (lower case) to the name the rendered
/// SQL should use for it.
pub(crate) fn render(
    text: &str,
    names: &Names,
    inputs: &dyn Fn(&str) -> Option<String>,
) -> Result<Rendered, String> {
    let mut rendered = Rendered::default();
    rendered.sql = render_into(text, names, inputs, &mut rendered, 0)?;
    Ok(rendered)
}

fn render_into(
    text: &str,
    names: &Names,
    inputs: &dyn Fn(&str) -> Option<String>,
    out: &mut Rendered,
    depth: usize,
) -> Result<String, String> {
    if depth > MAX_DEPTH {
        return Err(format!(
            "macros expand more than {MAX_DEPTH} levels deep; does a macro call itself?"
        ));
    }
    let expanded;
    let text = match expand_with_blocks(text, names, inputs, out, depth)? {
        Some(t) => {
            expanded = t;
            expanded.as_str()
        }
        None => text,
    };
    if let Some(start) = text.find("{%") {
        let end = text[start..]
            .find("%}")
            .map_or(text.len(), |e| start + e + 2);
        return Err(format!(
            "template control flow `{}` is not supported; write the SQL it produces instead",
            &text[start..end]
        ));
    }
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        result.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = closing_braces(after)
            .ok_or_else(|| format!("`{{{{` without its `}}}}` in `{text}`"))?;
        let expr = after[..end].trim();
        let value = evaluate(expr, names, inputs, out, depth)?;
        result.push_str(&value);
        rest = &after[end + 2..];
    }
    result.push_str(rest);
    Ok(result)
}

/// `text` with each `{% with name = expr %}body{% endwith %}` replaced by its body, in
/// which `{{ name }}` stands for the value of `expr` (pb's idiom for `this.DeRef`);
/// `None` when there is no such block.
fn expand_with_blocks(
    text: &str,
    names: &Names,
    inputs: &dyn Fn(&str) -> Option<String>,
    out: &mut Rendered,
    depth: usize,
) -> Result<Option<String>, String> {
    let pattern = regex::Regex::new(
        r"(?s)\{%-?\s*with\s+(\w+)\s*=\s*(.*?)\s*-?%\}(.*?)\{%-?\s*endwith\s*-?%\}",
    )
    .map_err(|e| e.to_string())?;
    if !pattern.is_match(text) {
        return Ok(None);
    }
    let mut result = String::with_capacity(text.len());
    let mut last = 0;
    for captures in pattern.captures_iter(text) {
        let (Some(all), Some(name), Some(expr), Some(body)) = (
            captures.get(0),
            captures.get(1),
            captures.get(2),
            captures.get(3),
        ) else {
            continue;
        };
        result.push_str(&text[last..all.start()]);
        let value = evaluate(expr.as_str(), names, inputs, out, depth)?;
        result.push_str(&replace_parameter(body.as_str(), name.as_str(), &value));
        last = all.end();
    }
    result.push_str(&text[last..]);
    Ok(Some(result))
}

/// The offset of the `}}` that closes a template, skipping quoted text (macro arguments
/// hold templates of their own).
fn closing_braces(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut quote: Option<u8> = None;
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(q) => {
                if c == b'\\' {
                    i += 1;
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                b'\'' | b'"' => quote = Some(c),
                b'{' if bytes.get(i + 1) == Some(&b'{') => {
                    depth += 1;
                    i += 1;
                }
                b'}' if bytes.get(i + 1) == Some(&b'}') => {
                    if depth == 0 {
                        return Some(i);
                    }
                    depth -= 1;
                    i += 1;
                }
                _ => {}
            },
        }
        i += 1;
    }
    None
}

fn evaluate(
    expr: &str,
    names: &Names,
    inputs: &dyn Fn(&str) -> Option<String>,
    out: &mut Rendered,
    depth: usize,
) -> Result<String, String> {
    let unsupported = || format!("template `{{{{ {expr} }}}}` is not supported");
    let Some((head, args)) = split_call(expr) else {
        // `owner.name`
        if let Some((owner, name)) = expr.split_once('.')
            && is_word(owner)
            && is_word(name)
        {
            let owner = owner.to_lowercase();
            if names.entities.contains(&owner) {
                return Ok(entity_var(&owner, name, out));
            }
        }
        return Err(unsupported());
    };
    let args = split_args(args).ok_or_else(unsupported)?;
    match head.split_once('.') {
        Some((owner, "Var")) => {
            let [arg] = args.as_slice() else {
                return Err(format!("`{expr}`: Var takes one name"));
            };
            let name = unquote(arg).ok_or_else(unsupported)?;
            // A var may be named by a path: ~/entity/user/all/x or ./x.
            let name = name.rsplit('/').next().unwrap_or(&name).to_string();
            let owner = owner.to_lowercase();
            if names.entities.contains(&owner) {
                return Ok(entity_var(&owner, &name, out));
            }
            if let Some(input) = inputs(&owner) {
                let name = name.to_lowercase();
                out.input_names.insert((owner.clone(), name.clone()));
                return Ok(format!("{input}.{}", quote_ident_if_needed(&name)));
            }
            Err(format!(
                "`{expr}`: '{owner}' is neither an entity nor an input of this var's entity"
            ))
        }
        Some(("this", "DeRef")) => {
            let [arg] = args.as_slice() else {
                return Err(format!("`{expr}`: DeRef takes one path"));
            };
            let path = unquote(arg).ok_or_else(unsupported)?;
            match path.split_once('/') {
                Some(("inputs", input)) => names
                    .input_sources
                    .get(&input.to_lowercase())
                    .cloned()
                    .ok_or_else(|| format!("`{expr}`: no input named '{input}'")),
                Some(("models", model)) if names.sql_models.contains(&model.to_lowercase()) => {
                    out.models.insert(model.to_lowercase());
                    Ok(model.to_lowercase())
                }
                _ => Err(format!(
                    "`{expr}`: DeRef takes inputs/<input> or models/<sql_template model>"
                )),
            }
        }
        Some(("warehouse", "DataType")) => {
            let [arg] = args.as_slice() else {
                return Err(format!("`{expr}`: DataType takes one type name"));
            };
            let name = unquote(arg).ok_or_else(unsupported)?;
            sql_type(&name).map(str::to_string)
        }
        Some(_) => Err(unsupported()),
        None => {
            let definition = names
                .macros
                .get(head)
                .ok_or_else(|| format!("`{expr}`: no macro named '{head}'"))?;
            if definition.inputs.len() != args.len() {
                return Err(format!(
                    "`{expr}`: macro '{head}' takes {} arguments ({}), got {}",
                    definition.inputs.len(),
                    definition.inputs.join(", "),
                    args.len()
                ));
            }
            let mut text = definition.value.clone();
            for (input, arg) in definition.inputs.iter().zip(&args) {
                let value = unquote(arg).unwrap_or_else(|| arg.trim().to_string());
                text = replace_parameter(&text, input, &value);
            }
            render_into(&text, names, inputs, out, depth + 1)
        }
    }
}

fn entity_var(entity: &str, name: &str, out: &mut Rendered) -> String {
    let name = name.to_lowercase();
    out.vars.insert((entity.to_string(), name.clone()));
    format!(
        "{}.{}",
        quote_ident_if_needed(entity),
        quote_ident_if_needed(&name)
    )
}

/// The SQL type of pb's `warehouse.DataType(...)` names.
pub(crate) fn sql_type(name: &str) -> Result<&'static str, String> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "float" | "double" | "number" | "real" => "DOUBLE",
        "int" | "integer" | "bigint" | "long" => "BIGINT",
        "string" | "varchar" | "text" => "VARCHAR",
        "bool" | "boolean" => "BOOLEAN",
        "timestamp" | "datetime" => "TIMESTAMP",
        "date" => "DATE",
        other => return Err(format!("data type '{other}' is not supported")),
    })
}

/// `{{ name }}` (any spacing) replaced by `value`.
fn replace_parameter(text: &str, name: &str, value: &str) -> String {
    let mut result = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) if after[..end].trim() == name => {
                result.push_str(&rest[..start]);
                result.push_str(value);
                rest = &after[end + 2..];
            }
            _ => {
                result.push_str(&rest[..start + 2]);
                rest = after;
            }
        }
    }
    result.push_str(rest);
    result
}

fn is_word(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// `head(args)` split into its head and the text between the parentheses.
fn split_call(expr: &str) -> Option<(&str, &str)> {
    let open = expr.find('(')?;
    let head = expr[..open].trim();
    let inner = expr[open + 1..].trim_end().strip_suffix(')')?;
    let valid = head
        .split('.')
        .all(|part| is_word(part) && !part.is_empty());
    valid.then_some((head, inner))
}

/// Arguments split at top-level commas.
fn split_args(text: &str) -> Option<Vec<String>> {
    let mut args = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == '\\' {
                    current.push(chars.next()?);
                } else if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                '(' | '{' => {
                    depth += 1;
                    current.push(c);
                }
                ')' | '}' => {
                    depth -= 1;
                    current.push(c);
                }
                ',' if depth == 0 => args.push(std::mem::take(&mut current)),
                _ => current.push(c),
            },
        }
    }
    if quote.is_some() || depth != 0 {
        return None;
    }
    if !current.trim().is_empty() || !args.is_empty() {
        args.push(current);
    }
    Some(args.into_iter().map(|a| a.trim().to_string()).collect())
}

/// The text of a quoted argument, with `\"` and `\'` unescaped.
fn unquote(arg: &str) -> Option<String> {
    let arg = arg.trim();
    let quote = arg.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let inner = arg.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut text = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            text.push(chars.next()?);
        } else {
            text.push(c);
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Names {
        let mut names = Names::default();
        names.entities.insert("user".into());
        names.macros.insert(
            "multiply_add".into(),
            Macro {
                inputs: vec!["a".into(), "b".into()],
                value: "{{a}} * 10 + {{ b}}".into(),
            },
        );
        names
            .input_sources
            .insert("tbl_c".into(), "sample.tbl_c".into());
        names
    }

    fn run(text: &str) -> Result<Rendered, String> {
        let inputs = |name: &str| (name == "tbl_c").then(|| name.to_string());
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
    }

    #[test]
    fn rejects_what_it_cannot_render() {
        let error = |text: &str| run(text).unwrap_err();
        assert!(error("{% if a %}x{% endif %}").contains("control flow"));
        assert!(error("{{ nope(1) }}").contains("no macro named 'nope'"));
        assert!(error("{{ multiply_add(1) }}").contains("takes 2 arguments"));
        assert!(error("{{ account.Var('x') }}").contains("neither an entity nor an input"));
        assert!(error("{{ user.Var('x') ").contains("without its"));
        assert!(error("{{ a | upper }}").contains("not supported"));
    }
}
