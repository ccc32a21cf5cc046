"""Writes Knit's own oracle cases (project + input tables), deterministically.

usage: python3 make_cases.py OUT_DIR

Each case is OUT_DIR/<case>/project (a pb project) and OUT_DIR/<case>/tables/<schema>/*.csv.
Run them through ../shared/oracle/oracle_run.sh to get the expected outputs.

- valid_at_random: a few hundred identity clusters of random shape over two inputs, with
  chains, merges through shared emails and devices, NULL and tied times. It pins main ids,
  first_seen_at and valid_at on many small and some large clusters.
- filters: id type filters in every form (include/exclude, values/regex, in written
  order, pb's unparenthesised `^a|b$` anchoring), blank and whitespace-only ids, NULLs, an
  input with a single id column, and an id type the entity does not declare.
"""

import csv
import os
import random
import sys


def write_csv(path, header, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            # None is an unquoted empty field (NULL); '' is written as "" (empty string).
            f.write(",".join("" if v is None else ('""' if v == "" else csv_cell(v)) for v in row) + "\n")


def csv_cell(v):
    s = str(v)
    if any(c in s for c in ',"\n') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def ts(rng, null_rate):
    if rng.random() < null_rate:
        return None
    day = rng.randrange(0, 60)
    sec = rng.randrange(0, 86400)
    # Coarse seconds so that ties happen.
    sec -= sec % 600
    return f"2024-03-{1 + day % 28:02d} {sec // 3600:02d}:{sec // 60 % 60:02d}:00+00"


def valid_at_random(out):
    rng = random.Random(20261128)
    events, devices = [], []
    shared_emails = [f"shared{i}@mail.test" for i in range(15)]
    for user in range(300):
        anons = [f"a{user}x{i}" for i in range(rng.randrange(1, 4))]
        email = rng.choice(shared_emails) if rng.random() < 0.1 else f"u{user}@mail.test"
        known = rng.random() < 0.7
        for _ in range(rng.randrange(1, 7)):
            uid = f"u{user}" if known and rng.random() < 0.6 else None
            em = email if rng.random() < 0.4 else None
            events.append([uid, rng.choice(anons), em, ts(rng, 0.08)])
        for _ in range(rng.randrange(0, 3)):
            dev = f"d{rng.randrange(0, 400)}"
            devices.append([rng.choice(anons), dev, ts(rng, 0.15)])
    # A long chain: each link joins the previous anonymous id to the next.
    for i in range(60):
        devices.append([f"chain{i}", f"chain{i + 1}", ts(rng, 0.1)])
    rng.shuffle(events)
    rng.shuffle(devices)
    case = os.path.join(out, "valid_at_random")
    write_csv(os.path.join(case, "tables/src/events.csv"),
              ["user_id", "anonymous_id", "email", "timestamp"], events)
    write_csv(os.path.join(case, "tables/src/devices.csv"),
              ["anonymous_id", "device_id", "timestamp"], devices)
    write(os.path.join(case, "project/pb_project.yaml"), """name: valid_at_random
schema_version: 99
connection: local
model_folders:
- models
id_types:
- name: user_id
- name: anonymous_id
- name: email
- name: device_id
entities:
- name: user
  id_stitcher: models/user_id_graph
  id_types:
  - user_id
  - anonymous_id
  - email
  - device_id
""")
    write(os.path.join(case, "project/models/inputs.yaml"), """inputs:
- name: events
  app_defaults:
    table: src.events
    occurred_at_col: timestamp
    ids:
    - select: user_id
      type: user_id
      entity: user
    - select: anonymous_id
      type: anonymous_id
      entity: user
    - select: email
      type: email
      entity: user
- name: devices
  app_defaults:
    table: src.devices
    occurred_at_col: timestamp
    ids:
    - select: anonymous_id
      type: anonymous_id
      entity: user
    - select: device_id
      type: device_id
      entity: user
""")
    write(os.path.join(case, "project/models/profiles.yaml"), """models:
- name: user_id_graph
  model_type: id_stitcher
  model_spec:
    entity_key: user
    edge_sources:
    - from: inputs/events
    - from: inputs/devices
var_groups:
- name: vars
  entity_key: user
  vars:
  - entity_var:
      name: events
      select: count(*)
      from: inputs/events
""")


def filters(out):
    rng = random.Random(7)
    logins = [
        # user_id, anonymous_id, email, phone, timestamp
        ["u1", "a1", "one@mail.test", "555-0101", "2024-01-01 10:00:00+00"],
        ["u1", "a2", "ONE@MAIL.TEST", None, "2024-01-02 10:00:00+00"],
        ["u2", "unknown", "two@mail.test", "", "2024-01-03 10:00:00+00"],
        ["u3", "unknown", "three@mail.test", "555-0103", "2024-01-04 10:00:00+00"],
        ["u4", "", "test@company.com", "555-0104", "2024-01-05 10:00:00+00"],
        ["u5", "a5", "not-an-email", "555-0105", "2024-01-06 10:00:00+00"],
        ["u6", " ", "six@mail.test", None, "2024-01-07 10:00:00+00"],
        ["u7", " ", "seven@mail.test", None, "2024-01-08 10:00:00+00"],
        ["guest", "a8", "eight@mail.test", None, "2024-01-09 10:00:00+00"],
        ["guest", "a9", "nine@mail.test", None, None],
        ["u10", "AC000", "ten@mail.test", None, "2024-01-10 10:00:00+00"],
        ["u11", "AC0123", "eleven@mail.test", None, "2024-01-11 10:00:00+00"],
        ["u12", "XAC999", "twelve@mail.test", None, "2024-01-12 10:00:00+00"],
        ["u13", "AC999", "thirteen@mail.test", None, "2024-01-13 10:00:00+00"],
        ["u14", "0000", "fourteen@mail.test", None, "2024-01-14 10:00:00+00"],
        [None, None, None, None, "2024-01-15 10:00:00+00"],
        ["", "", "", "", "2024-01-16 10:00:00+00"],
        [None, "a16", None, "555-0116", "2024-01-17 10:00:00+00"],
        ["u17", "a17", "seventeen@mail.test", "555-0117", None],
        ["u17", "a17b", None, None, None],
    ]
    for i in range(40):
        u = rng.randrange(1, 18)
        logins.append([f"u{u}", rng.choice([f"a{u}", "unknown", "", None, f"a{u}z"]),
                       rng.choice([f"u{u}@mail.test", None, "", "n/a"]), None,
                       f"2024-02-{1 + i % 28:02d} 0{i % 10}:00:00+00"])
    pages = [[f"a{i}", f"2024-03-{1 + i:02d} 00:00:00+00"] for i in range(1, 12)]
    pages += [["unknown", "2024-03-20 00:00:00+00"], ["", "2024-03-21 00:00:00+00"],
              [None, "2024-03-22 00:00:00+00"], ["AC0999", None]]
    case = os.path.join(out, "filters")
    write_csv(os.path.join(case, "tables/src/logins.csv"),
              ["user_id", "anonymous_id", "email", "phone", "timestamp"], logins)
    write_csv(os.path.join(case, "tables/src/pages.csv"), ["anonymous_id", "timestamp"], pages)
    write(os.path.join(case, "project/pb_project.yaml"), """name: filters
schema_version: 99
connection: local
model_folders:
- models
id_types:
- name: user_id
  filters:
  - type: exclude
    value: guest
- name: anonymous_id
  filters:
  - type: exclude
    value: unknown
  - type: exclude
    regex: "AC0+|AC9+"
  - type: exclude
    regex: "0+"
- name: email
  filters:
  - type: include
    regex: ".+@.+"
  - type: exclude
    value: test@company.com
- name: phone
entities:
- name: user
  id_stitcher: models/user_id_graph
  id_types:
  - user_id
  - anonymous_id
  - email
""")
    write(os.path.join(case, "project/models/inputs.yaml"), """inputs:
- name: logins
  app_defaults:
    table: src.logins
    occurred_at_col: timestamp
    ids:
    - select: user_id
      type: user_id
      entity: user
    - select: anonymous_id
      type: anonymous_id
      entity: user
    - select: lower(email)
      type: email
      entity: user
    - select: phone
      type: phone
      entity: user
- name: pages
  app_defaults:
    table: src.pages
    occurred_at_col: timestamp
    ids:
    - select: anonymous_id
      type: anonymous_id
      entity: user
""")
    write(os.path.join(case, "project/models/profiles.yaml"), """models:
- name: user_id_graph
  model_type: id_stitcher
  model_spec:
    entity_key: user
    edge_sources:
    - from: inputs/logins
    - from: inputs/pages
var_groups:
- name: vars
  entity_key: user
  vars:
  - entity_var:
      name: logins
      select: count(*)
      from: inputs/logins
""")


if __name__ == "__main__":
    out = sys.argv[1]
    valid_at_random(out)
    filters(out)
