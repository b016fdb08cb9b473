-- 0001_init: application metadata and the clinic's public settings.
CREATE TABLE app_meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE clinic_settings (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone TEXT NOT NULL,
    phone TEXT,
    email TEXT,
    address TEXT,
    emergency_phone TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);

-- The clinic a fresh install serves until an admin renames it.
INSERT INTO clinic_settings (id, name, timezone, created_at, updated_at)
VALUES ('019ae4a0-0000-7000-8000-000000000001', 'Mimicare Clinic', 'UTC', 0, 0);
