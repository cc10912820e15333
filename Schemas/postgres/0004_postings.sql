-- Migration 4: posting lists for keyword search. Each chunk's terms, per field, with their frequency and the
-- chunk's length, written in the chunk's transaction and gone with it. A query of single terms reads only the
-- postings of its terms (an index range per term) instead of unnesting the tsvector of every candidate chunk;
-- the tsvector stays for phrases (positions) and as the GIN candidate index.
CREATE TABLE postings (
    field    smallint NOT NULL,
    term     text     NOT NULL,
    chunk_id bigint   NOT NULL REFERENCES chunks (id) ON DELETE CASCADE,
    tf       real     NOT NULL,
    length   integer  NOT NULL,
    PRIMARY KEY (field, term, chunk_id)
);
CREATE INDEX postings_chunk ON postings (chunk_id);
INSERT INTO postings (field, term, chunk_id, tf, length)
SELECT CASE w WHEN 'A' THEN 0 WHEN 'B' THEN 1 ELSE 2 END, u.lexeme, c.id, count(*), c.term_count
FROM chunks c, unnest(c.terms) u, unnest(u.weights) w
GROUP BY 1, 2, 3, 5;
