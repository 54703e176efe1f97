-- The vendor's alerts (seed 001, development team side): renewal
-- reminders, trials and licenses near their end, installations at their
-- limits or gone silent. A key fires once: a second hub process that
-- evaluates the same state finds it firing and sends nothing.

-- +goose Up
CREATE TABLE vendor_alerts (
    key         TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    subject     TEXT NOT NULL,
    severity    TEXT NOT NULL,
    summary     TEXT NOT NULL,
    fired_at    BIGINT NOT NULL,
    resolved_at BIGINT,
    episodes    INTEGER NOT NULL
);
CREATE INDEX vendor_alerts_fired ON vendor_alerts (fired_at);

-- +goose Down
DROP TABLE vendor_alerts;
