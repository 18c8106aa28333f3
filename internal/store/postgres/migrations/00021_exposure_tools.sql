-- +goose Up
-- The tools that report each exposure, one row an (exposure, tool), for
-- the exposures listing's tool filter (sqlstore's query.go): an exposure
-- was selected through its findings, and at 10M findings on PostgreSQL a
-- page of a common tool's exposures walked the severity order probing
-- each exposure's findings, or read every finding of the tool first
-- (5.5 to 15.6 s a page, measured in an earlier session). Keyed by tool
-- first: a tool's exposures are one range of the key (a rare tool is
-- read first), and an exposure's row for the tools asked is one lookup
-- per tool (a common tool is checked while walking the listing's order). The ingest adds the rows
-- of the findings a scan writes, in the scan's transaction; removing a
-- scan deletes those no finding supports any more. A finding's tool and
-- exposure never change (both are part of its id).
--
-- Each row also holds its exposure's first sighting, which never changes
-- either: exposure_tools_newest orders a tool's exposures newest first,
-- as exposures_newest orders all, so that a page of a tool's exposures
-- in that order is a range of it. A tool's exposures are not spread
-- evenly through the newest order (a tool's scans come when they come):
-- walking exposures_newest, a page of a tool whose exposures were the
-- oldest took 2.8 to 4.1 s at 300,000 exposures; through this index a
-- page of one tool's newest takes 3 to 15 ms at 10M (p99, PostgreSQL).
CREATE TABLE exposure_tools (
  tool        TEXT COLLATE "C" NOT NULL,
  exposure_id TEXT COLLATE "C" NOT NULL,
  exposure_first_seen BIGINT,
  PRIMARY KEY (tool, exposure_id)
);
INSERT INTO exposure_tools (tool, exposure_id, exposure_first_seen)
SELECT t.tool, t.exposure_id, x.first_seen
FROM (SELECT DISTINCT tool, exposure_id FROM findings WHERE exposure_id <> '') t JOIN exposures x ON x.id = t.exposure_id
ORDER BY t.tool, t.exposure_id;
CREATE INDEX exposure_tools_newest ON exposure_tools (tool, exposure_first_seen DESC, exposure_id);

-- A tool's findings newest first: findings_newest holds the tools' in
-- the order their scans came, and a page of a tool whose scans are
-- older than others' walked the others' first.
CREATE INDEX findings_tool_newest ON findings (tool, first_seen DESC, id);

-- +goose Down
DROP INDEX findings_tool_newest;
DROP TABLE exposure_tools;
