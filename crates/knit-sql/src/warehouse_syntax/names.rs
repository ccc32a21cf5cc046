// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! The warehouse spellings [`super`] rewrites: date-part functions and words, renamed
//! functions, functions written in DataFusion's SQL, and type names.

/// Functions whose first argument is a date part.
pub(super) const PART_FIRST: &[&str] = &[
    "datediff",
    "dateadd",
    "timestampdiff",
    "timestampadd",
    "date_trunc",
    "datetrunc",
    "date_part",
    "datepart",
];

/// A warehouse's name of a date part (Snowflake's `mm`, `mon`, `yy`, `q`, ...) as its
/// full name (`month`), the one name Knit's date functions and DataFusion's
/// `date_trunc` read it by; `None` for a word that names no part.
pub fn date_part_name(word: &str) -> Option<&'static str> {
    Some(match word.trim().to_lowercase().as_str() {
        "year" | "years" | "y" | "yy" | "yyy" | "yyyy" | "yr" | "yrs" => "year",
        "quarter" | "quarters" | "q" | "qtr" | "qtrs" => "quarter",
        "month" | "months" | "mm" | "mon" | "mons" => "month",
        "week" | "weeks" | "w" | "wk" | "weekofyear" | "woy" | "wy" | "isoweek" => "week",
        "day" | "days" | "d" | "dd" | "dayofmonth" => "day",
        "hour" | "hours" | "h" | "hh" | "hr" | "hrs" => "hour",
        "minute" | "minutes" | "m" | "mi" | "min" | "mins" => "minute",
        "second" | "seconds" | "s" | "sec" | "secs" => "second",
        "millisecond" | "milliseconds" | "ms" | "msec" => "millisecond",
        "microsecond" | "microseconds" | "us" | "usec" => "microsecond",
        "nanosecond" | "nanoseconds" | "ns" | "nsec" => "nanosecond",
        _ => return None,
    })
}

/// Snowflake's `date_part(part, t)` (and `EXTRACT(part FROM t)`) as SQL DataFusion
/// plans, where `t` is `value`: DataFusion's part by its own name (`dayofweek`,
/// `weekday` and `dw` are `dow`, Sunday 0; `dayofweekiso` is `isodow`, Monday 1;
/// `yearofweek[iso]` is `isoyear`; `weekiso` is `week`), or a whole count of seconds,
/// milliseconds, microseconds or nanoseconds since 1970 (`epoch_second`, ...). `None`
/// for a word that names no part.
pub fn extraction_sql(word: &str, value: &str) -> Option<String> {
    let word = word.trim().to_lowercase();
    let since_1970 = |unit: &str| {
        format!("CAST(arrow_cast(CAST({value} AS TIMESTAMP), 'Timestamp({unit}, None)') AS BIGINT)")
    };
    let part = match word.as_str() {
        "epoch_second" | "epoch_seconds" => return Some(since_1970("Second")),
        "epoch_millisecond" | "epoch_milliseconds" => return Some(since_1970("Millisecond")),
        "epoch_microsecond" | "epoch_microseconds" => return Some(since_1970("Microsecond")),
        "epoch_nanosecond" | "epoch_nanoseconds" => return Some(since_1970("Nanosecond")),
        "dayofweek" | "weekday" | "dow" | "dw" => "dow",
        "dayofweekiso" | "weekday_iso" | "dow_iso" | "dw_iso" | "isodow" => "isodow",
        "dayofyear" | "yearday" | "doy" | "dy" => "doy",
        "weekiso" | "week_iso" | "weekofyeariso" | "weekofyear_iso" => "week",
        "yearofweek" | "yearofweekiso" | "isoyear" => "isoyear",
        "epoch" => "epoch",
        other => date_part_name(other)?,
    };
    Some(format!("date_part('{part}', {value})"))
}

/// A part `date_trunc` truncates to, by its full name: DataFusion's has no nanosecond.
pub(super) fn trunc_part(word: &str) -> Option<&'static str> {
    date_part_name(word).filter(|part| *part != "nanosecond")
}

