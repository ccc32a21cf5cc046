-- connected_components on the bundled sample: which anonymous ids and user ids belong
-- together, from the identify calls alone, without defining an entity.
-- Run it: cargo run -p knit-cli -- -f sql/examples/components.sql

-- One row per id, named by the smallest id of its component.
CREATE TABLE people AS
SELECT node AS id, component
FROM connected_components((
  SELECT anonymous_id, user_id FROM 'testdata/ecommerce/identifies/'
  WHERE anonymous_id <> 'unknown'
));

-- How many people, and the biggest groups of ids. The rows come hash-partitioned on
-- the component, so this GROUP BY needs no repartition.
SELECT count(DISTINCT component) AS people, count(*) AS ids FROM people;

SELECT component, count(*) AS ids
FROM people GROUP BY component ORDER BY ids DESC, component LIMIT 3;

-- A script that asks for the same stitch or the same feature query again reads the
-- result the session kept; here the second count reads the kept id graph.
CREATE ENTITY visitor ID TYPES (anonymous_id, user_id);
CREATE INPUT identifies FOR visitor FROM 'testdata/ecommerce/identifies/'
  IDS (anonymous_id AS anonymous_id, user_id AS user_id);
SELECT count(DISTINCT visitor_main_id) AS visitors FROM id_stitch('visitor');
SELECT count(*) AS ids FROM id_stitch('visitor');
