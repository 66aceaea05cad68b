-- 管理驾驶舱 cockpit rollups (crates/insight, crates/server/src/insight.rs): the outbox's domain
-- events folded into cells by cube, time bucket and the cube's dimensions. A dimension a cube
-- does not keep is the empty string. No person appears: `people` is a HyperLogLog++ sketch of
-- the events' pseudonymous subjects.

CREATE TABLE insight_cells (
    cube            TEXT NOT NULL,
    granularity     TEXT NOT NULL CHECK (granularity IN ('minute','hour','day')),
    bucket          TEXT NOT NULL,
    metric          TEXT NOT NULL,
    service         TEXT NOT NULL,
    department      TEXT NOT NULL,
    district        TEXT NOT NULL,
    channel         TEXT NOT NULL,
    outcome         TEXT NOT NULL,
    age_band        TEXT NOT NULL,
    count           INTEGER NOT NULL,
    timed           INTEGER NOT NULL,
    latency_sum_ms  INTEGER NOT NULL,
    -- Power-of-two latency histogram as a JSON array (bianmin_insight::rollup::LATENCY_BUCKETS).
    latency         TEXT NOT NULL,
    people          BLOB,
    PRIMARY KEY (cube, granularity, bucket, metric, service, department, district, channel, outcome, age_band)
);

-- How far each consumer of the outbox has read; moved in the transaction that writes what it
-- read, so an event is counted once however often ingestion restarts.
CREATE TABLE outbox_consumers (
    name        TEXT PRIMARY KEY NOT NULL,
    last_seq    INTEGER NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Events already counted, kept for a window behind the cursor: on PostgreSQL a sequence number
-- is taken at insert, not at commit, so the consumer re-reads the last events before its cursor
-- and skips those it has seen (de-duplication on event_id).
CREATE TABLE outbox_consumed (
    consumer    TEXT NOT NULL,
    event_id    BLOB NOT NULL,
    seq         INTEGER NOT NULL,
    PRIMARY KEY (consumer, event_id)
);
CREATE INDEX outbox_consumed_seq ON outbox_consumed(consumer, seq);
