-- Sites (the customers' clusters) and the usage they send, online or by
-- file. Every table is keyed by the cluster ID the site registered with;
-- usage rows hold the latest state of a period, so a batch applied twice
-- changes nothing the second time.

-- +goose Up
ALTER TABLE licenses ADD COLUMN cluster_id TEXT;
CREATE INDEX licenses_cluster ON licenses (cluster_id);

CREATE TABLE sites (
    cluster_id         TEXT PRIMARY KEY,
    company_id         TEXT NOT NULL REFERENCES companies (id),
    public_key         TEXT NOT NULL,
    products           TEXT NOT NULL,
    master_versions    TEXT NOT NULL,
    collector_versions TEXT NOT NULL,
    registered_at      BIGINT NOT NULL,
    last_contact_at    BIGINT NOT NULL,
    last_online_at     BIGINT,
    last_file_at       BIGINT,
    chain_seq          BIGINT NOT NULL,
    chain_hash         TEXT NOT NULL,
    zone               TEXT NOT NULL
);
CREATE INDEX sites_company ON sites (company_id);

CREATE TABLE usage_batches (
    cluster_id  TEXT NOT NULL REFERENCES sites (cluster_id),
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    via         TEXT NOT NULL,
    records     INTEGER NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, seq)
);

CREATE TABLE usage_months (
    cluster_id   TEXT NOT NULL REFERENCES sites (cluster_id),
    installation TEXT NOT NULL,
    month        TEXT NOT NULL,
    closed       INTEGER NOT NULL,
    closed_at    BIGINT,
    users        BIGINT NOT NULL,
    users_max    BIGINT NOT NULL,
    cases        BIGINT NOT NULL,
    cases_max    BIGINT NOT NULL,
    metrics      TEXT NOT NULL,
    late         TEXT,
    seq          BIGINT NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, installation, month)
);
CREATE INDEX usage_months_month ON usage_months (month);

CREATE TABLE usage_days (
    cluster_id   TEXT NOT NULL REFERENCES sites (cluster_id),
    installation TEXT NOT NULL,
    day          TEXT NOT NULL,
    samples      BIGINT NOT NULL,
    stats        TEXT NOT NULL,
    seq          BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, installation, day)
);

CREATE TABLE usage_credits (
    cluster_id  TEXT NOT NULL REFERENCES sites (cluster_id),
    license_id  TEXT NOT NULL,
    unit        TEXT NOT NULL,
    bought      BIGINT NOT NULL,
    consumed    BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, license_id)
);

CREATE TABLE usage_seats (
    cluster_id      TEXT NOT NULL REFERENCES sites (cluster_id),
    pool            TEXT NOT NULL,
    seats           BIGINT NOT NULL,
    held            BIGINT NOT NULL,
    peak            BIGINT NOT NULL,
    overage_grants  BIGINT NOT NULL,
    last_overage_at BIGINT,
    seq             BIGINT NOT NULL,
    received_at     BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, pool)
);

-- installations is the sales monitor's row per product installation: its
-- latest month, kept as batches arrive, so listing ten thousand of them
-- reads ten thousand rows.
CREATE TABLE installations (
    cluster_id     TEXT NOT NULL REFERENCES sites (cluster_id),
    installation   TEXT NOT NULL,
    company_id     TEXT NOT NULL REFERENCES companies (id),
    month          TEXT NOT NULL,
    users          BIGINT NOT NULL,
    users_max      BIGINT NOT NULL,
    cases          BIGINT NOT NULL,
    cases_max      BIGINT NOT NULL,
    last_report_at BIGINT NOT NULL,
    PRIMARY KEY (cluster_id, installation)
);
CREATE INDEX installations_company ON installations (company_id);

-- +goose Down
DROP TABLE installations;
DROP TABLE usage_seats;
DROP TABLE usage_credits;
DROP TABLE usage_days;
DROP TABLE usage_months;
DROP TABLE usage_batches;
DROP TABLE sites;
DROP INDEX licenses_cluster;
ALTER TABLE licenses DROP COLUMN cluster_id;
