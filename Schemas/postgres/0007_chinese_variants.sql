-- Migration 7: simplified and traditional Chinese match each other in keyword search. kb now folds every
-- traditional character to its simplified form when it analyses text (documents and queries alike). No table
-- changes: when kb applies this version it analyses again, in Swift, the keyword terms (tsvector, postings and
-- term statistics) of every chunk that holds a traditional character, in the same transaction.
SELECT 1;