/// Functions whose last argument is a date part (BigQuery).
pub(super) const PART_LAST: &[&str] = &[
    "date_diff",
    "datetime_diff",
    "timestamp_diff",
    "date_trunc",
    "datetime_trunc",
    "timestamp_trunc",
];

/// Warehouse function names and DataFusion's names for the same function.
pub(crate) const RENAMES: &[(&str, &str)] = &[
    ("getdate", "now"),
    ("sysdate", "now"),
    ("systimestamp", "now"),
    ("current_datetime", "now"),
    ("listagg", "string_agg"),
    ("split_to_array", "string_to_array"),
    ("array_construct", "make_array"),
    ("array_flatten", "flatten"),
    ("size", "cardinality"),
    ("approx_count_distinct", "approx_distinct"),
    ("startswith", "starts_with"),
    ("endswith", "ends_with"),
    ("len", "character_length"),
    ("boolor_agg", "bool_or"),
    ("booland_agg", "bool_and"),
    ("uuid_string", "uuid"),
    ("generate_uuid", "uuid"),
    ("safe_cast", "try_cast"),
    ("collect_list", "array_agg"),
    ("json_extract_path_text", "json_as_text"),
    ("variance", "var_samp"),
    ("variance_samp", "var_samp"),
    ("variance_pop", "var_pop"),
    ("object_keys", "json_object_keys"),
    ("array_intersection", "array_intersect"),
    ("approx_percentile", "approx_percentile_cont"),
    ("split", "string_to_array"),
    ("editdistance", "levenshtein"),
    ("logical_or", "bool_or"),
    ("logical_and", "bool_and"),
    ("regexp_contains", "regexp_like"),
    ("timestamp_seconds", "to_timestamp_seconds"),
    ("timestamp_millis", "to_timestamp_millis"),
    ("timestamp_micros", "to_timestamp_micros"),
    ("ceiling", "ceil"),
    ("array_generate_range", "range"),
    ("greatest_ignore_nulls", "greatest"),
    ("least_ignore_nulls", "least"),
    ("sequence", "generate_series"),
    ("explode", "unnest"),
];

/// The weekday a day's name (`$2`) gives, Sunday 0, read by its first two letters as
/// Snowflake reads it.
macro_rules! weekday_number {
    () => {
        "(CASE lower(substr(trim($2), 1, 2)) WHEN 'su' THEN 0 WHEN 'mo' THEN 1 WHEN 'tu' THEN 2 \
         WHEN 'we' THEN 3 WHEN 'th' THEN 4 WHEN 'fr' THEN 5 WHEN 'sa' THEN 6 END)"
    };
}

/// A date from its year, month and day, as Snowflake reads them: a month or day out of
/// range carries over (month 13 is January of the next year, month 0 December of the
/// one before, day 0 the last day of the month before), as each is added to January 1.
macro_rules! date_from_parts {
    () => {
        "dateadd('day', CAST($3 AS BIGINT) - 1, dateadd('month', CAST($2 AS BIGINT) - 1, \
         make_date($1, 1, 1)))"
    };
}
const DATE_FROM_PARTS: &str = date_from_parts!();

/// A time from its year, month, day, hour, minute and second, each carried over as
/// Snowflake does.
const TIMESTAMP_FROM_PARTS: &str = concat!(
    "dateadd('second', $6, dateadd('minute', $5, dateadd('hour', $4, CAST(",
    date_from_parts!(),
    " AS TIMESTAMP))))"
);

/// Seconds since 1970 of a time (or text of one), rounded down.
const UNIX_TIMESTAMP: &str = "CAST(floor(date_part('epoch', CAST($1 AS TIMESTAMP))) AS BIGINT)";

