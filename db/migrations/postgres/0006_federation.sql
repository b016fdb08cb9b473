-- 0006_federation: sign-in with Google / Apple (accounts keyed on the issuer and subject
-- of the ID token, security.md C2) and API keys for integrations (stored encrypted,
-- looked up by their SHA-256).
CREATE TABLE user_identities (
    provider TEXT NOT NULL CHECK (provider IN ('google', 'apple')),
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    email TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scopes TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    key_nonce TEXT NOT NULL,
    key_ciphertext TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
