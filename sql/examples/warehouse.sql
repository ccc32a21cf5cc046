-- Warehouse SQL: vars and models written for Snowflake, BigQuery or Databricks run as
-- written, with the warehouse's answers. Here on the bundled sample's orders.
-- Run it: cargo run -p knit-cli -- -f sql/examples/warehouse.sql

CREATE EXTERNAL TABLE orders STORED AS PARQUET LOCATION 'testdata/ecommerce/orders/';

-- Per customer: Snowflake's datediff counts day boundaries crossed; iff evaluates
-- only the branch taken; listagg ... WITHIN GROUP orders what it joins; mode is the
-- most frequent value.
SELECT user_id,
       count_if(status = 'completed') AS completed,
       datediff(day, min(created_at), max(created_at)) AS days_between_first_and_last,
       iff(count(*) > 1, 'repeat', 'single') AS kind,
       listagg(status, ',') WITHIN GROUP (ORDER BY created_at) AS statuses,
       mode(currency) AS currency
FROM orders
WHERE user_id IN ('u0035', 'u0113', 'u0057')
GROUP BY user_id
ORDER BY user_id;

-- Month ends: dateadd clamps to the shorter month; BigQuery's date_diff takes the
-- later date first and the part last.
SELECT dateadd(month, 1, DATE '2024-01-31') AS a_month_later,
       date_diff(DATE '2024-03-01', DATE '2024-01-31', MONTH) AS months_crossed,
       last_day(DATE '2024-02-10') AS end_of_february;

-- JSON kept as text: build it, measure it, read it back by path.
SELECT object_construct('orders', count(*), 'revenue', round(sum(total), 2)) AS summary,
       array_size(parse_json('[' || listagg('"' || order_id || '"', ',') || ']')) AS listed,
       json_value(object_construct('top', max(total)), '$.top') AS top_total
FROM orders
WHERE status = 'completed' AND created_at < TIMESTAMP '2024-01-10 00:00:00';

-- Text holding a number takes part in arithmetic as Snowflake's does: the last two
-- digits of an order id as a fraction.
SELECT order_id, right(order_id, 2) / 100 AS fraction
FROM orders
ORDER BY order_id
LIMIT 3;

-- Snowflake's two-argument replace removes the pattern: pb projects strip Go's zone name
-- from a rendered end time this way.
SELECT to_timestamp_tz(replace('2024-01-01 00:00:00 +0000 UTC', ' UTC')) AS end_time;

-- A flag kept as text compared with a boolean reads the text as Snowflake's TO_BOOLEAN
-- does; FLATTEN's `value` takes Snowflake's colon path.
SELECT count_if(flag = TRUE) AS flagged, count_if(flag = FALSE) AS not_flagged
FROM (VALUES ('TRUE'), ('yes'), ('false'), ('0'), (NULL)) AS t(flag);

SELECT t.value:sku AS sku, t.value:qty::int AS qty
FROM (SELECT '[{"sku":"a1","qty":2},{"sku":"b7","qty":1}]' AS items) AS o,
     LATERAL FLATTEN(input => parse_json(o.items)) AS t
ORDER BY sku;

-- BigQuery's quantiles: the median order amount per status, a value of the group.
SELECT status, approx_quantiles(total, 2)[OFFSET(1)] AS median_total
FROM orders
GROUP BY status
ORDER BY status;

-- FLATTEN over an object gives a row per field; OUTER => TRUE keeps a row whose input
-- has none.
SELECT o.customer, t.key AS field, t.value AS value
FROM (VALUES ('ann', '{"plan":"gold","seats":3}'), ('bob', NULL)) AS o(customer, attrs),
     LATERAL FLATTEN(input => parse_json(o.attrs), outer => true) AS t
ORDER BY customer, field;

-- RECURSIVE => TRUE walks the whole document: every leaf with its path from the top.
SELECT t.path, t.value
FROM (SELECT '{"plan":"gold","addons":[{"name":"sso"},{"name":"audit"}]}' AS doc) AS o,
     LATERAL FLATTEN(input => parse_json(o.doc), recursive => true) AS t
WHERE t.value NOT LIKE '{%' AND t.value NOT LIKE '[%'
ORDER BY t.path;

-- Snowflake's decode, LIKE ANY and arrays counted from 0 (knit project scripts set
-- knit.list_index_base = 0; Knit SQL counts from 1 unless told).
SET knit.list_index_base = 0;
SELECT status,
       decode(status, 'completed', 'done', 'refunded', 'money back', 'open') AS state,
       status LIKE ANY ('comp%', 'canc%') AS closed,
       (array_agg(order_id ORDER BY created_at))[0] AS first_order,
       count(*) AS orders
FROM orders
GROUP BY status
ORDER BY status;
SET knit.list_index_base = 1;

-- BigQuery's latest value per group: array_agg(... ORDER BY t DESC LIMIT 1)[OFFSET(0)];
-- Snowflake's strtok picks a token between delimiter characters.
SELECT status,
       array_agg(order_id IGNORE NULLS ORDER BY created_at DESC LIMIT 1)[OFFSET(0)] AS last_order,
       strtok(max(email), '@', 2) AS mail_domain
FROM orders
GROUP BY status
ORDER BY status;

-- Snowflake's time_slice and object_agg: each month's orders by status, as one object;
-- BigQuery's string_agg(... LIMIT n): the month's first two orders.
SELECT slice,
       object_agg(status, orders) AS orders_by_status,
       string_agg(first_orders, ' ' ORDER BY status LIMIT 2) AS first_orders
FROM (SELECT time_slice(created_at, 1, 'MONTH') AS slice, status, count(*) AS orders,
             string_agg(order_id, ',' ORDER BY created_at LIMIT 2) AS first_orders
      FROM orders GROUP BY 1, 2)
GROUP BY slice
ORDER BY slice
LIMIT 3;

-- Snowflake's regexp_substr: the second word of an address, and a group of the pattern.
SELECT DISTINCT email,
       regexp_substr(email, '[a-z]+', 1, 2) AS second_word,
       regexp_substr(email, '@([a-z]+)[.]', 1, 1, 'e') AS domain
FROM orders
WHERE email IS NOT NULL
ORDER BY email
LIMIT 3;

-- A fraction cast to an integer rounds, as the warehouse rounds it (arrow truncates).
SELECT status, avg(total) AS mean, avg(total)::int AS mean_rounded
FROM orders
GROUP BY status
ORDER BY status;

-- A quotient of exact numbers keeps 16 decimals, as PostgreSQL's: 105.3238461538461538
-- (arrow alone would keep the dividend's 2 decimals plus 4: 105.323846).
SELECT CAST(1369.21 AS DECIMAL(10, 2)) / 13 AS per_order;

-- A float as text reads as the warehouse writes it: 'order-163', not 'order-163.0'.
SELECT concat('order-', CAST(163 AS DOUBLE)) AS label;

-- Snowflake's hash: a stable bucket per customer (a 10% sample, the same in every run);
-- typeof: the type of a variant, here to read only the arrays among JSON values.
SELECT email, abs(hash(email)) % 10 AS bucket
FROM (SELECT DISTINCT email FROM orders WHERE email IS NOT NULL)
ORDER BY email
LIMIT 3;

SELECT typeof(v) AS kind, array_size(v) AS elements
FROM (VALUES ('[1, 2, 3]'), ('{"sku": "a"}'), ('7')) t(v)
WHERE typeof(v) IN ('ARRAY', 'OBJECT', 'INTEGER')
ORDER BY kind;
