-- +goose Up
-- An ingest job's lane: the (tool, target) its upload scans, as
-- "tool<newline>target", detected when it is uploaded. Jobs of one lane
-- run one at a time in upload order; jobs of different lanes may run at
-- once on several servers. '*' (the scan could not be read ahead) waits
-- for every older job with a lane and holds back every newer one; ''
-- (scheduled jobs, deliveries) has no order.
ALTER TABLE jobs ADD COLUMN lane TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE jobs DROP COLUMN lane;
