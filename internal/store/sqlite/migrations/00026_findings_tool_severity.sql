-- +goose Up
-- A tool's findings by severity (the findings listing's default order:
-- sev DESC, asset, rule_id, id): findings_severity holds every tool's,
-- and the tool goes with the image, which is the order's second key, so
-- a page of one tool's findings walked the others' that came first
-- (p50 72 ms, p99 411 ms a page of snyk's at 10M findings on
-- PostgreSQL); several tools are read a page each and merged (sqlstore's
-- Findings), as findings_tool_newest does for the newest order.
-- Deferred like the other listing indexes (sqlstore's deferredIndexes).
CREATE INDEX findings_tool_severity ON findings (tool, sev DESC, asset, rule_id, id);

-- +goose Down
DROP INDEX findings_tool_severity;
