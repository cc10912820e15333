-- Migration 4: people. Users of a shared knowledge base, each with one API token kept only as its SHA-256
-- (the token itself is printed once by `kb token create`). Conversations and ratings record who made them.
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    token_hash TEXT NOT NULL UNIQUE,                  -- hex SHA-256 of the token
    created_at REAL NOT NULL
);

ALTER TABLE conversations ADD COLUMN user_name TEXT;  -- NULL: the owner's (CLI, KB_API_TOKEN, no users)
ALTER TABLE feedback ADD COLUMN user_name TEXT;
CREATE INDEX conversations_user ON conversations (user_name, updated_at);
