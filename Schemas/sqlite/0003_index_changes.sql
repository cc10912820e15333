-- Migration 3: a log of changes to chunks and vectors, in commit order.
-- kb searches in-memory indexes (BM25 over the chunks' analysed terms, exact vector search); a process
-- that holds them open (kb serve) reads the log after each commit it has not seen, by any process, and
-- applies just those changes instead of reloading everything. Written by triggers, so no writer can forget.
-- Old entries are pruned after an ingest; a reader that fell behind the pruned point reloads in full.
CREATE TABLE index_changes (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,       -- never reused, so readers can tell what they have seen
    chunk_id INTEGER NOT NULL,
    model    TEXT,                                    -- NULL: the chunk itself; else that model's vector
    change   INTEGER NOT NULL CHECK (change IN (0, 1)) -- 1 added or replaced, 0 removed
);

CREATE TRIGGER chunks_log_insert AFTER INSERT ON chunks BEGIN
    INSERT INTO index_changes (chunk_id, model, change) VALUES (new.id, NULL, 1);
END;
CREATE TRIGGER chunks_log_delete AFTER DELETE ON chunks BEGIN
    INSERT INTO index_changes (chunk_id, model, change) VALUES (old.id, NULL, 0);
END;
CREATE TRIGGER embeddings_log_insert AFTER INSERT ON embeddings BEGIN
    INSERT INTO index_changes (chunk_id, model, change) VALUES (new.chunk_id, new.model, 1);
END;
CREATE TRIGGER embeddings_log_update AFTER UPDATE OF vector ON embeddings BEGIN
    INSERT INTO index_changes (chunk_id, model, change) VALUES (new.chunk_id, new.model, 1);
END;
CREATE TRIGGER embeddings_log_delete AFTER DELETE ON embeddings BEGIN
    INSERT INTO index_changes (chunk_id, model, change) VALUES (old.chunk_id, old.model, 0);
END;
