-- kb knowledge base schema for PostgreSQL (with pgvector), migration 1.
-- The single source of truth for the PostgreSQL layout: kb embeds these files (scripts/generate-schema.sh) and
-- applies pending migrations in order when it opens a database, recording the number applied in kb_schema.
-- The same data as Schemas/sqlite; keyword search keeps kb's own analysed terms (see chunks.terms) and ranks them
-- with BM25 from the statistics below, so both stores rank alike.

CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE kb_schema (
    version integer NOT NULL                       -- migrations applied
);

-- One row per ingested file.
CREATE TABLE documents (
    id           bigserial PRIMARY KEY,
    path         text    NOT NULL UNIQUE,         -- absolute, standardised path
    content_hash text    NOT NULL,                -- SHA-256 (hex) of the file's bytes
    size         bigint  NOT NULL,
    modified_at  double precision NOT NULL,       -- file mtime, seconds since 1970
    format       text    NOT NULL,
    encoding     text,
    title        text,
    fingerprint  text    NOT NULL,                -- loader + chunker settings that produced the chunks
    chunk_count  integer NOT NULL DEFAULT 0,
    ingested_at  double precision NOT NULL
);
CREATE INDEX documents_content_hash ON documents (content_hash);

-- Passages cut from documents. An unchanged chunk keeps its id when its document is re-ingested.
-- terms: kb's analysed terms as one tsvector, written by kb (never parsed by PostgreSQL): weight A marks the
-- `words` field (stems of space-delimited scripts), B `cjk1` (CJK characters), C `cjk2` (CJK bigrams); positions
-- run in term order, so consecutive bigrams are adjacent for phrases (`<->`).
-- term_count: every term of every field (BM25's passage length).
CREATE TABLE chunks (
    id           bigserial PRIMARY KEY,
    document_id  bigint  NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
    ordinal      integer NOT NULL,
    content_hash text    NOT NULL,
    heading      text    NOT NULL DEFAULT '',
    text         text    NOT NULL,
    start_offset integer NOT NULL,                -- Unicode scalar offsets into the document text
    end_offset   integer NOT NULL,
    start_line   integer NOT NULL,
    end_line     integer NOT NULL,
    page         integer,
    token_count  integer NOT NULL,
    terms        tsvector NOT NULL,
    term_count   integer NOT NULL
);
CREATE INDEX chunks_document ON chunks (document_id, ordinal);
CREATE INDEX chunks_content_hash ON chunks (content_hash);
CREATE INDEX chunks_terms ON chunks USING gin (terms);

-- BM25 statistics, kept by kb in the transaction that adds or removes a chunk: chunks containing each term
-- (field 0 words, 1 cjk1, 2 cjk2), and the number of chunks and of their terms.
CREATE TABLE term_stats (
    field  smallint NOT NULL,
    term   text     NOT NULL,
    chunks integer  NOT NULL,
    PRIMARY KEY (field, term)
);
CREATE TABLE corpus_stats (
    id     smallint PRIMARY KEY CHECK (id = 1),
    chunks bigint NOT NULL,
    terms  bigint NOT NULL
);
INSERT INTO corpus_stats VALUES (1, 0, 0);

-- Embedding models; the vectors of model N live in vectors_N (chunk_id bigint primary key referencing chunks,
-- embedding vector(dimension), created_at), created with an HNSW cosine index when the model's first vectors
-- are stored.
CREATE TABLE embedding_models (
    id        serial  PRIMARY KEY,
    model     text    NOT NULL UNIQUE,
    dimension integer NOT NULL
);

-- One row per `kb ingest` run.
CREATE TABLE ingest_runs (
    id          bigserial PRIMARY KEY,
    started_at  double precision NOT NULL,
    finished_at double precision,
    status      text NOT NULL CHECK (status IN ('running', 'completed', 'interrupted', 'failed')),
    roots       text NOT NULL,                     -- JSON array of the paths ingested
    added       integer NOT NULL DEFAULT 0,
    updated     integer NOT NULL DEFAULT 0,
    unchanged   integer NOT NULL DEFAULT 0,
    moved       integer NOT NULL DEFAULT 0,
    removed     integer NOT NULL DEFAULT 0,
    skipped     integer NOT NULL DEFAULT 0,
    failed      integer NOT NULL DEFAULT 0
);

-- Files the last ingests could not read, with the reason.
CREATE TABLE ingest_failures (
    path      text PRIMARY KEY,
    run_id    bigint REFERENCES ingest_runs (id) ON DELETE SET NULL,
    reason    text NOT NULL,
    failed_at double precision NOT NULL
);

-- Conversations, their answers (with standalone question, citations, passages and scores as JSON) and ratings.
CREATE TABLE conversations (
    id         text PRIMARY KEY,
    title      text NOT NULL,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL
);
CREATE TABLE answers (
    id                  text PRIMARY KEY,
    conversation_id     text NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn                integer NOT NULL,
    question            text NOT NULL,
    standalone_question text NOT NULL,
    language            text NOT NULL,
    answer              text NOT NULL,
    abstained           boolean NOT NULL,
    generator           text NOT NULL,
    model               text,
    citations           jsonb NOT NULL,
    passages            jsonb NOT NULL,
    quality             jsonb NOT NULL,
    created_at          double precision NOT NULL,
    UNIQUE (conversation_id, turn)
);
CREATE TABLE feedback (
    id         bigserial PRIMARY KEY,
    answer_id  text NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    rating     smallint NOT NULL CHECK (rating IN (-1, 1)),
    comment    text,
    created_at double precision NOT NULL
);
CREATE INDEX feedback_answer ON feedback (answer_id);

INSERT INTO kb_schema VALUES (1);
