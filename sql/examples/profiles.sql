-- Customer profiles on the bundled e-commerce sample (testdata/ecommerce): stitch ids into
-- users, compute features per user, look them up by email, pick a cohort and export it.
-- Run it: cargo run -p knit-cli -- -f sql/examples/profiles.sql

CREATE ENTITY user ID TYPES (
  user_id,
  anonymous_id EXCLUDE ('unknown'),
  email INCLUDE REGEX '[^@ ]+@[^@ ]+'
);
CREATE INPUT identifies FOR user FROM 'testdata/ecommerce/identifies/'
  IDS (user_id AS user_id, anonymous_id AS anonymous_id, lower(email) AS email)
  OCCURRED AT "timestamp";
CREATE INPUT tracks FOR user FROM 'testdata/ecommerce/tracks/'
  IDS (user_id AS user_id, anonymous_id AS anonymous_id)
  OCCURRED AT "timestamp";
CREATE INPUT orders FOR user FROM 'testdata/ecommerce/orders/'
  IDS (user_id AS user_id, lower(email) AS email)
  OCCURRED AT created_at;

-- A row-level var: each order's rank among the user's orders, biggest first.
CREATE INPUT VAR orders.size_rank AS rank() OVER (PARTITION BY user_id ORDER BY total DESC);

-- Entity vars: aggregates over an input's rows, per user...
CREATE ENTITY VAR user.first_seen AS min("timestamp") FROM identifies HIDDEN;
CREATE ENTITY VAR user.first_source
  AS first_value(context_campaign_source ORDER BY "timestamp") FROM identifies
  WHERE context_campaign_source <> '';
CREATE ENTITY VAR user.active_days AS count(DISTINCT date_trunc('day', "timestamp")) FROM tracks;
CREATE ENTITY VAR user.orders AS count(*) FROM orders WHERE status = 'completed' DEFAULT 0;
CREATE ENTITY VAR user.ltv AS round(sum(total), 2) FROM orders WHERE status = 'completed' DEFAULT 0;
CREATE ENTITY VAR user.biggest_order AS max(total) FROM orders WHERE size_rank = 1;
-- ...and expressions over other vars, computed after them.
CREATE ENTITY VAR user.is_engaged AS active_days >= 3 AND orders > 0;
CREATE ENTITY VAR user.first_day AS CAST(first_seen AS DATE);

SHOW VARS;

-- The feature table: one row per user.
SELECT * FROM feature_table('user') ORDER BY ltv DESC, user_main_id LIMIT 5;

-- The var table: the same rows with every var, hidden ones (first_seen) too.
SELECT user_main_id, first_seen, first_day FROM var_table('user')
ORDER BY first_seen, user_main_id LIMIT 3;

-- A few vars only: entity_vars computes them and what they read (is_engaged reads
-- active_days and orders), not the whole var table.
SELECT is_engaged, count(*) AS users FROM entity_vars('user', 'is_engaged', 'ltv')
GROUP BY is_engaged ORDER BY is_engaged;

-- An input var may read each row's main id (pb's user_main_id on the rows): each
-- order's place among its user's orders, wherever the ids it was placed with.
CREATE INPUT VAR orders.user_order_no
  AS row_number() OVER (PARTITION BY user_main_id ORDER BY created_at);
CREATE ENTITY VAR user.repeat_orders AS count(*) FROM orders WHERE user_order_no > 1 DEFAULT 0;
SELECT repeat_orders, count(*) AS users FROM feature_table('user')
GROUP BY repeat_orders ORDER BY repeat_orders LIMIT 4;

-- Cohorts: a condition over vars; EXTENDS narrows another cohort.
CREATE COHORT engaged FOR user WHERE is_engaged;
CREATE COHORT big_engaged FOR user EXTENDS engaged WHERE ltv > 200;
SELECT (SELECT count(*) FROM feature_table('user')) AS users,
       (SELECT count(*) FROM cohort('engaged')) AS engaged,
       (SELECT count(*) FROM cohort('big_engaged')) AS big_engaged;

-- The feature view by email (one row per email), restricted to the cohort.
SELECT email, ltv, active_days, first_source
FROM feature_view('user', 'email', 'big_engaged') ORDER BY ltv DESC, email LIMIT 5;

-- Activation: write the audience; the file appears only once it is complete.
COPY (SELECT email, ltv FROM feature_view('user', 'email', 'big_engaged'))
  TO '/tmp/knit-example-big-engaged.csv' STORED AS CSV;
