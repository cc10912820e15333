-- Migration 3: a counter of committed changes to chunks and vectors, raised in the same transaction as each
-- change. Search needs the chunk and vector counts on every query; a daemon keeps them and recounts only when
-- the counter moved (by any writer), instead of counting a million rows per search.
ALTER TABLE corpus_stats ADD COLUMN version bigint NOT NULL DEFAULT 0;
