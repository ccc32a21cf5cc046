// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! pb's template syntax (pongo2, Django's) rewritten as Jinja's, for `minijinja`.
//!
//! The two differ in a few spellings, each rewritten inside `{{ }}` and `{% %}` only (never
//! in the SQL around them, nor in quoted text):
//!
//! - `!x` is `not x`; `&&` and `||` are `and` and `or`;
//! - `{% with a = x b = y %}` binds several names without commas, Jinja with them;
//! - `{% exec %}...{% endexec %}` (pb's tag that runs its body, as in
//!   `{% exec %}{{this.ReadFile("q.sql")}}{% endexec %}`) is its body.

/// `text` with pongo2's spellings rewritten as Jinja's.
pub(crate) fn to_jinja(text: &str) -> String {
    if !text.contains("{{") && !text.contains("{%") {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(start) = find_tag_start(rest) {
        let (before, tag) = rest.split_at(start);
        out.push_str(before);
        let close = if tag.starts_with("{{") { "}}" } else { "%}" };
        let Some(end) = tag_end(&tag[2..], close) else {
            // No end: leave the rest for the engine to report.
            out.push_str(tag);
            return out;
        };
        let body = &tag[2..2 + end];
        let word = body.trim().trim_matches('-').trim();
        if close == "%}" && (word == "exec" || word == "endexec") {
            rest = &tag[2 + end + 2..];
            continue;
        }
        out.push_str(&tag[..2]);
        let is_with = close == "%}" && {
            let trimmed = body.trim_start_matches('-').trim_start();
            trimmed.starts_with("with ") || trimmed.starts_with("with\t")
        };
        let body = rewrite_operators(body);
        if is_with {
            out.push_str(&separate_assignments(&body));
        } else {
            out.push_str(&body);
        }
        out.push_str(close);
        rest = &tag[2 + end + 2..];
    }
    out.push_str(rest);
    out
}

fn find_tag_start(text: &str) -> Option<usize> {
    match (text.find("{{"), text.find("{%")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The offset of `close` in `body`, skipping quoted text.
fn tag_end(body: &str, close: &str) -> Option<usize> {
    let bytes = body.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        match quote {
            Some(_) if c == b'\\' => i += 1,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if bytes[i..].starts_with(close.as_bytes()) => return Some(i),
            None => {}
        }
        i += 1;
    }
    None
}

/// `!`, `&&` and `||` outside quoted text as `not`, `and` and `or`.
fn rewrite_operators(body: &str) -> String {
    let mut out = String::with_capacity(body.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = body.chars().peekable();
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' {
                if let Some(next) = chars.next() {
                    out.push(next);
                }
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' => {
                quote = Some(c);
                out.push(c);
            }
            '!' if chars.peek() != Some(&'=') => out.push_str(" not "),
            '&' if chars.peek() == Some(&'&') => {
                chars.next();
                out.push_str(" and ");
            }
            '|' if chars.peek() == Some(&'|') => {
                chars.next();
                out.push_str(" or ");
            }
            _ => out.push(c),
        }
    }
    out
}

/// `with a = x b = y` as `with a = x, b = y`: a comma before each `name =` that starts a
/// new binding at the top level (outside quotes and parentheses).
fn separate_assignments(body: &str) -> String {
    let chars: Vec<char> = body.chars().collect();
    let mut out = String::with_capacity(body.len() + 4);
    let mut quote: Option<char> = None;
    let mut depth = 0i32;
    let mut bindings = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if let Some(q) = quote {
            out.push(c);
            if c == '\\' && i + 1 < chars.len() {
                i += 1;
                out.push(chars[i]);
            } else if c == q {
                quote = None;
            }
            i += 1;
            continue;
        }
        match c {
            '"' | '\'' => quote = Some(c),
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        let starts_word = (c.is_alphabetic() || c == '_')
            && (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == ',');
        if depth == 0 && starts_word {
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            let mut k = j;
            while k < chars.len() && chars[k].is_whitespace() {
                k += 1;
            }
            let is_binding =
                word != "with" && chars.get(k) == Some(&'=') && chars.get(k + 1) != Some(&'=');
            if is_binding {
                bindings += 1;
                if bindings > 1 && !out.trim_end().ends_with(',') {
                    let trimmed = out.trim_end().len();
                    out.truncate(trimmed);
                    out.push_str(", ");
                }
            }
            out.push_str(&word);
            i = j;
            continue;
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_pongo_spellings_inside_tags_only() {
        assert_eq!(
            to_jinja("{% if !(end_time|isnil) && a || b %}x != y{% endif %}"),
            "{% if  not (end_time|isnil)  and  a  or  b %}x != y{% endif %}"
        );
        assert_eq!(to_jinja("{{ a != '!' }}"), "{{ a != '!' }}");
        assert_eq!(
            to_jinja("{% with A = this.DeRef(\"m/x\") B = this.DeRef(\"m/y\")%}{{A}}{% endwith %}"),
            "{% with A = this.DeRef(\"m/x\"), B = this.DeRef(\"m/y\")%}{{A}}{% endwith %}"
        );
        assert_eq!(
            to_jinja("{% with a = x, b = y %}"),
            "{% with a = x, b = y %}"
        );
        assert_eq!(
            to_jinja("{% with a = f(b = 1) %}"),
            "{% with a = f(b = 1) %}"
        );
        assert_eq!(to_jinja("select '{{' "), "select '{{' ");
        assert_eq!(to_jinja("{% exec %} {{ q }} {%- endexec %}"), " {{ q }} ");
        assert_eq!(
            to_jinja("{{ 'é' }}é{% if !ü %}"),
            "{{ 'é' }}é{% if  not ü %}"
        );
    }
}
