-- 0002_audit: the tamper-evident audit log (docs/design.md "Audit log").
-- audit_events is append-only: every row carries hash = HMAC-SHA256(AUDIT_HMAC_SECRET,
-- prev_hash || "\n" || canonical row) computed by src/modules/audit/audit.c, so a change
-- made with direct database access shows up in `mimicare audit verify`. The triggers
-- below refuse UPDATE, DELETE and TRUNCATE from the application; they do not stop an
-- owner who disables them, which is what the hash chain and the checkpoint file are for.
CREATE TABLE audit_events (
    seq BIGINT PRIMARY KEY CHECK (seq >= 1),
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

-- The chain's head: the last seq and its hash. Appends lock it (SELECT ... FOR UPDATE)
-- inside the caller's transaction, which serialises them across connections and hosts.
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END
$$;

-- A row may only extend the chain: its seq follows the head's.
CREATE FUNCTION audit_check_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.seq IS DISTINCT FROM (SELECT seq + 1 FROM audit_head WHERE id = 1) THEN
        RAISE EXCEPTION 'audit_events: seq must follow audit_head'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

-- The head only moves forward by one, onto the row just inserted.
CREATE FUNCTION audit_check_head() RETURNS trigger
LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.seq IS DISTINCT FROM OLD.seq + 1
       OR NEW.hash IS DISTINCT FROM (SELECT hash FROM audit_events WHERE seq = NEW.seq) THEN
        RAISE EXCEPTION 'audit_head may only advance to the newest audit event'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_events_in_order BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_check_insert();
CREATE TRIGGER audit_head_forward_only BEFORE UPDATE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_check_head();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
