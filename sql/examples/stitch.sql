-- ID stitching on the bundled e-commerce sample (testdata/ecommerce): every user_id,
-- anonymous_id and email that ever appeared together becomes one user, with one main id.
-- Run it: cargo run -p knit-cli -- -f sql/examples/stitch.sql

-- The entity and its id types. Filters drop junk ids: the SDK's 'unknown' placeholder,
-- and anything that is not an email.
CREATE ENTITY user ID TYPES (
  user_id,
  anonymous_id EXCLUDE ('unknown'),
  email INCLUDE REGEX '[^@ ]+@[^@ ]+'
);

-- Where ids come from: which expression of which rows is which id type, and when.
CREATE INPUT identifies FOR user
  FROM 'testdata/ecommerce/identifies/'
  IDS (user_id AS user_id, anonymous_id AS anonymous_id, lower(email) AS email)
  OCCURRED AT "timestamp";
CREATE INPUT tracks FOR user
  FROM 'testdata/ecommerce/tracks/'
  IDS (user_id AS user_id, anonymous_id AS anonymous_id)
  OCCURRED AT "timestamp";
CREATE INPUT orders FOR user
  FROM 'testdata/ecommerce/orders/'
  IDS (user_id AS user_id, lower(email) AS email)
  OCCURRED AT created_at;

SHOW INPUTS;

-- The id graph: one row per id, with its user's main id.
SELECT count(*) AS ids, count(DISTINCT user_main_id) AS users FROM id_stitch('user');

-- How many ids of each type a user has, in the largest clusters.
SELECT user_main_id,
       count(*) FILTER (WHERE other_id_type = 'user_id') AS user_ids,
       count(*) FILTER (WHERE other_id_type = 'anonymous_id') AS anonymous_ids,
       count(*) FILTER (WHERE other_id_type = 'email') AS emails,
       min(first_seen_at) AS first_seen
FROM id_stitch('user')
GROUP BY user_main_id
ORDER BY count(*) DESC, user_main_id
LIMIT 5;

-- One user's ids: first seen, and when each joined the cluster (valid_at).
SELECT other_id, other_id_type, first_seen_at, valid_at
FROM id_stitch('user')
WHERE user_main_id = (SELECT user_main_id FROM id_stitch('user') WHERE other_id = 'u0072')
ORDER BY first_seen_at, other_id;

-- Guest checkouts: emails seen only on orders still form users of their own.
SELECT count(*) AS guest_users
FROM (SELECT user_main_id FROM id_stitch('user') GROUP BY user_main_id
      HAVING count(*) FILTER (WHERE other_id_type = 'user_id') = 0
         AND count(*) FILTER (WHERE other_id_type = 'anonymous_id') = 0);

-- Orders keyed by user instead of by whatever id each row had.
SELECT g.user_main_id, count(*) AS orders, round(sum(o.total), 2) AS revenue
FROM 'testdata/ecommerce/orders/' o
JOIN id_stitch('user') g
  ON g.other_id = coalesce(o.user_id, lower(o.email))
 AND g.other_id_type = CASE WHEN o.user_id IS NOT NULL THEN 'user_id' ELSE 'email' END
GROUP BY g.user_main_id
ORDER BY revenue DESC, g.user_main_id
LIMIT 3;
