-- Delta Lake tables on the bundled sample: an audience written by merge twice, the
-- change feed a sync reads ("who entered or left since the last sync?"), time travel
-- and the table's history.
-- Run it: cargo run -p knit-cli -- -f sql/examples/delta.sql
-- (It writes /tmp/knit-example-delta/; remove the folder to start again at version 0.)

-- Big spenders as of the end of April, then as of the end of June: each write merges
-- the audience on user_id, so only members that changed are written.
COPY (
  SELECT user_id, round(sum(total), 2) AS spent FROM 'testdata/ecommerce/orders/'
  WHERE status = 'completed' AND created_at < '2024-05-01'
  GROUP BY user_id HAVING sum(total) > 300
) TO '/tmp/knit-example-delta/big_spenders' STORED AS DELTA
  OPTIONS ('mode' 'merge', 'keys' 'user_id');

COPY (
  SELECT user_id, round(sum(total), 2) AS spent FROM 'testdata/ecommerce/orders/'
  WHERE status = 'completed' AND created_at < '2024-07-01'
  GROUP BY user_id HAVING sum(total) > 300
) TO '/tmp/knit-example-delta/big_spenders' STORED AS DELTA
  OPTIONS ('mode' 'merge', 'keys' 'user_id');

-- The folder reads as a table, at its latest version.
SELECT count(*) AS members FROM '/tmp/knit-example-delta/big_spenders';

-- What changed in the second write: new members, and members whose spend changed.
SELECT _change_type, count(*) AS members
FROM table_changes('/tmp/knit-example-delta/big_spenders', 1)
GROUP BY _change_type ORDER BY _change_type;

-- The audience as it was at version 0.
CREATE EXTERNAL TABLE big_spenders_april STORED AS DELTA
LOCATION '/tmp/knit-example-delta/big_spenders' OPTIONS ('version' '0');
SELECT count(*) AS members_in_april FROM big_spenders_april;

SELECT version, operation, rows_written FROM delta_history('/tmp/knit-example-delta/big_spenders')
ORDER BY version;

-- The same audience kept with deletion vectors: the second merge marks the rows of
-- members whose spend changed deleted in the first write's file, and writes only the
-- changed rows (9, where the merge above rewrote all 31), with the same change feed.
COPY (
  SELECT user_id, round(sum(total), 2) AS spent FROM 'testdata/ecommerce/orders/'
  WHERE status = 'completed' AND created_at < '2024-05-01'
  GROUP BY user_id HAVING sum(total) > 300
) TO '/tmp/knit-example-delta/big_spenders_marked' STORED AS DELTA
  OPTIONS ('mode' 'merge', 'keys' 'user_id', 'deletion_vectors' 'true');

COPY (
  SELECT user_id, round(sum(total), 2) AS spent FROM 'testdata/ecommerce/orders/'
  WHERE status = 'completed' AND created_at < '2024-07-01'
  GROUP BY user_id HAVING sum(total) > 300
) TO '/tmp/knit-example-delta/big_spenders_marked' STORED AS DELTA
  OPTIONS ('mode' 'merge', 'keys' 'user_id');

SELECT count(*) AS members FROM '/tmp/knit-example-delta/big_spenders_marked';

SELECT version, operation, rows_written
FROM delta_history('/tmp/knit-example-delta/big_spenders_marked') ORDER BY version;
