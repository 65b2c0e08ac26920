-- Entries committed but not yet written to the tables above, in order.
CREATE TABLE journal (
    lsn INTEGER PRIMARY KEY,
    entry TEXT NOT NULL
);
-- The tables hold the state after every entry up to `lsn`.
CREATE TABLE applied (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    lsn INTEGER NOT NULL
);
INSERT INTO applied (id, lsn) VALUES (1, 0);
