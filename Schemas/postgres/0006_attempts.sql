-- Migration 6: the attempts behind each stored answer. When the first answer fails its check, kb repairs it
-- (best passage, quoting, restating the question, extractive), so `attempts` keeps every try in order as JSON:
-- [{"strategy","passages","question","text","rejected","groundedness","relevance","seconds"}], `rejected`
-- null for the attempt kept. Answers saved before this migration have none ('[]').
ALTER TABLE answers ADD COLUMN attempts jsonb NOT NULL DEFAULT '[]'::jsonb;
