// SPDX-License-Identifier: Apache-2.0
// Copyright the Knit authors

//! Exact numbers as PostgreSQL computes them: a sum of `bigint` is a decimal, and
//! quotients of decimals and averages of decimals and integers keep 16 decimals.
//!
//! PostgreSQL sums `bigint` as `numeric` (Snowflake's integers are NUMBER(38, 0)
//! anyway), so `sum(amount) / count(*)` over a `bigint` column has decimals (44.75),
//! where DataFusion's `Int64` sum divides as integers (44). [`ExactNumbers`] sums an
//! `Int64` or `UInt64` argument as `DECIMAL(20, 0)` (every value fits); smaller
//! integers still sum as `Int64` and divide as integers, as PostgreSQL's `int` sums do.
//!
//! Arrow (and so DataFusion) gives `decimal / decimal` and `avg(decimal)` the scale of
//! the dividend plus 4: `sum(price) / count(*)` over a `numeric(10,2)` is cut after 6
//! decimals (`105.323846`), and so is `avg(price)`. PostgreSQL keeps at least 16
//! significant digits (`105.3238461538461538`, rounded in the last one), so a var
//! written over a money column differed from pb's in its 7th decimal. A division whose
//! operands are exact (decimals, or an integer beside a decimal) and whose dividend has
//! fewer than 12 decimals computes at 17 decimals and rounds to 16, and an `avg` of
//! such a decimal computes at 16 (the precision allowing, in both). PostgreSQL gives
//! fewer decimals to quotients of 10,000 or more and more to very small ones, and
//! rounds an average's last decimal where Knit cuts it.
//!
//! An average of integers is exact too, as both warehouses compute it (PostgreSQL's
//! `avg(int)` is `numeric`, Snowflake's a NUMBER): `round(avg(x), 2)` over an average of
//! 0.145 is 0.15 there, where a float average (0.14499999999999999) rounds to 0.14.
//!
//! The rule runs before type coercion, which then follows the new types.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, ExprSchema};
use datafusion::error::Result;
use datafusion::logical_expr::{
    BinaryExpr, Cast, Expr, ExprSchemable, LogicalPlan, Operator, WindowFunctionDefinition,
};
use datafusion::optimizer::AnalyzerRule;

use crate::expr_rewrite::rewrite_expression_types;

/// The decimals a quotient or an average keeps, as PostgreSQL's for quotients under
/// 10,000 (`NUMERIC_MIN_SIG_DIGITS`).
const RESULT_SCALE: i8 = 16;

/// The decimals arrow adds to the dividend's in a quotient.
const ADDED_SCALE: i8 = 4;

/// The decimal every `Int64` and `UInt64` value fits in.
const BIGINT_DIGITS: (u8, i8) = (20, 0);

/// Arrow's largest `Decimal128` precision.
const MAX_PRECISION: u8 = 38;

/// Sums `bigint` as a decimal and widens exact divisions and averages (see the module
/// doc).
#[derive(Debug, Default)]
pub(crate) struct ExactNumbers;

impl AnalyzerRule for ExactNumbers {
    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        rewrite_expression_types(plan, widened)
    }

    fn name(&self) -> &str {
        "knit_exact_numbers"
    }
}

/// `expr` summing a `bigint` as a decimal, or computed at [`RESULT_SCALE`] decimals if it
/// divides or averages exact numbers with fewer.
fn widened(expr: Expr, schema: &DFSchema) -> Transformed<Expr> {
    match expr {
        Expr::BinaryExpr(BinaryExpr {
            left,
            op: Operator::Divide,
            right,
        }) => match quotient_types(&left, &right, schema) {
            Some(((precision, scale), divisor_scale)) => match rescaled(precision, scale) {
                Some(wider) => {
                    let whole_digits = wider.0 - wider.1.unsigned_abs() + divisor_scale;
                    let quotient = Expr::BinaryExpr(BinaryExpr::new(
                        Box::new(cast(*left, wider)),
                        Operator::Divide,
                        right,
                    ));
                    Transformed::yes(rounded(quotient, whole_digits, wider.1))
                }
                None => Transformed::no(Expr::BinaryExpr(BinaryExpr::new(
                    left,
                    Operator::Divide,
                    right,
                ))),
            },
            None => Transformed::no(Expr::BinaryExpr(BinaryExpr::new(
                left,
                Operator::Divide,
                right,
            ))),
        },
        // An aggregate or window node holds its functions bare, so an average is not
        // rounded: its argument gets the decimals that make its result's 16 (the last
        // one cut, where PostgreSQL rounds it).
        Expr::AggregateFunction(mut aggregate) => {
            let name = aggregate.func.name().to_string();
            if argument_cast(&name, &mut aggregate.params.args, schema) {
                Transformed::yes(Expr::AggregateFunction(aggregate))
            } else {
                Transformed::no(Expr::AggregateFunction(aggregate))
            }
        }
        Expr::WindowFunction(mut window) => {
            let name = match &window.fun {
                WindowFunctionDefinition::AggregateUDF(function) => function.name().to_string(),
                WindowFunctionDefinition::WindowUDF(_) => String::new(),
            };
            if argument_cast(&name, &mut window.params.args, schema) {
                Transformed::yes(Expr::WindowFunction(window))
            } else {
                Transformed::no(Expr::WindowFunction(window))
            }
        }
        other => Transformed::no(other),
    }
}

