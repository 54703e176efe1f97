-- The hub's schema, portable between SQLite and PostgreSQL: one migration
-- set runs on both (goose, embedded). Portable means: IDs are text the hub
-- makes, times are BIGINT milliseconds since the epoch in UTC, flags and
-- counts are INTEGER/BIGINT, hashes and sealed keys are text.

-- +goose Up
CREATE TABLE vendor_keys (
    key_id             TEXT PRIMARY KEY,
    public_key         TEXT NOT NULL,
    private_key_sealed TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    retired_at         BIGINT
);

CREATE TABLE resellers (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    email       TEXT NOT NULL,
    reseller_id TEXT REFERENCES resellers (id),
    created_at  BIGINT NOT NULL,
    erased_at   BIGINT
);
CREATE INDEX companies_reseller ON companies (reseller_id);

CREATE TABLE accounts (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    company_id    TEXT REFERENCES companies (id),
    reseller_id   TEXT REFERENCES resellers (id),
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);
CREATE INDEX accounts_company ON accounts (company_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_account ON api_keys (account_id);

CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    csrf       TEXT NOT NULL,
    remote     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE signins (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    email      TEXT NOT NULL,
    account_id TEXT,
    ok         INTEGER NOT NULL,
    remote     TEXT NOT NULL
);
CREATE INDEX signins_at ON signins (at);

CREATE TABLE audit (
    id     TEXT PRIMARY KEY,
    at     BIGINT NOT NULL,
    actor  TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL,
    remote TEXT NOT NULL
);
CREATE INDEX audit_at ON audit (at, id);

CREATE TABLE products (
    sku              TEXT NOT NULL,
    version          INTEGER NOT NULL,
    name             TEXT NOT NULL,
    application      TEXT NOT NULL,
    app_version      TEXT NOT NULL,
    type             TEXT NOT NULL,
    billing          TEXT NOT NULL,
    trial_count      INTEGER NOT NULL,
    trial_unit       TEXT NOT NULL,
    trial_template   TEXT NOT NULL,
    license_template TEXT NOT NULL,
    features         TEXT NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (sku, version)
);

CREATE TABLE licenses (
    id              TEXT PRIMARY KEY,
    company_id      TEXT NOT NULL REFERENCES companies (id),
    subscription_id TEXT NOT NULL,
    sku             TEXT NOT NULL,
    product_version INTEGER NOT NULL,
    type            TEXT NOT NULL,
    quantity        INTEGER NOT NULL,
    issued_at       BIGINT NOT NULL,
    not_before      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    key_id          TEXT NOT NULL REFERENCES vendor_keys (key_id),
    superseded_by   TEXT,
    revoked_at      BIGINT,
    issued_by       TEXT NOT NULL,
    text            TEXT NOT NULL,
    FOREIGN KEY (sku, product_version) REFERENCES products (sku, version)
);
CREATE INDEX licenses_company ON licenses (company_id, issued_at);

CREATE TABLE history (
    id         TEXT PRIMARY KEY,
    company_id TEXT NOT NULL REFERENCES companies (id),
    at         BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    license_id TEXT,
    detail     TEXT NOT NULL
);
CREATE INDEX history_company ON history (company_id, at);

-- +goose Down
DROP TABLE history;
DROP TABLE licenses;
DROP TABLE products;
DROP TABLE audit;
DROP TABLE signins;
DROP TABLE sessions;
DROP TABLE api_keys;
DROP TABLE accounts;
DROP TABLE companies;
DROP TABLE resellers;
DROP TABLE vendor_keys;
