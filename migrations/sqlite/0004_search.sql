-- Full-text search change log. Every insert or update of a document, and every file attached to
-- one, appends a row here in the same transaction as the change. `seq` is taken from the
-- one-row head below, whose row lock is held until commit, so sequence numbers are gapless and
-- committed in order: a reader that has seen seq N has seen every change before it. Each server
-- process keeps its own cursor into this log next to its own index.

CREATE TABLE search_change_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);

CREATE TABLE search_changes (
    seq BIGINT PRIMARY KEY,
    document_id BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Documents that exist before this migration are logged once, in id order.
INSERT INTO search_changes (seq, document_id, created_at)
SELECT id, id, updated_at FROM documents;

INSERT INTO search_change_head (id, seq)
SELECT 1, COALESCE(MAX(seq), 0) FROM search_changes;
