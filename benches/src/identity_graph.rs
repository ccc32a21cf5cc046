// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! A seeded generator of CDP-like identity graphs, for stitching benchmarks.
//!
//! People have a heavy-tailed number of anonymous ids (most have one or two, a few
//! have dozens), most are known by a user id and an email, some have two emails, some
//! use devices, and a few ids are junk shared by thousands: a QA email typed into many
//! sign-up forms, and kiosk devices used by hundreds of people. Cluster sizes follow.
//!
//! Tables, each with at least two ids per row so that every id is on some edge:
//! - `identifies`: `anonymous_id, user_id, email, ts` (email sometimes NULL)
//! - `devices`: `anonymous_id, device_id, ts`
//! - `orders`: `user_id, email, ts`
//! - `edges`: `src_type, src, dst_type, dst`, every id pair the rows imply, for peers
//!   that take an edge list

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringBuilder, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;

use crate::rng::SplitMix64;

/// 2024-01-01T00:00:00Z in microseconds.
const START_MICROS: i64 = 1_704_067_200_000_000;
/// Events spread over a year.
const SPAN_SECONDS: u64 = 365 * 86_400;
/// A kiosk device is shared by about this many people.
const KIOSK_USERS: u64 = 200;

/// Rows of the four tables, appended batch by batch.
#[derive(Debug, Default)]
pub struct Tables {
    /// `anonymous_id, user_id, email, ts`.
    pub identifies: Vec<(String, String, Option<String>, i64)>,
    /// `anonymous_id, device_id, ts`.
    pub devices: Vec<(String, String, i64)>,
    /// `user_id, email, ts`.
    pub orders: Vec<(String, String, i64)>,
    /// `src_type, src, dst_type, dst`.
    pub edges: Vec<(&'static str, String, &'static str, String)>,
}

impl Tables {
    /// Rows held.
    pub fn len(&self) -> usize {
        self.identifies.len() + self.devices.len() + self.orders.len()
    }

    /// True without rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Generates people from `first_person` on, appending their rows to `out`, until `out`
/// holds `edges` edges; returns the next person.
pub fn generate_people(
    rng: &mut SplitMix64,
    first_person: u64,
    edges: usize,
    out: &mut Tables,
) -> u64 {
    let mut person = first_person;
    while out.edges.len() < edges {
        add_person(rng, person, out);
        person += 1;
    }
    person
}

fn time(rng: &mut SplitMix64) -> i64 {
    START_MICROS + rng.below(SPAN_SECONDS) as i64 * 1_000_000
}

fn add_person(rng: &mut SplitMix64, person: u64, out: &mut Tables) {
    // Heavy-tailed anonymous ids: 1 + floor of a Pareto draw, capped.
    let uniform = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    let anonymous = (1.0 + (1.0 - uniform).powf(-1.0 / 1.6) - 1.0)
        .floor()
        .min(60.0) as u64;
    let anonymous_ids: Vec<String> = (0..anonymous.max(1)).map(|_| rng.hex(16)).collect();
    let known = rng.chance(0.65);
    let user_id = format!("u{person}");
    let mut emails = vec![format!("user{person}@example.com")];
    if rng.chance(0.1) {
        emails.push(format!("user{person}.alt@mail.test"));
    }
    for anonymous_id in &anonymous_ids {
        if known {
            for _ in 0..1 + rng.below(2) {
                let email = if rng.chance(0.002) {
                    // A QA address typed into many sign-up forms.
                    Some("qa@company.com".to_string())
                } else if rng.chance(0.15) {
                    None
                } else {
                    Some(rng.pick(&emails).clone())
                };
                push_identify(out, anonymous_id, &user_id, email, time(rng));
            }
        }
        if rng.chance(0.3) {
            let device = if rng.chance(0.05) {
                format!("kiosk-{}", person / KIOSK_USERS)
            } else {
                format!("dev-{}", rng.hex(12))
            };
            out.edges.push((
                "anonymous_id",
                anonymous_id.clone(),
                "device_id",
                device.clone(),
            ));
            out.devices.push((anonymous_id.clone(), device, time(rng)));
        }
    }
    if known {
        for _ in 0..rng.below(4) {
            let email = rng.pick(&emails).clone();
            out.edges
                .push(("user_id", user_id.clone(), "email", email.clone()));
            out.orders.push((user_id.clone(), email, time(rng)));
        }
    }
}

fn push_identify(
    out: &mut Tables,
    anonymous_id: &str,
    user_id: &str,
    email: Option<String>,
    ts: i64,
) {
    out.edges.push((
        "anonymous_id",
        anonymous_id.to_string(),
        "user_id",
        user_id.to_string(),
    ));
    if let Some(email) = &email {
        out.edges.push((
            "anonymous_id",
            anonymous_id.to_string(),
            "email",
            email.clone(),
        ));
        out.edges
            .push(("user_id", user_id.to_string(), "email", email.clone()));
    }
    out.identifies
        .push((anonymous_id.to_string(), user_id.to_string(), email, ts));
}

fn schema(fields: &[(&str, bool)], with_time: bool) -> SchemaRef {
    let mut fields: Vec<Field> = fields
        .iter()
        .map(|(n, null)| Field::new(*n, DataType::Utf8, *null))
        .collect();
    if with_time {
        fields.push(Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ));
    }
    Arc::new(Schema::new(fields))
}