/// Warehouse functions written in DataFusion's SQL: name, number of arguments, and the
/// SQL, where `$1`, `$2` stand for the arguments (each put in parentheses).
pub(crate) const REWRITES: &[(&str, usize, &str)] = &[
    ("zeroifnull", 1, "coalesce($1, 0)"),
    ("nullifzero", 1, "nullif($1, 0)"),
    (
        "div0",
        2,
        "(CASE WHEN $2 = 0 THEN 0.0 ELSE CAST($1 AS DOUBLE) / $2 END)",
    ),
    ("square", 1, "power($1, 2)"),
    ("count_if", 1, "count(CASE WHEN $1 THEN 1 END)"),
    ("countif", 1, "count(CASE WHEN $1 THEN 1 END)"),
    ("to_varchar", 1, "CAST($1 AS VARCHAR)"),
    ("to_char", 1, "CAST($1 AS VARCHAR)"),
    ("charindex", 2, "strpos($2, $1)"),
    // Snowflake's replacement defaults to the empty string: the pattern is removed.
    ("replace", 2, "replace($1, $2, '')"),
    ("array_contains", 2, "array_has($2, $1)"),
    ("max_by", 2, "first_value($1 ORDER BY $2 DESC NULLS LAST)"),
    ("min_by", 2, "first_value($1 ORDER BY $2 ASC NULLS LAST)"),
    ("array_unique_agg", 1, "array_agg(DISTINCT $1)"),
    ("collect_set", 1, "array_agg(DISTINCT $1)"),
    ("format_date", 2, "to_char($2, $1)"),
    ("format_timestamp", 2, "to_char($2, $1)"),
    ("format_datetime", 2, "to_char($2, $1)"),
    ("sha2", 1, "encode(sha256($1), 'hex')"),
    (
        "last_day",
        1,
        "CAST(date_trunc('month', $1) + INTERVAL '1 month' - INTERVAL '1 day' AS DATE)",
    ),
    ("year", 1, "date_part('year', $1)"),
    ("quarter", 1, "date_part('quarter', $1)"),
    ("month", 1, "date_part('month', $1)"),
    ("week", 1, "date_part('week', $1)"),
    ("day", 1, "date_part('day', $1)"),
    ("dayofmonth", 1, "date_part('day', $1)"),
    ("dayofweek", 1, "date_part('dow', $1)"),
    ("dayofyear", 1, "date_part('doy', $1)"),
    ("hour", 1, "date_part('hour', $1)"),
    ("minute", 1, "date_part('minute', $1)"),
    ("second", 1, "date_part('second', $1)"),
    ("weekofyear", 1, "date_part('week', $1)"),
    ("dayname", 1, "to_char($1, '%a')"),
    ("monthname", 1, "to_char($1, '%b')"),
    ("equal_null", 2, "($1 IS NOT DISTINCT FROM $2)"),
    // Snowflake's NUMBER without a scale: rounded half away from zero, as CAST does.
    ("to_number", 1, "CAST($1 AS DECIMAL(38, 0))"),
    ("to_decimal", 1, "CAST($1 AS DECIMAL(38, 0))"),
    ("to_numeric", 1, "CAST($1 AS DECIMAL(38, 0))"),
    ("try_to_number", 1, "TRY_CAST($1 AS DECIMAL(38, 0))"),
    ("try_to_decimal", 1, "TRY_CAST($1 AS DECIMAL(38, 0))"),
    ("try_to_numeric", 1, "TRY_CAST($1 AS DECIMAL(38, 0))"),
    ("to_double", 1, "CAST($1 AS DOUBLE)"),
    ("try_to_double", 1, "TRY_CAST($1 AS DOUBLE)"),
    ("try_to_date", 1, "TRY_CAST($1 AS DATE)"),
    ("try_to_timestamp", 1, "TRY_CAST($1 AS TIMESTAMP)"),
    ("try_to_timestamp_ntz", 1, "TRY_CAST($1 AS TIMESTAMP)"),
    // An element or field, as `x[i]` reads it (JSON text from 0, lists from 1).
    ("get", 2, "($1)[$2]"),
    ("bitand", 2, "($1 & $2)"),
    ("bitor", 2, "($1 | $2)"),
    ("bitxor", 2, "($1 ^ $2)"),
    ("booland", 2, "($1 AND $2)"),
    ("boolor", 2, "($1 OR $2)"),
    ("boolxor", 2, "($1 <> $2)"),
    ("boolnot", 1, "(NOT $1)"),
    (
        "div0null",
        2,
        "(CASE WHEN $2 = 0 OR $2 IS NULL THEN 0.0 ELSE CAST($1 AS DOUBLE) / $2 END)",
    ),
    ("truncate", 1, "trunc($1)"),
    ("truncate", 2, "trunc($1, $2)"),
    (
        "sha2",
        2,
        "(CASE $2 WHEN 224 THEN encode(sha224($1), 'hex') WHEN 256 THEN encode(sha256($1), 'hex') \
         WHEN 384 THEN encode(sha384($1), 'hex') WHEN 512 THEN encode(sha512($1), 'hex') END)",
    ),
    ("localtimestamp", 0, "now()"),
    ("dayofweekiso", 1, "date_part('isodow', $1)"),
    ("weekiso", 1, "date_part('week', $1)"),
    ("yearofweekiso", 1, "date_part('isoyear', $1)"),
    ("yearofweek", 1, "date_part('isoyear', $1)"),
    // Months added, as dateadd adds them, but from a month's last day to the last day of
    // the month reached (Feb 29 plus one month is Mar 31).
    (
        "add_months",
        2,
        "(CASE WHEN date_part('day', dateadd('day', 1, $1)) = 1 \
         THEN dateadd('day', -1, dateadd('month', $2, dateadd('day', 1, $1))) \
         ELSE dateadd('month', $2, $1) END)",
    ),
    // Whole months between the dates, plus the days' difference over 31 unless both are
    // the same day of their months or both the last; times of day are not counted.
    (
        "months_between",
        2,
        "round(CAST((date_part('year', CAST($1 AS TIMESTAMP)) - date_part('year', \
         CAST($2 AS TIMESTAMP))) * 12 + date_part('month', CAST($1 AS TIMESTAMP)) - \
         date_part('month', CAST($2 AS TIMESTAMP)) + CASE WHEN date_part('day', \
         CAST($1 AS TIMESTAMP)) = date_part('day', CAST($2 AS TIMESTAMP)) OR \
         (date_part('day', CAST($1 AS TIMESTAMP) + INTERVAL '1 day') = 1 AND \
         date_part('day', CAST($2 AS TIMESTAMP) + INTERVAL '1 day') = 1) THEN 0 ELSE \
         (date_part('day', CAST($1 AS TIMESTAMP)) - date_part('day', CAST($2 AS TIMESTAMP))) \
         / 31.0 END AS DOUBLE), 6)",
    ),
    // The first given weekday after (or before) the date; the day's name counts by its
    // first two letters, as Snowflake reads it.
    (
        "next_day",
        2,
        concat!(
            "dateadd('day', CAST((",
            weekday_number!(),
            " - date_part('dow', CAST($1 AS DATE)) + 6) % 7 + 1 AS BIGINT), CAST($1 AS DATE))"
        ),
    ),
    (
        "previous_day",
        2,
        concat!(
            "dateadd('day', -CAST((date_part('dow', CAST($1 AS DATE)) - ",
            weekday_number!(),
            " + 6) % 7 + 1 AS BIGINT), CAST($1 AS DATE))"
        ),
    ),
    ("date_from_parts", 3, DATE_FROM_PARTS),
    ("datefromparts", 3, DATE_FROM_PARTS),
    ("timestamp_from_parts", 6, TIMESTAMP_FROM_PARTS),
    ("timestamp_ntz_from_parts", 6, TIMESTAMP_FROM_PARTS),
    // BigQuery, Spark, Redshift.
    (
        "safe_divide",
        2,
        "(CASE WHEN $2 = 0 THEN NULL ELSE CAST($1 AS DOUBLE) / $2 END)",
    ),
    // Seconds (milli-, microseconds) since 1970 in UTC, rounded down.
    (
        "unix_seconds",
        1,
        "CAST(floor(date_part('epoch', $1)) AS BIGINT)",
    ),
    (
        "unix_millis",
        1,
        "CAST(floor(date_part('epoch', $1) * 1000) AS BIGINT)",
    ),
    (
        "unix_micros",
        1,
        "CAST(floor(date_part('epoch', $1) * 1000000) AS BIGINT)",
    ),
    (
        "unix_timestamp",
        0,
        "CAST(floor(date_part('epoch', now())) AS BIGINT)",
    ),
    ("unix_timestamp", 1, UNIX_TIMESTAMP),
    ("to_unix_timestamp", 1, UNIX_TIMESTAMP),
    // BigQuery's format comes first; its `%` words are chrono's.
    ("parse_timestamp", 2, "to_timestamp($2, $1)"),
    ("parse_datetime", 2, "to_timestamp($2, $1)"),
    ("parse_date", 2, "to_date($2, $1)"),
    // `timestamp_add(t, INTERVAL 1 DAY)`: the interval is the second argument.
    ("timestamp_add", 2, "($1 + $2)"),
    ("timestamp_sub", 2, "($1 - $2)"),
    ("datetime_add", 2, "($1 + $2)"),
    ("datetime_sub", 2, "($1 - $2)"),
    // Spark's datediff(end, start): days from start to end.
    (
        "datediff",
        2,
        "datediff('day', CAST($2 AS DATE), CAST($1 AS DATE))",
    ),
    ("locate", 2, "strpos($2, $1)"),
    (
        "percentile",
        2,
        "percentile_cont($2) WITHIN GROUP (ORDER BY $1)",
    ),
    (
        "is_valid_json",
        1,
        "(CASE WHEN $1 IS NULL THEN NULL ELSE try_parse_json($1) IS NOT NULL END)",
    ),
    ("json_serialize", 1, "CAST($1 AS VARCHAR)"),
    ("current_timezone", 0, "'UTC'"),
    // BigQuery's and Spark's if(c, a, b): only the branch taken is evaluated.
    ("if", 3, "(CASE WHEN $1 THEN $2 ELSE $3 END)"),
    // Snowflake's object_agg(k, v): an object of the group's keys and values (pairs with
    // a NULL left out; {} when none is left), as JSON text; a key seen twice is an error.
    (
        "object_agg",
        2,
        "coalesce(to_json(map(array_agg($1) FILTER (WHERE $1 IS NOT NULL AND $2 IS NOT NULL), \
         array_agg($2) FILTER (WHERE $1 IS NOT NULL AND $2 IS NOT NULL))), '{}')",
    ),
    // Snowflake's time_slice(t, n, part [, 'START' | 'END']): the start (or end) of the
    // slice of n parts holding t, slices counted from 1970-01-01 (weeks from Monday
    // 1970-01-05). A date gives the slice's start as a time.
    (
        "time_slice",
        3,
        "date_bin(CAST($2 || ' ' || $3 AS INTERVAL), $1, CASE WHEN lower($3) LIKE 'w%' \
         THEN TIMESTAMP '1970-01-05' ELSE TIMESTAMP '1970-01-01' END)",
    ),
    (
        "time_slice",
        4,
        "(date_bin(CAST($2 || ' ' || $3 AS INTERVAL), $1, CASE WHEN lower($3) LIKE 'w%' \
         THEN TIMESTAMP '1970-01-05' ELSE TIMESTAMP '1970-01-01' END) + CASE upper($4) \
         WHEN 'END' THEN CAST($2 || ' ' || $3 AS INTERVAL) ELSE INTERVAL '0 second' END)",
    ),
    // Snowflake's last_day(d, part): the last day of d's year, quarter, month or week
    // (weeks from Monday, so a Sunday).
    (
        "last_day",
        2,
        "CAST(date_trunc(lower($2), $1) + CASE lower($2) WHEN 'year' THEN INTERVAL '1 year' \
         WHEN 'quarter' THEN INTERVAL '3 month' WHEN 'month' THEN INTERVAL '1 month' \
         WHEN 'week' THEN INTERVAL '7 day' END - INTERVAL '1 day' AS DATE)",
    ),
    // BigQuery's regexp_extract(s, p [, position [, occurrence]]) and regexp_extract_all:
    // the pattern's group when it has one, else the whole match (Knit's regexp_substr
    // with Snowflake's `e`); NULL without a match.
    ("regexp_extract", 2, "regexp_substr($1, $2, 1, 1, 'e')"),
    ("regexp_extract", 3, "regexp_substr($1, $2, $3, 1, 'e')"),
    ("regexp_extract", 4, "regexp_substr($1, $2, $3, $4, 'e')"),
    (
        "regexp_extract_all",
        2,
        "regexp_substr_all($1, $2, 1, 1, 'e')",
    ),
    // BigQuery's timestamp(s, zone): the wall time `s` in the zone, as an instant.
    (
        "timestamp",
        2,
        "to_timestamp_tz(convert_timezone($2, 'UTC', $1))",
    ),
    // BigQuery's days since 1970-01-01, and the date so many days after it.
    (
        "unix_date",
        1,
        "datediff('day', DATE '1970-01-01', CAST($1 AS DATE))",
    ),
    (
        "date_from_unix_date",
        1,
        "CAST(dateadd('day', $1, DATE '1970-01-01') AS DATE)",
    ),
    // Snowflake's array_slice(a, from, to) counts from 0 and stops before `to`, negative
    // positions from the end; projects in the Snowflake dialect call it under this name
    // (DataFusion's array_slice counts from 1 and includes its end).
    (
        "snowflake_array_slice",
        3,
        "array_slice($1, CASE WHEN $2 >= 0 THEN $2 + 1 ELSE $2 END, \
         CASE WHEN $3 < 0 THEN $3 - 1 ELSE $3 END)",
    ),
    // Snowflake's width_bucket(x, lo, hi, n): which of n equal buckets from lo to hi holds
    // x, 0 before the first and n + 1 past the last (buckets count down when lo > hi).
    (
        "width_bucket",
        4,
        "(CASE WHEN $2 < $3 THEN (CASE WHEN $1 < $2 THEN 0 WHEN $1 >= $3 THEN $4 + 1 \
         ELSE CAST(floor(CAST($1 - $2 AS DOUBLE) * $4 / ($3 - $2)) AS BIGINT) + 1 END) \
         WHEN $2 > $3 THEN (CASE WHEN $1 > $2 THEN 0 WHEN $1 <= $3 THEN $4 + 1 \
         ELSE CAST(floor(CAST($2 - $1 AS DOUBLE) * $4 / ($2 - $3)) AS BIGINT) + 1 END) END)",
    ),
    // Spark's regexp_extract(s, p [, group]): the group's text (0 the whole match, 1 by
    // default), empty text when the pattern or the group does not match; projects in the
    // Databricks dialect call it under this name. The pattern is wrapped in a group so
    // that the whole match is the first element.
    (
        "spark_regexp_extract",
        2,
        "(CASE WHEN $1 IS NULL OR $2 IS NULL THEN NULL ELSE \
         coalesce(array_element(regexp_match($1, '(' || $2 || ')'), 2), '') END)",
    ),
    (
        "spark_regexp_extract",
        3,
        "(CASE WHEN $1 IS NULL OR $2 IS NULL OR $3 IS NULL THEN NULL ELSE \
         coalesce(array_element(regexp_match($1, '(' || $2 || ')'), $3 + 1), '') END)",
    ),
    // Snowflake's array_position(v, a): the value first, the position from 0 (NULL when
    // absent); projects in the Snowflake dialect call it under this name.
    (
        "snowflake_array_position",
        2,
        "(CAST(array_position($2, $1) AS BIGINT) - 1)",
    ),
    // Spark's dayofweek counts Sunday as 1 (Snowflake's, 0); projects in the Databricks
    // dialect call it under this name.
    ("spark_dayofweek", 1, "(date_part('dow', $1) + 1)"),
    // Snowflake anchors a regular expression at both ends (pb projects in the Snowflake
    // dialect call this for `regexp_like` and `rlike`; DataFusion's `regexp_like`, as
    // Spark's, finds the pattern anywhere).
    (
        "regexp_full_match",
        2,
        "regexp_like($1, '^(?:' || $2 || ')$')",
    ),
    (
        "regexp_full_match",
        3,
        "regexp_like($1, '^(?:' || $2 || ')$', $3)",
    ),
];

