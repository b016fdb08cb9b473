// Idempotency-Key on creating requests (api.md "Conventions"; src/modules/idem): the same key
// from the same user within 24 h returns the first answer verbatim and creates nothing new.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { api, newPatient, uniqueEmail, PASSWORD } from './lib/identity.mjs';
import { newStaff } from './lib/staff.mjs';

const ENV = { RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '100000' };
const USERS = '/api/v1/admin/users';
const newKey = () => `k-${crypto.randomBytes(8).toString('hex')}`;

describe('Idempotency-Key', () => {
    let srv, admin;
    before(async () => {
        srv = await startServer({ env: ENV });
        admin = await newStaff(srv, 'admin', ENV);
    });
    after(async () => { await srv?.stop(); });

    const create = (body, key, token = admin.token) =>
        api(srv, 'POST', USERS, { token, body, headers: key === undefined ? {} : { 'Idempotency-Key': key } });
    const countUsers = async (email) => {
        const r = await api(srv, 'GET', `${USERS}?q=${encodeURIComponent(email)}`, { token: admin.token });
        assert.equal(r.status, 200, r.text);
        return r.json.items.filter((u) => u.email === email).length;
    };
    const doctor = (email) => ({ email, name: 'Dr Idem', role: 'doctor', password: PASSWORD });

    test('a retry with the same key and body replays the first answer and creates nothing', async () => {
        const email = uniqueEmail('idem');
        const key = newKey();
        const first = await create(doctor(email), key);
        assert.equal(first.status, 201, first.text);
        assert.equal(first.headers.get('idempotent-replayed'), null);
        const second = await create(doctor(email), key);
        assert.equal(second.status, 201, second.text);
        assert.equal(second.headers.get('idempotent-replayed'), 'true');
        assert.equal(second.text, first.text, 'the body is replayed verbatim');
        assert.equal(second.json.id, first.json.id);
        assert.equal(second.headers.get('content-type'), first.headers.get('content-type'));
        assert.equal(await countUsers(email), 1);
    });

    test('the same key with a different body is 422', async () => {
        const key = newKey();
        const first = await create(doctor(uniqueEmail('idem')), key);
        assert.equal(first.status, 201, first.text);
        const other = await create(doctor(uniqueEmail('idem')), key);
        assert.equal(other.status, 422, other.text);
        assert.match(other.headers.get('content-type'), /problem\+json/);
        assert.equal(other.json.detail, 'Idempotency-Key reused with a different request');
    });

    test('a different key is a new request: a new resource, or 409 for the same e-mail', async () => {
        const email = uniqueEmail('idem');
        const a = await create(doctor(email), newKey());
        assert.equal(a.status, 201, a.text);
        const dup = await create(doctor(email), newKey());
        assert.equal(dup.status, 409, dup.text);
        const b = await create(doctor(uniqueEmail('idem')), newKey());
        assert.equal(b.status, 201, b.text);
        assert.notEqual(b.json.id, a.json.id);
    });

    test('an error answer is not kept: the key can be retried', async () => {
        const email = uniqueEmail('idem');
        const key = newKey();
        const bad = await create({ email, name: 'Dr Idem', role: 'nurse', password: PASSWORD }, key);
        assert.equal(bad.status, 422, bad.text);
        // same key, corrected body: the failed attempt left no row behind
        const good = await create(doctor(email), key);
        assert.equal(good.status, 201, good.text);
        assert.equal(good.headers.get('idempotent-replayed'), null);
    });

    test('keys are per user: another admin with the same key creates its own resource', async () => {
        const other = await newStaff(srv, 'admin', ENV);
        const key = newKey();
        const a = await create(doctor(uniqueEmail('idem')), key);
        const b = await create(doctor(uniqueEmail('idem')), key, other.token);
        assert.equal(a.status, 201, a.text);
        assert.equal(b.status, 201, b.text);
        assert.equal(b.headers.get('idempotent-replayed'), null);
    });

    test('five concurrent requests with one key create exactly one user', async () => {
        const email = uniqueEmail('idem');
        const key = newKey();
        const all = await Promise.all(Array.from({ length: 5 }, () => create(doctor(email), key)));
        for (const r of all) assert.ok(r.status === 201 || r.status === 409, `${r.status} ${r.text}`);
        const created = all.filter((r) => r.status === 201);
        assert.ok(created.length >= 1);
        assert.equal(new Set(created.map((r) => r.json.id)).size, 1);
        assert.equal(created.filter((r) => r.headers.get('idempotent-replayed') === null).length, 1,
                     'the handler ran once');
        assert.equal(await countUsers(email), 1);
    });

    test('a malformed key is 400 and creates nothing', async () => {
        const email = uniqueEmail('idem');
        for (const key of ['bad\tkey', 'x'.repeat(300), '']) {
            const r = await create(doctor(email), key);
            assert.equal(r.status, 400, `${JSON.stringify(key.slice(0, 10))}: ${r.status} ${r.text}`);
            assert.match(r.headers.get('content-type'), /problem\+json/);
        }
        assert.equal(await countUsers(email), 0);
        const max = await create(doctor(email), 'k'.repeat(255));
        assert.equal(max.status, 201, max.text);
    });

    test('a key without a valid token is 401', async () => {
        const r = await create(doctor(uniqueEmail('idem')), newKey(), 'not-a-token');
        assert.equal(r.status, 401, r.text);
    });

    test('care-team assignment honours the key too', async () => {
        const p = await newPatient(srv);
        const d = await newStaff(srv, 'doctor', ENV);
        const team = `/api/v1/patients/${p.login.user.id}/care-team`;
        const key = newKey();
        const post = () => api(srv, 'POST', team, { token: admin.token, body: { doctorId: d.id },
                                                    headers: { 'Idempotency-Key': key } });
        const a = await post();
        assert.equal(a.status, 201, a.text);
        const b = await post(); // without the key this would be 409 (already on the team)
        assert.equal(b.status, 201, b.text);
        assert.equal(b.headers.get('idempotent-replayed'), 'true');
        assert.equal(b.text, a.text);
    });
});
