-- Knit quickstart: SQL over the bundled e-commerce sample (testdata/ecommerce), in place.
-- Run it: cargo run -p knit-cli -- -f sql/examples/quickstart.sql

-- Bound how long each statement may run (--timeout 1m does the same; '0' lifts it).
SET knit.statement_timeout = '1m';

-- A path is a table: a file, a directory, or a glob.
SELECT count(*) AS tracks FROM 'testdata/ecommerce/tracks/*.parquet';

-- Or give the files a name once.
CREATE EXTERNAL TABLE identifies STORED AS PARQUET LOCATION 'testdata/ecommerce/identifies/';
CREATE EXTERNAL TABLE tracks STORED AS PARQUET LOCATION 'testdata/ecommerce/tracks/';
CREATE EXTERNAL TABLE orders STORED AS PARQUET LOCATION 'testdata/ecommerce/orders/';

-- Events by type, with the revenue of completed orders.
SELECT event, count(*) AS events, round(sum(revenue), 2) AS revenue
FROM tracks
GROUP BY event
ORDER BY events DESC;

-- The ids that ID stitching will have to join up: several anonymous ids and emails per
-- user, emails in mixed case, blank and missing emails.
SELECT
  count(DISTINCT user_id) AS users,
  count(DISTINCT anonymous_id) AS anonymous_ids,
  count(DISTINCT email) AS emails_as_typed,
  count(DISTINCT lower(email)) AS emails,
  count(*) FILTER (WHERE email = '' OR email IS NULL) AS logins_without_email
FROM identifies;

-- Best customers by completed orders.
SELECT user_id, count(*) AS orders, round(sum(total), 2) AS revenue
FROM orders
WHERE status = 'completed' AND user_id IS NOT NULL
GROUP BY user_id
ORDER BY revenue DESC, user_id
LIMIT 5;

-- Monthly active visitors, known or not.
SELECT date_trunc('month', "timestamp") AS month,
       count(DISTINCT coalesce(user_id, anonymous_id)) AS visitors
FROM tracks
GROUP BY 1
ORDER BY 1;

-- Write an audience file for activation.
COPY (SELECT DISTINCT lower(email) AS email FROM identifies WHERE email <> '' ORDER BY 1)
TO '/tmp/knit-quickstart-emails.csv' STORED AS CSV;

-- Stitch every id that appeared together into one user (see sql/examples/stitch.sql).
CREATE ENTITY user ID TYPES (user_id, anonymous_id EXCLUDE ('unknown'), email INCLUDE REGEX '[^@ ]+@[^@ ]+');
CREATE INPUT identifies FOR user
  IDS (user_id AS user_id, anonymous_id AS anonymous_id, lower(email) AS email) OCCURRED AT "timestamp";
CREATE INPUT tracks FOR user IDS (user_id AS user_id, anonymous_id AS anonymous_id) OCCURRED AT "timestamp";
CREATE INPUT orders FOR user IDS (user_id AS user_id, lower(email) AS email) OCCURRED AT created_at;

SELECT other_id_type, count(*) AS ids, count(DISTINCT user_main_id) AS users
FROM id_stitch('user')
GROUP BY other_id_type
ORDER BY other_id_type;
