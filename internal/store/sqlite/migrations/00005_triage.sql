-- +goose Up
-- The version of ctem's parser that read each scan's input.
ALTER TABLE scans ADD COLUMN parser_version TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE scans DROP COLUMN parser_version;
