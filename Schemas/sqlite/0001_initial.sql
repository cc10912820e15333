-- kb knowledge base schema, migration 1.
-- The single source of truth for the database layout: kb embeds these files (see
-- scripts/generate-schema.sh) and applies pending migrations in order when it opens a database,
-- recording the number applied in PRAGMA user_version.

-- One row per ingested file.
CREATE TABLE documents (
    id           INTEGER PRIMARY KEY,
    path         TEXT    NOT NULL UNIQUE,            -- absolute, standardised path
    content_hash TEXT    NOT NULL,                   -- SHA-256 (hex) of the file's bytes
    size         INTEGER NOT NULL,                   -- bytes
    modified_at  REAL    NOT NULL,                   -- file mtime, seconds since 1970
    format       TEXT    NOT NULL,                   -- loader format: text, markdown, html, xml
    encoding     TEXT,                               -- detected source encoding
    title        TEXT,
    fingerprint  TEXT    NOT NULL,                   -- loader + chunker settings that produced the chunks
    chunk_count  INTEGER NOT NULL DEFAULT 0,
    ingested_at  REAL    NOT NULL
);
CREATE INDEX documents_content_hash ON documents (content_hash);

-- Passages cut from documents. An unchanged chunk keeps its id when its document is re-ingested.
CREATE TABLE chunks (
    id           INTEGER PRIMARY KEY,
    document_id  INTEGER NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal      INTEGER NOT NULL,                   -- position in the document, from 0
    content_hash TEXT    NOT NULL,                   -- hash of heading and text
    heading      TEXT    NOT NULL DEFAULT '',        -- heading path, "Guide > Ingest"
    text         TEXT    NOT NULL,
    start_offset INTEGER NOT NULL,                   -- Unicode scalar offsets into the document text
    end_offset   INTEGER NOT NULL,
    start_line   INTEGER NOT NULL,                   -- 1-based, inclusive
    end_line     INTEGER NOT NULL,
    page         INTEGER,                            -- 1-based, paged formats only
    token_count  INTEGER NOT NULL
);
CREATE INDEX chunks_document ON chunks (document_id, ordinal);
CREATE INDEX chunks_content_hash ON chunks (content_hash);

-- Keyword index. rowid = chunks.id. Columns hold analysed terms written by kb, not raw text:
-- words: folded, Porter-stemmed words of space-delimited scripts;
-- cjk1:  CJK characters (unigrams); cjk2: overlapping CJK bigrams.
-- Rows are written with their chunk in the same transaction and removed by the trigger below.
CREATE VIRTUAL TABLE chunks_fts USING fts5 (
    words, cjk1, cjk2,
    tokenize = 'unicode61 remove_diacritics 2'
);
-- BM25 column weights: bigram and word matches count fully, single characters less.
INSERT INTO chunks_fts (chunks_fts, rank) VALUES ('rank', 'bm25(1.0, 0.4, 1.0)');
CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab (chunks_fts, 'row');

CREATE TRIGGER chunks_delete_fts AFTER DELETE ON chunks BEGIN
    DELETE FROM chunks_fts WHERE rowid = old.id;
END;

-- Embedding vectors, one per chunk and model: little-endian float32, `dimension` values.
CREATE TABLE embeddings (
    chunk_id   INTEGER NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    model      TEXT    NOT NULL,
    dimension  INTEGER NOT NULL,
    vector     BLOB    NOT NULL,
    created_at REAL    NOT NULL,
    PRIMARY KEY (chunk_id, model)
) WITHOUT ROWID;
CREATE INDEX embeddings_model ON embeddings (model);

-- One row per `kb ingest` run.
CREATE TABLE ingest_runs (
    id          INTEGER PRIMARY KEY,
    started_at  REAL    NOT NULL,
    finished_at REAL,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    roots       TEXT    NOT NULL,                    -- JSON array of the paths ingested
    added       INTEGER NOT NULL DEFAULT 0,
    updated     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    moved       INTEGER NOT NULL DEFAULT 0,
    removed     INTEGER NOT NULL DEFAULT 0,
    skipped     INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0
);

-- Files the latest run could not ingest, with the reason. Cleared when the file ingests or disappears.
CREATE TABLE ingest_failures (
    path      TEXT PRIMARY KEY,
    run_id    INTEGER REFERENCES ingest_runs (id) ON DELETE SET NULL,
    reason    TEXT NOT NULL,
    failed_at REAL NOT NULL
);
