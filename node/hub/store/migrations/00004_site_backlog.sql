-- What waits on a site to be sent, as it last said: the sales monitor
-- shows a site that is behind.

-- +goose Up
ALTER TABLE sites ADD COLUMN backlog BIGINT NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE sites DROP COLUMN backlog;
