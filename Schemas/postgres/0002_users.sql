-- Migration 2: people. Users of the shared knowledge base, each with one API token kept only as its SHA-256
-- (the token itself is printed once by `kb token create`). Conversations and ratings record who made them.
CREATE TABLE users (
    name       text PRIMARY KEY,
    role       text NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    token_hash text NOT NULL UNIQUE,
    created_at double precision NOT NULL
);

ALTER TABLE conversations ADD COLUMN user_name text;
ALTER TABLE feedback ADD COLUMN user_name text;
CREATE INDEX conversations_user ON conversations (user_name, updated_at);
