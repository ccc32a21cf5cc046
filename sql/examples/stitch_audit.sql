-- Auditing the id graph on the bundled e-commerce sample: a shared in-store kiosk joins
-- four shoppers into one "customer"; the report finds it, explain_link shows why, and a
-- limit on user ids per customer keeps them apart.
-- Run it: cargo run -p knit-cli -- -f sql/examples/stitch_audit.sql
-- The same report as one HTML page:
--   cargo run -p knit-cli -- report stitch shopper -f sql/examples/stitch_audit.sql --out report.html

-- Four shoppers' browsers logged on the kiosk, each on the day it first identified.
CREATE TABLE kiosk_sessions AS
SELECT anonymous_id, 'kiosk-7' AS device_id, min("timestamp") AS ts
FROM 'testdata/ecommerce/identifies/'
WHERE user_id IN ('u0011', 'u0022', 'u0033', 'u0045')
GROUP BY anonymous_id;

CREATE ENTITY shopper ID TYPES (
  user_id,
  anonymous_id EXCLUDE ('unknown'),
  email INCLUDE REGEX '[^@ ]+@[^@ ]+',
  device_id
);
CREATE INPUT identifies FOR shopper FROM 'testdata/ecommerce/identifies/'
  IDS (user_id AS user_id, anonymous_id AS anonymous_id, lower(email) AS email)
  OCCURRED AT "timestamp";
CREATE INPUT kiosk FOR shopper FROM kiosk_sessions
  IDS (anonymous_id AS anonymous_id, device_id AS device_id) OCCURRED AT ts;

-- The summary: ids, clusters and sizes per id type. One cluster holds four user ids.
SELECT * FROM stitch_report('shopper');

-- The hubs: the kiosk is the best-connected device.
SELECT id_type, id, degree, cluster_size FROM stitch_report('shopper', 'hubs') WHERE rank = 1;

-- Why are u0011 and u0045 one customer? Hop by hop, with the input and time of each link.
SELECT * FROM explain_link('shopper', 'u0011', 'u0045');

-- The kiosk is an articulation point of the largest cluster: remove it and it splits.
SELECT kind, id1, id1_type FROM stitch_report('shopper', 'bridges')
WHERE kind = 'articulation_point' AND id1_type = 'device_id';

-- One user id per customer: edges apply in time order, and an edge that would put a
-- second user id in a cluster is refused, so the kiosk stays with its first shopper.
CREATE ENTITY customer ID TYPES (
  user_id LIMIT 1,
  anonymous_id EXCLUDE ('unknown'),
  email INCLUDE REGEX '[^@ ]+@[^@ ]+',
  device_id
);
CREATE INPUT customer_identifies FOR customer FROM 'testdata/ecommerce/identifies/'
  IDS (user_id AS user_id, anonymous_id AS anonymous_id, lower(email) AS email)
  OCCURRED AT "timestamp";
CREATE INPUT customer_kiosk FOR customer FROM kiosk_sessions
  IDS (anonymous_id AS anonymous_id, device_id AS device_id) OCCURRED AT ts;

SELECT id_type, largest, "limit", refused_edges FROM stitch_report('customer');
SELECT id1, id1_type, id2, id2_type, valid_at, reason
FROM stitch_report('customer', 'refused') ORDER BY valid_at;

-- Whose is the kiosk now, and why that main id.
SELECT id, cluster_size, anchor_id, anchor_id_type, why FROM explain_id('customer', 'kiosk-7');