/// The words that name a date part, in any warehouse's spelling.
pub(super) const DATE_PART_WORDS: &[&str] = &[
    "year",
    "years",
    "y",
    "yy",
    "yyy",
    "yyyy",
    "yr",
    "yrs",
    "quarter",
    "quarters",
    "q",
    "qtr",
    "qtrs",
    "month",
    "months",
    "mm",
    "mon",
    "mons",
    "week",
    "weeks",
    "w",
    "wk",
    "weekofyear",
    "woy",
    "wy",
    "isoweek",
    "day",
    "days",
    "d",
    "dd",
    "dayofmonth",
    "hour",
    "hours",
    "h",
    "hh",
    "hr",
    "hrs",
    "minute",
    "minutes",
    "m",
    "mi",
    "min",
    "mins",
    "second",
    "seconds",
    "s",
    "sec",
    "secs",
    "millisecond",
    "milliseconds",
    "ms",
    "msec",
    "microsecond",
    "microseconds",
    "us",
    "usec",
    "nanosecond",
    "nanoseconds",
    "ns",
    "nsec",
    "dayofweek",
    "dow",
    "dayofyear",
    "doy",
    "epoch",
    "epoch_second",
    "epoch_seconds",
    // Parts `date_part` extracts only (see `extraction_sql`).
    "weekday",
    "dw",
    "dayofweekiso",
    "weekday_iso",
    "dow_iso",
    "dw_iso",
    "yearday",
    "dy",
    "weekiso",
    "week_iso",
    "weekofyeariso",
    "weekofyear_iso",
    "yearofweek",
    "yearofweekiso",
    "epoch_millisecond",
    "epoch_milliseconds",
    "epoch_microsecond",
    "epoch_microseconds",
    "epoch_nanosecond",
    "epoch_nanoseconds",
];

/// The name of the engine's mode whose ties go to the largest value, which PostgreSQL's
/// `mode() WITHIN GROUP (ORDER BY x DESC)` is written as.
pub const MODE_DESC: &str = "__knit_mode_desc";

/// Warehouse type names, after `::` or in `CAST(x AS type)`, and DataFusion's.
///
/// `FLOAT` is a double in PostgreSQL, Snowflake, Redshift and BigQuery (DataFusion reads
/// it as a 4-byte float, which keeps 7 digits: `1234567.89::float` would be 1234567.9).
/// Databricks' `FLOAT` is 4 bytes; projects for it write `DOUBLE` for money.
pub(crate) const TYPE_NAMES: &[(&str, &str)] = &[
    ("float", "DOUBLE"),
    ("timestamp_ntz", "TIMESTAMP"),
    ("timestamp_ltz", "TIMESTAMP WITH TIME ZONE"),
    ("timestamp_tz", "TIMESTAMP WITH TIME ZONE"),
    ("variant", "VARCHAR"),
    ("int64", "BIGINT"),
    ("float64", "DOUBLE"),
    ("number", "DECIMAL(38, 0)"),
    ("datetime", "TIMESTAMP"),
];
