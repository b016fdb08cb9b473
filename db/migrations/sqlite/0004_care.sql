-- 0004_care: who may see a patient's health data besides herself (security.md D2, D5).
-- care_team: a doctor's assignment to a patient; removing it sets removed_at (the row stays
-- as history) and takes effect on the very next request, since every check reads this table.
CREATE TABLE care_team (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL REFERENCES users (id),
    doctor_id TEXT NOT NULL REFERENCES users (id),
    assigned_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    removed_at BIGINT,
    removed_by TEXT REFERENCES users (id)
);
-- at most one active assignment per pair: a second one is a unique violation (409)
CREATE UNIQUE INDEX care_team_active ON care_team (patient_id, doctor_id)
    WHERE removed_at IS NULL;
CREATE INDEX care_team_doctor ON care_team (doctor_id, removed_at);
CREATE INDEX care_team_patient ON care_team (patient_id, removed_at);

-- break_glass: an admin's time-boxed emergency access to one patient's data, with the
-- stated reason (also in the audit log, severity high, and in the patient's access log).
CREATE TABLE break_glass (
    id TEXT PRIMARY KEY,
    admin_id TEXT NOT NULL REFERENCES users (id),
    patient_id TEXT NOT NULL REFERENCES users (id),
    reason TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX break_glass_admin ON break_glass (admin_id, patient_id, expires_at);
CREATE INDEX break_glass_patient ON break_glass (patient_id, created_at);

-- the admin user list filters by role
CREATE INDEX users_role ON users (role, id);
