-- 0005_mfa: the TOTP second factor. One secret per user (sealed with a key derived from
-- API_KEY_ENCRYPTION_SECRET; enabled once a first code is confirmed), the last accepted
-- time step (a step is used once), single-use recovery codes stored as salted SHA-256,
-- and the short-lived challenges a login answers with instead of tokens.
CREATE TABLE mfa_totp (
    user_id TEXT PRIMARY KEY REFERENCES users (id),
    secret_enc TEXT NOT NULL,
    enabled_at BIGINT,
    last_step BIGINT NOT NULL DEFAULT -1
);

CREATE TABLE mfa_recovery_codes (
    code_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    used_at BIGINT
);
CREATE INDEX mfa_recovery_codes_user ON mfa_recovery_codes (user_id);

CREATE TABLE mfa_challenges (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    purpose TEXT NOT NULL CHECK (purpose IN ('login', 'enroll')),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX mfa_challenges_user ON mfa_challenges (user_id);
