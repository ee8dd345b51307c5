-- The duplicate check on incoming documents (PL VI §III.1.h) gets one partial index per lookup,
-- covering every column it compares. With the old (agency_id, number, symbol) index, PostgreSQL
-- planned the check on a table it had never analysed through (agency_id, direction) and filtered
-- every incoming document of the agency; a partial index that matches the whole predicate is the
-- cheapest plan whatever the statistics say.
DROP INDEX documents_incoming_reference;
DROP INDEX documents_external_id;
CREATE INDEX documents_incoming_duplicate
    ON documents (agency_id, number, symbol, issuer_name)
    WHERE direction = 'incoming';
CREATE INDEX documents_incoming_external_id
    ON documents (agency_id, external_id)
    WHERE direction = 'incoming' AND external_id IS NOT NULL;