/// The dividend's `(precision, scale)` and the divisor's scale, if both are exact and
/// one is a decimal.
fn quotient_types(left: &Expr, right: &Expr, schema: &dyn ExprSchema) -> Option<((u8, i8), u8)> {
    let (left, right) = (left.get_type(schema).ok()?, right.get_type(schema).ok()?);
    if !(is_exact(&left) && is_exact(&right) && (is_decimal(&left) || is_decimal(&right))) {
        return None;
    }
    let (_, divisor_scale) = digits(&right)?;
    Some((digits(&left)?, u8::try_from(divisor_scale).ok()?))
}

/// The type a lone exact argument of `avg` (a decimal or an integer) is cast to, so that
/// the average has [`RESULT_SCALE`] decimals; `None` if it has enough already or no room
/// for more.
fn averaged(args: &[Expr], schema: &dyn ExprSchema) -> Option<(u8, i8)> {
    let [argument] = args else { return None };
    let data_type = argument.get_type(schema).ok()?;
    if !is_exact(&data_type) {
        return None;
    }
    let (precision, scale) = digits(&data_type)?;
    let (precision, scale) = rescaled(precision, scale)?;
    // One decimal fewer than a quotient's: no rounding follows.
    Some((precision - 1, scale - 1))
}

/// The `(precision, scale)` a dividend of `precision` and `scale` is cast to, so that
/// the quotient has one decimal more than [`RESULT_SCALE`] to round from (as many as
/// the precision allows); `None` if it has enough already or no room for more.
fn rescaled(precision: u8, scale: i8) -> Option<(u8, i8)> {
    let wanted = RESULT_SCALE + 1 - ADDED_SCALE;
    if !(0..wanted - 1).contains(&scale) {
        return None;
    }
    let room = i8::try_from(MAX_PRECISION.checked_sub(precision)?).ok()?;
    let added = (wanted - scale).min(room);
    if added <= 1 {
        return None;
    }
    Some((precision + added.unsigned_abs(), scale + added))
}

/// A quotient or average computed at `scale` plus [`ADDED_SCALE`] decimals, with
/// `whole_digits` before the point, rounded to one decimal less.
fn rounded(expr: Expr, whole_digits: u8, scale: i8) -> Expr {
    let result_scale = scale + ADDED_SCALE - 1;
    let precision = (whole_digits + result_scale.unsigned_abs()).min(MAX_PRECISION);
    cast(expr, (precision, result_scale))
}

fn cast(expr: Expr, (precision, scale): (u8, i8)) -> Expr {
    Expr::Cast(Cast::new(
        Box::new(expr),
        DataType::Decimal128(precision, scale),
    ))
}

/// Casts the lone argument of a `sum` of `bigint` or an `avg` of an exact number to the
/// type it is computed in; whether it did.
fn argument_cast(function: &str, args: &mut [Expr], schema: &dyn ExprSchema) -> bool {
    let target = if function.eq_ignore_ascii_case("sum") {
        summed_as_decimal(args, schema)
    } else if function.eq_ignore_ascii_case("avg") {
        averaged(args, schema)
    } else {
        None
    };
    match (target, args) {
        (Some(target), [argument]) => {
            *argument = cast(argument.clone(), target);
            true
        }
        _ => false,
    }
}

/// The decimal a lone `bigint` argument of `sum` is cast to.
fn summed_as_decimal(args: &[Expr], schema: &dyn ExprSchema) -> Option<(u8, i8)> {
    let [argument] = args else { return None };
    match argument.get_type(schema).ok()? {
        DataType::Int64 | DataType::UInt64 => Some(BIGINT_DIGITS),
        _ => None,
    }
}

fn is_decimal(data_type: &DataType) -> bool {
    matches!(
        data_type,
        DataType::Decimal32(..) | DataType::Decimal64(..) | DataType::Decimal128(..)
    )
}

fn is_exact(data_type: &DataType) -> bool {
    is_decimal(data_type) || data_type.is_integer()
}

/// The digits of an exact type: a decimal's precision and scale, an integer's largest
/// number of digits.
fn digits(data_type: &DataType) -> Option<(u8, i8)> {
    match data_type {
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
            Some((*p, *s))
        }
        DataType::Int8 | DataType::UInt8 => Some((3, 0)),
        DataType::Int16 | DataType::UInt16 => Some((5, 0)),
        DataType::Int32 | DataType::UInt32 => Some((10, 0)),
        DataType::Int64 => Some((19, 0)),
        DataType::UInt64 => Some((20, 0)),
        _ => None,
    }
}
