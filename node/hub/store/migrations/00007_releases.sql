-- Signed releases (issue 15): the vendor's TUF repository and its
-- catalogue. The metadata is the signed truth sites verify; the releases
-- and artifacts rows are what pages list and what downloads look up.
-- Artifacts' bytes live in <data_dir>/releases, named by their SHA-256
-- (shared storage when several hub processes serve one database).

-- +goose Up
CREATE TABLE release_keys (
    version     INTEGER PRIMARY KEY,
    keys_sealed TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE release_metadata (
    name       TEXT PRIMARY KEY,
    data       TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE releases (
    version         TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    notes           TEXT NOT NULL,
    changelog       TEXT NOT NULL,
    doc_url         TEXT NOT NULL,
    video_url       TEXT NOT NULL,
    published_at    BIGINT NOT NULL,
    published_by    TEXT NOT NULL,
    withdrawn_at    BIGINT,
    withdraw_reason TEXT NOT NULL,
    removed_at      BIGINT
);
CREATE INDEX releases_published ON releases (published_at);
CREATE TABLE release_artifacts (
    name      TEXT PRIMARY KEY,
    version   TEXT NOT NULL,
    component TEXT NOT NULL,
    os        TEXT NOT NULL,
    arch      TEXT NOT NULL,
    sha256    TEXT NOT NULL,
    size      BIGINT NOT NULL
);
CREATE INDEX release_artifacts_version ON release_artifacts (version);
CREATE INDEX release_artifacts_sha ON release_artifacts (sha256);

-- +goose Down
DROP TABLE release_artifacts;
DROP TABLE releases;
DROP TABLE release_metadata;
DROP TABLE release_keys;
