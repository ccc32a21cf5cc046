// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A small, seeded e-commerce sample in the shape a CDP lands it.
//!
//! Three tables, as RudderStack-style event streams and a cloud source would give them:
//!
//! - `identifies`: a user logs in (`user_id`, `anonymous_id`, `email`, campaign source)
//! - `tracks`: events (`page_viewed`, `product_viewed`, ...), with `user_id` only after login
//! - `orders`: a shop's order export keyed by `user_id` and `email`, some guest checkouts
//!
//! The data carries what stitching must cope with: several anonymous ids and emails per
//! user, emails typed in mixed case, blank and NULL emails, anonymous-only visitors, and
//! one junk anonymous id (`unknown`) shared by many visitors.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;

use crate::rng::SplitMix64;

/// 2024-01-01T00:00:00Z in microseconds.
const START_MICROS: i64 = 1_704_067_200_000_000;
const DAY_MICROS: i64 = 86_400_000_000;

const FIRST_NAMES: &[&str] = &[
    "ada", "ben", "chloe", "dev", "eva", "felix", "gia", "hugo", "ines", "jon", "kai", "lea",
];
const LAST_NAMES: &[&str] = &[
    "moss", "ortiz", "park", "quinn", "rossi", "silva", "tan", "ueda",
];
const DOMAINS: &[&str] = &["example.com", "mail.test", "shop.test"];
const SOURCES: &[&str] = &["google", "facebook", "newsletter", "direct", ""];
const COUNTRIES: &[&str] = &["US", "DE", "IN", "BR", "JP"];
const BROWSE_EVENTS: &[&str] = &[
    "page_viewed",
    "product_viewed",
    "product_viewed",
    "added_to_cart",
];

/// The three tables of the sample.
#[derive(Debug, Clone)]
pub struct EcommerceSample {
    /// Logins: who was who, when.
    pub identifies: RecordBatch,
    /// Events.
    pub tracks: RecordBatch,
    /// The shop's orders.
    pub orders: RecordBatch,
}

#[derive(Default)]
struct Identify {
    id: String,
    user_id: Option<String>,
    anonymous_id: String,
    email: Option<String>,
    source: String,
    first_name: String,
    country: String,
    at: i64,
}

#[derive(Default)]
struct Track {
    id: String,
    user_id: Option<String>,
    anonymous_id: String,
    event: String,
    product_id: Option<String>,
    revenue: Option<f64>,
    at: i64,
}

struct Order {
    order_id: String,
    user_id: Option<String>,
    email: Option<String>,
    total: f64,
    currency: String,
    status: String,
    at: i64,
}

/// Generates the sample for `users` people from `seed`.
pub fn generate(seed: u64, users: usize) -> Result<EcommerceSample, ArrowError> {
    let mut rng = SplitMix64::new(seed);
    let mut identifies = Vec::new();
    let mut tracks = Vec::new();
    let mut orders = Vec::new();
    let mut message = 0u64;
    let mut next_id = |rng: &mut SplitMix64| {
        message += 1;
        format!("{}-{message:06}", rng.hex(8))
    };

    for user in 0..users {
        let known = rng.chance(0.8);
        let user_id = known.then(|| format!("u{user:04}"));
        let first = rng.pick(FIRST_NAMES).to_string();
        let last = rng.pick(LAST_NAMES);
        let country = rng.pick(COUNTRIES).to_string();
        let anonymous_ids: Vec<String> = (0..1 + rng.below(3)).map(|_| rng.hex(16)).collect();
        let emails: Vec<String> = (0..if rng.chance(0.15) { 2 } else { 1 })
            .map(|n| format!("{first}.{last}{}{n}@{}", user, rng.pick(DOMAINS)))
            .collect();
        let start_day = rng.below(150) as i64;
        let sessions = 1 + rng.below(8);
        for session in 0..sessions {
            let anonymous_id = rng.pick(&anonymous_ids).clone();
            let mut at = START_MICROS
                + (start_day + rng.below(30) as i64) * DAY_MICROS
                + rng.below(86_400) as i64 * 1_000_000;
            let logged_in = known && (session > 0 || rng.chance(0.5));
            if logged_in {
                let email = if rng.chance(0.05) {
                    None
                } else if rng.chance(0.08) {
                    Some(String::new())
                } else {
                    let email = rng.pick(&emails).clone();
                    Some(if rng.chance(0.2) {
                        email.to_uppercase()
                    } else {
                        email
                    })
                };
                identifies.push(Identify {
                    id: next_id(&mut rng),
                    user_id: user_id.clone(),
                    anonymous_id: anonymous_id.clone(),
                    email,
                    source: rng.pick(SOURCES).to_string(),
                    first_name: first.clone(),
                    country: country.clone(),
                    at,
                });
            }
            for _ in 0..2 + rng.below(10) {
                at += (5 + rng.below(120) as i64) * 1_000_000;
                let event = rng.pick(BROWSE_EVENTS).to_string();
                let product_id = (event != "page_viewed").then(|| format!("p{:03}", rng.below(40)));
                // A broken SDK build sends this placeholder for every visitor.
                let anonymous_id = if rng.chance(0.02) {
                    "unknown".to_string()
                } else {
                    anonymous_id.clone()
                };
                tracks.push(Track {
                    id: next_id(&mut rng),
                    user_id: logged_in.then(|| user_id.clone()).flatten(),
                    anonymous_id,
                    event,
                    product_id,
                    revenue: None,
                    at,
                });
            }
            if logged_in && rng.chance(0.35) {
                at += (30 + rng.below(600) as i64) * 1_000_000;
                let total = (500 + rng.below(25_000)) as f64 / 100.0;
                let order_id = format!("o{:05}", orders.len() + 1);
                tracks.push(Track {
                    id: next_id(&mut rng),
                    user_id: user_id.clone(),
                    anonymous_id: anonymous_id.clone(),
                    event: "order_completed".to_string(),
                    product_id: None,
                    revenue: Some(total),
                    at,
                });
                let refunded = rng.chance(0.1);
                orders.push(Order {
                    order_id,
                    user_id: user_id.clone(),
                    email: Some(rng.pick(&emails).clone()),
                    total,
                    currency: "USD".to_string(),
                    status: if refunded { "refunded" } else { "completed" }.to_string(),
                    at,
                });
            }
        }
        // Guest checkouts: the shop knows an email, the event stream never saw a login.
        if !known && rng.chance(0.3) {
            let at = START_MICROS + (start_day + rng.below(30) as i64) * DAY_MICROS;
            orders.push(Order {
                order_id: format!("o{:05}", orders.len() + 1),
                user_id: None,
                email: Some(emails[0].clone()),
                total: (500 + rng.below(25_000)) as f64 / 100.0,
                currency: "USD".to_string(),
                status: "completed".to_string(),
                at,
            });
        }
    }
    identifies.sort_by_key(|r| r.at);
    tracks.sort_by_key(|r| r.at);
    orders.sort_by_key(|r| r.at);

    Ok(EcommerceSample {
        identifies: identifies_batch(&identifies)?,
        tracks: tracks_batch(&tracks)?,
        orders: orders_batch(&orders)?,
    })
}

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn schema(fields: Vec<Field>) -> SchemaRef {
    Arc::new(Schema::new(fields))
}

