-- vanthu schema v1: organisation, accounts, number series, documents, files, audit log, jobs.
-- Times are BIGINT milliseconds since the Unix epoch (UTC); calendar dates are TEXT YYYY-MM-DD
-- (Vietnam local date). The same statements run on SQLite and PostgreSQL except the id columns.

CREATE TABLE agencies (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    abbreviation TEXT NOT NULL,
    parent_name TEXT,
    place_name TEXT,
    created_at BIGINT NOT NULL
);

CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    parent_id BIGINT REFERENCES units (id),
    name TEXT NOT NULL,
    abbreviation TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (agency_id, abbreviation)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    unit_id BIGINT REFERENCES units (id),
    position TEXT,
    roles TEXT NOT NULL,
    locked BIGINT NOT NULL DEFAULT 0,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    password_changed_at BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    ip TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE delegations (
    id INTEGER PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    delegator_id BIGINT NOT NULL REFERENCES users (id),
    delegate_id BIGINT NOT NULL REFERENCES users (id),
    roles TEXT NOT NULL,
    authority TEXT NOT NULL,
    valid_from BIGINT NOT NULL,
    valid_to BIGINT NOT NULL,
    legal_basis TEXT NOT NULL,
    created_by BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE INDEX delegations_delegate ON delegations (delegate_id, valid_to);

CREATE TABLE number_series (
    id INTEGER PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    direction TEXT NOT NULL,
    document_types TEXT NOT NULL,
    advisory_body TEXT,
    created_at BIGINT NOT NULL,
    UNIQUE (agency_id, code)
);

CREATE TABLE series_counters (
    series_id BIGINT NOT NULL REFERENCES number_series (id),
    year BIGINT NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (series_id, year)
);

CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    agency_id BIGINT NOT NULL REFERENCES agencies (id),
    direction TEXT NOT NULL,
    document_type TEXT NOT NULL,
    status TEXT NOT NULL,
    subject TEXT NOT NULL,
    number BIGINT,
    symbol TEXT,
    year BIGINT,
    series_id BIGINT REFERENCES number_series (id),
    issuer_name TEXT,
    issuer_code TEXT,
    issued_on TEXT,
    arrival_number BIGINT,
    arrival_series_id BIGINT REFERENCES number_series (id),
    arrival_year BIGINT,
    arrived_on TEXT,
    urgency TEXT NOT NULL,
    signer_name TEXT,
    signer_position TEXT,
    signing_authority TEXT,
    page_count BIGINT,
    recipients TEXT NOT NULL,
    deadline TEXT,
    unit_id BIGINT REFERENCES units (id),
    external_id TEXT,
    notes TEXT,
    search_text TEXT NOT NULL DEFAULT '',
    duplicate_of BIGINT,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX documents_outgoing_number
    ON documents (agency_id, year, number, symbol)
    WHERE direction = 'outgoing' AND number IS NOT NULL;
CREATE UNIQUE INDEX documents_arrival_number
    ON documents (arrival_series_id, arrival_year, arrival_number)
    WHERE arrival_number IS NOT NULL;
CREATE INDEX documents_incoming_reference ON documents (agency_id, number, symbol);
CREATE INDEX documents_external_id ON documents (agency_id, external_id, direction);
CREATE INDEX documents_listing ON documents (agency_id, direction, id);
CREATE INDEX documents_issued_on ON documents (agency_id, direction, issued_on);
CREATE INDEX documents_arrived_on ON documents (agency_id, arrived_on);

CREATE TABLE document_files (
    id INTEGER PRIMARY KEY,
    document_id BIGINT NOT NULL REFERENCES documents (id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    object_key TEXT NOT NULL,
    verified_at BIGINT,
    created_by BIGINT REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX document_files_document ON document_files (document_id);

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor_id BIGINT,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT,
    ip TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_target ON audit_log (target_kind, target_id);

CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    dedup_key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    run_at BIGINT NOT NULL,
    leased_until BIGINT,
    leased_by TEXT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
