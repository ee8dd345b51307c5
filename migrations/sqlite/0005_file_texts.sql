-- Text extracted from stored files for the search index, keyed by the content's SHA-256: a file
-- is read and parsed once however often its document is re-indexed, and two documents carrying
-- the same file share the entry. `state` is 'text', 'no_text_layer' (e.g. a scan) or
-- 'unreadable' (damaged, encrypted, over a size limit, timed out); `note` says why for the last.
-- `vanthu reindex --re-extract` empties this table and reads every file again.

CREATE TABLE file_texts (
    sha256 TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    body TEXT NOT NULL,
    truncated INTEGER NOT NULL DEFAULT 0,
    note TEXT,
    extracted_at BIGINT NOT NULL
);