fn strings<'a>(values: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    let mut builder = StringBuilder::new();
    for value in values {
        builder.append_option(value);
    }
    Arc::new(builder.finish())
}

fn times(values: impl Iterator<Item = i64>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from_iter_values(values).with_timezone("UTC"))
}

impl Tables {
    /// The rows as record batches: identifies, devices, orders, edges.
    pub fn batches(&self) -> Result<[RecordBatch; 4], ArrowError> {
        let identifies = RecordBatch::try_new(
            schema(
                &[("anonymous_id", false), ("user_id", false), ("email", true)],
                true,
            ),
            vec![
                strings(self.identifies.iter().map(|r| Some(r.0.as_str()))),
                strings(self.identifies.iter().map(|r| Some(r.1.as_str()))),
                strings(self.identifies.iter().map(|r| r.2.as_deref())),
                times(self.identifies.iter().map(|r| r.3)),
            ],
        )?;
        let devices = RecordBatch::try_new(
            schema(&[("anonymous_id", false), ("device_id", false)], true),
            vec![
                strings(self.devices.iter().map(|r| Some(r.0.as_str()))),
                strings(self.devices.iter().map(|r| Some(r.1.as_str()))),
                times(self.devices.iter().map(|r| r.2)),
            ],
        )?;
        let orders = RecordBatch::try_new(
            schema(&[("user_id", false), ("email", false)], true),
            vec![
                strings(self.orders.iter().map(|r| Some(r.0.as_str()))),
                strings(self.orders.iter().map(|r| Some(r.1.as_str()))),
                times(self.orders.iter().map(|r| r.2)),
            ],
        )?;
        let edges = RecordBatch::try_new(
            schema(
                &[
                    ("src_type", false),
                    ("src", false),
                    ("dst_type", false),
                    ("dst", false),
                ],
                false,
            ),
            vec![
                strings(self.edges.iter().map(|r| Some(r.0))),
                strings(self.edges.iter().map(|r| Some(r.1.as_str()))),
                strings(self.edges.iter().map(|r| Some(r.2))),
                strings(self.edges.iter().map(|r| Some(r.3.as_str()))),
            ],
        )?;
        Ok([identifies, devices, orders, edges])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reaches_the_edge_target_deterministically() {
        let run = || {
            let mut rng = SplitMix64::new(42);
            let mut tables = Tables::default();
            let people = generate_people(&mut rng, 0, 10_000, &mut tables);
            (
                people,
                tables.edges.len(),
                tables.identifies.len(),
                tables.devices.len(),
            )
        };
        let first = run();
        assert_eq!(first, run());
        assert!(first.1 >= 10_000 && first.1 < 10_200, "{first:?}");
        assert!(first.2 > 0 && first.3 > 0);
    }
}
