-- Public trial sign-up and the mail outbox, portable as 00001: IDs and
-- hashes are text, times BIGINT milliseconds since the epoch in UTC.

-- +goose Up

-- A sign-up link's token: one-time and expiring; only its SHA-256 is kept.
CREATE TABLE signup_tokens (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX signup_tokens_account ON signup_tokens (account_id);
CREATE INDEX signup_tokens_expiry ON signup_tokens (expires_at);

-- Every sign-up the hub answered, for its rate limits; kept as long as
-- sign-in records.
CREATE TABLE signups (
    id         TEXT PRIMARY KEY,
    at         BIGINT NOT NULL,
    remote     TEXT NOT NULL,
    email      TEXT NOT NULL,
    account_id TEXT,
    outcome    TEXT NOT NULL
);
CREATE INDEX signups_remote ON signups (remote, at);
CREATE INDEX signups_email ON signups (email, at);
CREATE INDEX signups_at ON signups (at);

-- Mails to send, written in the transaction of the change that sends
-- them and delivered after it commits, with retries: message is sealed
-- with the data key and emptied once the mail is delivered.
CREATE TABLE mail_outbox (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    rcpt         TEXT NOT NULL,
    message      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    next_at      BIGINT NOT NULL,
    attempts     INTEGER NOT NULL,
    last_error   TEXT NOT NULL,
    sent_at      BIGINT,
    abandoned_at BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_at);
CREATE INDEX mail_outbox_created ON mail_outbox (created_at);

-- +goose Down
DROP TABLE mail_outbox;
DROP TABLE signups;
DROP TABLE signup_tokens;
