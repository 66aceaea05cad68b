-- 管理驾驶舱 cockpit rollups, second layout (docs/insight.md): month buckets beside minute, hour
-- and day; a fourth cube, `reach` (metric and department only); the people sketches in
-- Apache DataSketches' compact HLL format instead of JSON; and the key ordered so that one
-- metric's range of buckets is contiguous. Cells are derived from the outbox, so the table is
-- rebuilt empty and the consumer starts again from the first event.

DROP TABLE insight_cells;

CREATE TABLE insight_cells (
    cube            TEXT NOT NULL,
    granularity     TEXT NOT NULL CHECK (granularity IN ('minute','hour','day','month')),
    metric          TEXT NOT NULL,
    bucket          TIMESTAMPTZ NOT NULL,
    service         TEXT NOT NULL,
    department      TEXT NOT NULL,
    district        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    age_band        TEXT NOT NULL,
    count           BIGINT NOT NULL,
    timed           BIGINT NOT NULL,
    latency_sum_ms  BIGINT NOT NULL,
    -- Power-of-two latency histogram as a JSON array (bianmin_insight::rollup::LATENCY_BUCKETS).
    latency         TEXT NOT NULL,
    -- Distinct subjects (day and month cells): a DataSketches HLL sketch, lg_k 12.
    people          BYTEA,
    PRIMARY KEY (cube, granularity, metric, bucket, service, department, district, channel, outcome, age_band)
);

DELETE FROM outbox_consumed WHERE consumer = 'insight';
DELETE FROM outbox_consumers WHERE name = 'insight';

-- Demo history written straight into the cells (`bianmin demo`; bianmin_insight::history): one
-- row a load, so that a restart does not add the same year twice. These cells have no events
-- behind them in the outbox.
CREATE TABLE insight_history (
    seed        BIGINT PRIMARY KEY,
    first_day   TEXT NOT NULL,
    last_day    TEXT NOT NULL,
    scale       TEXT NOT NULL,
    facts       BIGINT NOT NULL,
    people      BIGINT NOT NULL,
    cells       BIGINT NOT NULL,
    loaded_at   TIMESTAMPTZ NOT NULL
);

-- Bumped in any transaction that writes a day or month cell that is already closed (ended
-- before the current China day, give or take five minutes): a query may keep what it read of
-- closed buckets for as long as this number stands (server/src/cockpit.rs).
CREATE TABLE insight_generation (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    closed  BIGINT NOT NULL
);
INSERT INTO insight_generation (id, closed) VALUES (1, 0);
