-- A profile store kept from Knit SQL: the profile's tables, entity, vars and cohort,
-- then CREATE PROFILE STORE names the store and REFRESH PROFILE STORE writes it. The
-- first refresh computes everything; a later one reads only the input files it has
-- not read, and recomputes only the customers their rows touch, with the same result.
-- Run it: cargo run -p knit-cli -- -f sql/examples/profile_store.sql
-- (It writes /tmp/knit-example-store/; run it again and the store is current. Progress
-- and what each refresh did go to stderr.)

-- A refresh lists the files of each table CREATE EXTERNAL TABLE registers, so it can
-- tell which are new; an input that reads files by path is recomputed every time.
CREATE EXTERNAL TABLE identifies STORED AS PARQUET LOCATION 'testdata/ecommerce/identifies/';
CREATE EXTERNAL TABLE tracks STORED AS PARQUET LOCATION 'testdata/ecommerce/tracks/';
CREATE EXTERNAL TABLE orders STORED AS PARQUET LOCATION 'testdata/ecommerce/orders/';

CREATE ENTITY user ID TYPES (
  user_id,
  anonymous_id EXCLUDE ('unknown'),
  email INCLUDE REGEX '[^@ ]+@[^@ ]+'
);
CREATE INPUT identifies FOR user FROM identifies
  IDS (user_id AS user_id, anonymous_id AS anonymous_id, lower(email) AS email)
  OCCURRED AT "timestamp";
CREATE INPUT tracks FOR user FROM tracks
  IDS (user_id AS user_id, anonymous_id AS anonymous_id)
  OCCURRED AT "timestamp";
CREATE INPUT orders FOR user FROM orders
  IDS (user_id AS user_id, lower(email) AS email)
  OCCURRED AT created_at;

CREATE ENTITY VAR user.first_seen AS min("timestamp") FROM identifies;
CREATE ENTITY VAR user.active_days AS count(DISTINCT date_trunc('day', "timestamp")) FROM tracks;
CREATE ENTITY VAR user.orders AS count(*) FROM orders WHERE status = 'completed' DEFAULT 0;
CREATE ENTITY VAR user.ltv AS round(sum(total), 2) FROM orders WHERE status = 'completed' DEFAULT 0;
CREATE COHORT big_spenders FOR user WHERE ltv > 300;

-- The store: per entity its id graph, edges and features; per cohort its members and
-- their features; each a Delta table, with the merge history beside the id graph.
-- CHANGES TO writes each output's changes of the run, `<output>_changes.parquet`:
-- members that entered, exited or changed, for a sync that sends only those.
CREATE PROFILE STORE '/tmp/knit-example-store';
REFRESH PROFILE STORE CHANGES TO '/tmp/knit-example-store-changes';

-- The store's tables read as tables.
SELECT (SELECT count(*) FROM '/tmp/knit-example-store/user_id_graph') AS ids,
       (SELECT count(*) FROM '/tmp/knit-example-store/user_features') AS users,
       (SELECT count(*) FROM '/tmp/knit-example-store/user_big_spenders') AS big_spenders;

SELECT user_main_id IS NOT NULL AS has_main_id, ltv, orders
FROM '/tmp/knit-example-store/big_spenders_features' ORDER BY ltv DESC LIMIT 3;

-- The first run's changes: every big spender entered.
SELECT change, count(*) AS members
FROM '/tmp/knit-example-store-changes/user_big_spenders_changes.parquet' GROUP BY change;

-- The store is the session's: current_main_id reads its merge history (any id that
-- was a main id, to the main id of its customer today).
SELECT count(*) AS resolved
FROM '/tmp/knit-example-store/user_features'
WHERE current_main_id('user', user_main_id) = user_main_id;
