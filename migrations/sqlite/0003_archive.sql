-- The archive (issue 5): write-once, content-addressed objects and the metadata records of
-- archived documents. Object keys are relative to the `archive/` prefix of the object store.

-- Every object the archive has written; fixity checks compare the store against these rows.
CREATE TABLE archive_objects (
    id INTEGER PRIMARY KEY,
    object_key TEXT NOT NULL UNIQUE,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    kind TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- One row per archived document: the metadata record (NĐ 30 Phụ lục VI / TT 02/2019) as JSON,
-- and the keys of its JSON and XML objects. A row exists only once every object is stored.
CREATE TABLE archived_documents (
    document_id BIGINT PRIMARY KEY REFERENCES documents (id),
    version BIGINT NOT NULL,
    metadata TEXT NOT NULL,
    metadata_sha256 TEXT NOT NULL,
    metadata_json_key TEXT NOT NULL,
    metadata_xml_key TEXT NOT NULL,
    verification_report_key TEXT,
    archived_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Attached files copied into the archive.
CREATE TABLE archived_files (
    file_id BIGINT PRIMARY KEY REFERENCES document_files (id),
    document_id BIGINT NOT NULL REFERENCES documents (id),
    object_key TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    archived_at BIGINT NOT NULL,
    disposed_at BIGINT
);
CREATE INDEX archived_files_object ON archived_files (object_key);
CREATE INDEX archived_files_document ON archived_files (document_id);

-- Fixity runs (vanthu archive verify, or the server's schedule); the newest is shown in /metrics.
CREATE TABLE archive_fixity_runs (
    id INTEGER PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    sampled BIGINT NOT NULL,
    checked BIGINT NOT NULL,
    missing BIGINT NOT NULL,
    corrupt BIGINT NOT NULL,
    orphaned BIGINT NOT NULL,
    report TEXT NOT NULL
);

-- Records (hồ sơ) of the annual record list (danh mục hồ sơ, NĐ 30 Điều 28–29, Phụ lục V).
-- `year` is FileCatalog (năm hình thành hồ sơ), `notation` FileNotation (số và ký hiệu hồ sơ,
-- e.g. 01.TCCB). Status: planned (in the list) → open → closed → disposed. A disposed record
-- keeps its row and metadata; only the archived file objects of its documents are deleted.
CREATE TABLE records (
    id INTEGER PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    year BIGINT NOT NULL,
    notation TEXT NOT NULL,
    heading TEXT NOT NULL,
    title TEXT NOT NULL,
    retention_code TEXT NOT NULL,
    retention_version TEXT NOT NULL,
    creator_id BIGINT REFERENCES users (id),
    status TEXT NOT NULL,
    start_date TEXT,
    end_date TEXT,
    superseded_on TEXT,
    legal_hold TEXT,
    deposited_at BIGINT,
    disposed_at BIGINT,
    disposed_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (agency_id, year, notation)
);

-- Documents filed into a record, in order (DocOrdinal). A document is in at most one record.
CREATE TABLE record_documents (
    record_id BIGINT NOT NULL REFERENCES records (id),
    document_id BIGINT NOT NULL UNIQUE REFERENCES documents (id),
    ordinal BIGINT NOT NULL,
    filed_by BIGINT REFERENCES users (id),
    filed_at BIGINT NOT NULL,
    PRIMARY KEY (record_id, ordinal)
);
