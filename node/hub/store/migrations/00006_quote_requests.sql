-- Sites' requests to buy (issue 17, procurement): more seats or a module,
-- approved on site and carried up with the daily license check (or a
-- file). The vendor answers; the answer goes back down the same way.

-- +goose Up
CREATE TABLE quote_requests (
    id              TEXT PRIMARY KEY,
    cluster_id      TEXT NOT NULL,
    sku             TEXT NOT NULL,
    pool            TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    module          TEXT NOT NULL,
    reason          TEXT NOT NULL,
    requested_by    TEXT NOT NULL,
    approved_by     TEXT NOT NULL,
    requested_at    BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    answer          TEXT NOT NULL,
    answered_by     TEXT NOT NULL,
    answered_at     BIGINT
);
CREATE INDEX quote_requests_cluster ON quote_requests (cluster_id);
CREATE INDEX quote_requests_received ON quote_requests (received_at);

-- +goose Down
DROP TABLE quote_requests;
