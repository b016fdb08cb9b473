-- 0007_idempotency: the first answer to a creating request sent with an Idempotency-Key
-- (api.md "Conventions"), replayed to the same user's retries for 24 hours. A row with
-- status 0 is a placeholder: the first request is still running. Rows older than 24 h are
-- ignored and deleted lazily (src/modules/idem/idem.c).
CREATE TABLE idempotency_keys (
    user_id TEXT NOT NULL REFERENCES users (id),
    key TEXT NOT NULL,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    request_hash TEXT NOT NULL, -- hex SHA-256 of the request body
    status INTEGER NOT NULL,    -- 0 while the first request runs
    content_type TEXT,
    body TEXT,
    etag TEXT,
    location TEXT,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, key)
);
