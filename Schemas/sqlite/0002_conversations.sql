-- Dialogue management and feedback: every answer kb gives is kept, in a conversation, and can be rated.

-- A conversation: the turns of `kb chat`, or of `kb ask --conversation ID`.
CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,                      -- c_ and 16 hex digits
    title      TEXT NOT NULL,                         -- the first question, shortened
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

-- One answer: the question as asked, the standalone question kb searched with, what it answered and why.
CREATE TABLE answers (
    id                  TEXT PRIMARY KEY,             -- a_ and 16 hex digits (the answer_id users rate)
    conversation_id     TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    turn                INTEGER NOT NULL,             -- 1-based position in the conversation
    question            TEXT NOT NULL,
    standalone_question TEXT NOT NULL,                -- equals question unless it was rewritten
    language            TEXT NOT NULL,
    answer              TEXT NOT NULL,
    abstained           INTEGER NOT NULL CHECK (abstained IN (0, 1)),
    generator           TEXT NOT NULL,
    model               TEXT,
    citations           TEXT NOT NULL,                -- JSON: [{"id","path","chunk_id","start_line","end_line","page","supported"}]
    passages            TEXT NOT NULL,                -- JSON: the retrieved passages [{"rank","path","chunk_id","score","heading"}]
    quality             TEXT NOT NULL,                -- JSON: the quality scores
    created_at          REAL NOT NULL,
    UNIQUE (conversation_id, turn)
);
CREATE INDEX answers_created ON answers (created_at);

-- Ratings of answers: +1 (up) or -1 (down), with an optional comment.
CREATE TABLE feedback (
    id         INTEGER PRIMARY KEY,
    answer_id  TEXT NOT NULL REFERENCES answers (id) ON DELETE CASCADE,
    rating     INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    comment    TEXT,
    created_at REAL NOT NULL
);
CREATE INDEX feedback_answer ON feedback (answer_id);
CREATE INDEX feedback_created ON feedback (created_at);
