-- 0002_audit: the tamper-evident audit log (docs/design.md "Audit log").
-- audit_events is append-only: every row carries hash = HMAC-SHA256(AUDIT_HMAC_SECRET,
-- prev_hash || "\n" || canonical row) computed by src/modules/audit/audit.c, so a change
-- made with direct database access shows up in `mimicare audit verify`. The triggers
-- below refuse UPDATE and DELETE from the application; they do not stop an owner who
-- drops them, which is what the hash chain and the checkpoint file are for.
-- seq is INTEGER PRIMARY KEY (SQLite's 64-bit rowid alias, no extra index).
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY CHECK (seq >= 1),
    id TEXT NOT NULL UNIQUE,
    at BIGINT NOT NULL,
    actor_id TEXT,
    actor_role TEXT,
    action TEXT NOT NULL,
    resource_type TEXT,
    resource_id TEXT,
    patient_id TEXT,
    outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    severity TEXT NOT NULL CHECK (severity IN ('info', 'high')),
    ip TEXT,
    request_id TEXT,
    detail TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_events_patient_at ON audit_events (patient_id, at);
CREATE INDEX audit_events_actor_at ON audit_events (actor_id, at);
CREATE INDEX audit_events_action_at ON audit_events (action, at);

-- The chain's head: the last seq and its hash. Appends read and advance it inside the
-- caller's transaction (BEGIN IMMEDIATE already serialises SQLite writers).
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused');
END;

-- A row may only extend the chain: its seq follows the head's.
CREATE TRIGGER audit_events_in_order BEFORE INSERT ON audit_events
WHEN NEW.seq IS NOT (SELECT seq FROM audit_head WHERE id = 1) + 1
BEGIN
    SELECT RAISE(ABORT, 'audit_events: seq must follow audit_head');
END;

-- The head only moves forward by one, onto the row just inserted.
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
WHEN NEW.id IS NOT OLD.id OR NEW.seq IS NOT OLD.seq + 1
  OR NEW.hash IS NOT (SELECT hash FROM audit_events WHERE seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'audit_head may only advance to the newest audit event');
END;

CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'audit_head cannot be deleted');
END;
