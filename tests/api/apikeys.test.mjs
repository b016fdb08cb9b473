// API keys for integrations over real HTTP: admins create (key shown once), list (no key
// material) and revoke keys; GET /api/v1/integrations/whoami authenticates with
// "Authorization: ApiKey mck_...". The SQLite file never holds a key in the clear
// (security.md G1 for stored credentials).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startServer, runCli, BACKEND, UUID_RE } from './lib/server.mjs';
import { api, newPatient, uniqueEmail, PASSWORD } from './lib/identity.mjs';

const ENV = { RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '1000', REQUIRE_STAFF_MFA: 'false' };

describe('API keys', () => {
    let srv, admin;
    before(async () => {
        srv = await startServer({ env: ENV });
        const email = uniqueEmail('admin');
        const r = runCli(['user', 'create', '--role', 'admin', '--email', email, '--name', 'Ada Admin'],
                         { tmp: srv.tmp, env: ENV, input: `${PASSWORD}\n` });
        assert.equal(r.status, 0, r.stderr);
        const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
        assert.equal(login.status, 200, login.text);
        admin = login.json.accessToken;
    });
    after(async () => { await srv?.stop(); });

    const whoami = (key, q = '') => api(srv, 'GET', `/api/v1/integrations/whoami${q}`, { headers: key ? { Authorization: `ApiKey ${key}` } : {} });

    test('create → key shown once; list has no key; the key authenticates', async () => {
        const c = await api(srv, 'POST', '/api/v1/admin/api-keys', { token: admin, body: { name: 'Lab LIS', scopes: ['fhir:read', 'labs:write'] } });
        assert.equal(c.status, 201, c.text);
        assert.match(c.json.id, UUID_RE);
        assert.match(c.json.key, /^mck_[A-Za-z0-9_-]{43}$/);
        assert.deepEqual(c.json.scopes, ['fhir:read', 'labs:write']);
        assert.ok(c.json.createdAt);
        const list = await api(srv, 'GET', '/api/v1/admin/api-keys', { token: admin });
        assert.equal(list.status, 200);
        const row = list.json.items.find((k) => k.id === c.json.id);
        assert.ok(row);
        assert.equal(row.name, 'Lab LIS');
        assert.equal(row.key, undefined);
        assert.ok(!list.text.includes(c.json.key), 'the list carries no key material');
        assert.ok(!list.text.includes(c.json.key.slice(4, 20)));

        const me = await whoami(c.json.key);
        assert.equal(me.status, 200, me.text);
        assert.equal(me.json.name, 'Lab LIS');
        assert.deepEqual(me.json.scopes, ['fhir:read', 'labs:write']);
        assert.equal((await whoami(c.json.key, '?scope=fhir:read')).status, 200);
        const noScope = await whoami(c.json.key, '?scope=fhir:write');
        assert.equal(noScope.status, 403, 'a scope the key lacks');
        const used = await api(srv, 'GET', '/api/v1/admin/api-keys', { token: admin });
        assert.ok(used.json.items.find((k) => k.id === c.json.id).lastUsedAt);
    });

    test('the database file never holds the key in the clear', { skip: BACKEND !== 'sqlite' }, async () => {
        const c = await api(srv, 'POST', '/api/v1/admin/api-keys', { token: admin, body: { name: 'dump check', scopes: ['x'] } });
        assert.equal(c.status, 201);
        const dir = path.join(srv.tmp, 'var');
        for (const f of fs.readdirSync(dir).filter((n) => n.startsWith('test.db'))) {
            const bytes = fs.readFileSync(path.join(dir, f));
            assert.equal(bytes.indexOf(c.json.key), -1, `${f} holds the key`);
            assert.equal(bytes.indexOf(c.json.key.slice(4)), -1, `${f} holds the key body`);
        }
    });

    test('revoke → the key no longer authenticates; revoking again is fine; unknown id → 404', async () => {
        const c = await api(srv, 'POST', '/api/v1/admin/api-keys', { token: admin, body: { name: 'short-lived', scopes: ['fhir:read'] } });
        assert.equal((await whoami(c.json.key)).status, 200);
        const d = await api(srv, 'DELETE', `/api/v1/admin/api-keys/${c.json.id}`, { token: admin });
        assert.equal(d.status, 204);
        const after = await whoami(c.json.key);
        assert.equal(after.status, 401);
        assert.match(after.headers.get('www-authenticate') || '', /ApiKey/);
        assert.equal((await api(srv, 'DELETE', `/api/v1/admin/api-keys/${c.json.id}`, { token: admin })).status, 204);
        const list = await api(srv, 'GET', '/api/v1/admin/api-keys', { token: admin });
        assert.ok(list.json.items.find((k) => k.id === c.json.id).revokedAt);
        const missing = await api(srv, 'DELETE', '/api/v1/admin/api-keys/01890a5d-ac96-774b-bcce-b302099a8057', { token: admin });
        assert.equal(missing.status, 404);
    });

    test('no key, a bearer token, a malformed or unknown key → 401', async () => {
        assert.equal((await whoami(null)).status, 401);
        assert.equal((await api(srv, 'GET', '/api/v1/integrations/whoami', { token: admin })).status, 401);
        assert.equal((await whoami('mck_short')).status, 401);
        assert.equal((await whoami('mck_' + 'A'.repeat(43))).status, 401);
    });

    test('patients cannot manage keys; bad input is refused', async () => {
        const p = await newPatient(srv);
        const t = p.login.accessToken;
        assert.equal((await api(srv, 'GET', '/api/v1/admin/api-keys', { token: t })).status, 403);
        assert.equal((await api(srv, 'POST', '/api/v1/admin/api-keys', { token: t, body: { name: 'x', scopes: ['a'] } })).status, 403);
        assert.equal((await api(srv, 'GET', '/api/v1/admin/api-keys')).status, 401);
        const bad = async (body) => (await api(srv, 'POST', '/api/v1/admin/api-keys', { token: admin, body })).status;
        assert.equal(await bad({ name: 'x', scopes: [] }), 422);
        assert.equal(await bad({ name: 'x', scopes: ['UPPER'] }), 422);
        assert.equal(await bad({ name: 'x', scopes: ['a', 'a'] }), 422);
        assert.equal(await bad({ name: 'x', scopes: 'a' }), 400);
        assert.equal(await bad({ name: 'x', scopes: ['a'], key: 'mck_mine' }), 400);
        assert.equal(await bad({ scopes: ['a'] }), 400);
    });
});
