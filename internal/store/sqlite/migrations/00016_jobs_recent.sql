-- +goose Up
-- The recent jobs of a kind, newest first (GET /api/v1/jobs, the
-- dashboard's scans page): jobs are kept, so the table only grows, and
-- without this index each listing sorts every job of the kind.
CREATE INDEX jobs_recent ON jobs (kind, created_at, id);

-- +goose Down
DROP INDEX jobs_recent;