fn strings<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn optional_strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(values.collect::<StringArray>())
}

fn timestamps(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(values).with_timezone("UTC"))
}

fn identifies_batch(rows: &[Identify]) -> Result<RecordBatch, ArrowError> {
    let schema = schema(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("anonymous_id", DataType::Utf8, true),
        Field::new("email", DataType::Utf8, true),
        Field::new("context_campaign_source", DataType::Utf8, true),
        Field::new("first_name", DataType::Utf8, true),
        Field::new("country", DataType::Utf8, true),
        Field::new("timestamp", timestamp_type(), false),
    ]);
    RecordBatch::try_new(
        schema,
        vec![
            strings(rows.iter().map(|r| r.id.as_str())),
            optional_strings(rows.iter().map(|r| r.user_id.as_deref())),
            strings(rows.iter().map(|r| r.anonymous_id.as_str())),
            optional_strings(rows.iter().map(|r| r.email.as_deref())),
            strings(rows.iter().map(|r| r.source.as_str())),
            strings(rows.iter().map(|r| r.first_name.as_str())),
            strings(rows.iter().map(|r| r.country.as_str())),
            timestamps(rows.iter().map(|r| r.at)),
        ],
    )
}

fn tracks_batch(rows: &[Track]) -> Result<RecordBatch, ArrowError> {
    let schema = schema(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("anonymous_id", DataType::Utf8, true),
        Field::new("event", DataType::Utf8, false),
        Field::new("product_id", DataType::Utf8, true),
        Field::new("revenue", DataType::Float64, true),
        Field::new("timestamp", timestamp_type(), false),
    ]);
    RecordBatch::try_new(
        schema,
        vec![
            strings(rows.iter().map(|r| r.id.as_str())),
            optional_strings(rows.iter().map(|r| r.user_id.as_deref())),
            strings(rows.iter().map(|r| r.anonymous_id.as_str())),
            strings(rows.iter().map(|r| r.event.as_str())),
            optional_strings(rows.iter().map(|r| r.product_id.as_deref())),
            Arc::new(rows.iter().map(|r| r.revenue).collect::<Float64Array>()),
            timestamps(rows.iter().map(|r| r.at)),
        ],
    )
}

fn orders_batch(rows: &[Order]) -> Result<RecordBatch, ArrowError> {
    let schema = schema(vec![
        Field::new("order_id", DataType::Utf8, false),
        Field::new("user_id", DataType::Utf8, true),
        Field::new("email", DataType::Utf8, true),
        Field::new("total", DataType::Float64, false),
        Field::new("currency", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("created_at", timestamp_type(), false),
    ]);
    RecordBatch::try_new(
        schema,
        vec![
            strings(rows.iter().map(|r| r.order_id.as_str())),
            optional_strings(rows.iter().map(|r| r.user_id.as_deref())),
            optional_strings(rows.iter().map(|r| r.email.as_deref())),
            Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.total))),
            strings(rows.iter().map(|r| r.currency.as_str())),
            strings(rows.iter().map(|r| r.status.as_str())),
            timestamps(rows.iter().map(|r| r.at)),
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sample() {
        let a = generate(42, 30).unwrap();
        let b = generate(42, 30).unwrap();
        assert_eq!(a.tracks, b.tracks);
        assert_eq!(a.identifies, b.identifies);
        assert_eq!(a.orders, b.orders);
        assert_ne!(generate(43, 30).unwrap().tracks, a.tracks);
    }

    #[test]
    fn sample_has_rows_in_every_table() {
        let sample = generate(42, 50).unwrap();
        assert!(sample.identifies.num_rows() > 20);
        assert!(sample.tracks.num_rows() > sample.identifies.num_rows());
        assert!(sample.orders.num_rows() > 5);
    }
}
