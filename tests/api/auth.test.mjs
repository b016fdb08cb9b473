// Identity over real HTTP: registration with e-mail confirmation, the password policy,
// login without account enumeration, lockout, access tokens bound to server-side
// sessions, refresh rotation with reuse detection, logout and session management.
// security.md A1, A2, A4, A5, B1 (HTTP side), B2, B5, B6, B7, B8, B9.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, runCli } from './lib/server.mjs';
import { api, newPatient, uniqueEmail, codeFor, outbox, setClock, PASSWORD } from './lib/identity.mjs';

const ENV = { RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '1000', REFRESH_REUSE_GRACE: '1s' };

describe('registration and login', () => {
    let srv;
    before(async () => { srv = await startServer({ env: ENV }); });
    after(async () => { await srv?.stop(); });

    test('register → confirmation e-mail → verify → login → /me', async () => {
        const email = uniqueEmail();
        const reg = await api(srv, 'POST', '/api/v1/auth/register', { body: { email, password: PASSWORD, name: 'Amina' } });
        assert.equal(reg.status, 202);
        const early = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
        assert.equal(early.status, 403, 'an unconfirmed patient cannot log in');
        const code = codeFor(srv.tmp, email);
        assert.match(code, /^mce_/);
        const v = await api(srv, 'POST', '/api/v1/auth/verify-email', { body: { token: code } });
        assert.equal(v.status, 200);
        const again = await api(srv, 'POST', '/api/v1/auth/verify-email', { body: { token: code } });
        assert.equal(again.status, 400, 'a code works once');
        const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: email.toUpperCase(), password: PASSWORD } });
        assert.equal(login.status, 200, login.text);
        assert.equal(login.json.tokenType, 'Bearer');
        assert.equal(login.json.expiresIn, 900);
        assert.match(login.json.refreshToken, /^mcr_/);
        assert.equal(login.json.user.email, email);
        assert.equal(login.json.user.role, 'patient');
        assert.equal(login.json.user.password_hash, undefined);
        const me = await api(srv, 'GET', '/api/v1/me', { token: login.json.accessToken });
        assert.equal(me.status, 200);
        assert.equal(me.json.id, login.json.user.id);
        assert.equal(me.headers.get('cache-control'), 'no-store');
    });

    test('password policy: 11 → 400, 12 → ok, 129 → 400, breached → 400, no truncation', async () => {
        const r11 = await api(srv, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: 'abcdefghijk', name: 'x' } });
        assert.equal(r11.status, 400);
        assert.equal(r11.json.errors[0].field, 'password');
        const r129 = await api(srv, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: 'a'.repeat(64) + 'b'.repeat(65), name: 'x' } });
        assert.equal(r129.status, 400);
        const breached = await api(srv, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: 'password1234', name: 'x' } });
        assert.equal(breached.status, 400);
        assert.match(breached.json.errors[0].message, /breached/);
        const emoji = '👶 my baby girl 2026 ✨';
        const p = await newPatient(srv, { password: emoji });
        const trunc = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: emoji.slice(0, -1) } });
        assert.equal(trunc.status, 401, 'the password minus its last character must fail');
        const r64 = await newPatient(srv, { password: 'Q7'.repeat(32) });
        assert.ok(r64.login.accessToken);
    });

    test('mass assignment and unknown fields are refused', async () => {
        const r = await api(srv, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: PASSWORD, name: 'x', role: 'admin' } });
        assert.equal(r.status, 400);
        assert.ok(r.json.errors.some((e) => e.field === 'role'));
    });

    test('registering a taken address answers exactly like a new one (no enumeration)', async () => {
        const p = await newPatient(srv);
        const dup = await api(srv, 'POST', '/api/v1/auth/register', { body: { email: p.email, password: PASSWORD, name: 'x' } });
        const fresh = await api(srv, 'POST', '/api/v1/auth/register', { body: { email: uniqueEmail(), password: PASSWORD, name: 'x' } });
        assert.equal(dup.status, fresh.status);
        assert.deepEqual(dup.json, fresh.json);
        const mails = outbox(srv.tmp).filter((m) => m.to.includes(p.email));
        assert.ok(mails.some((m) => /tried to create/.test(m.body)), 'the owner is told about the attempt');
    });

    test('unknown e-mail and wrong password look the same', async () => {
        const p = await newPatient(srv);
        const wrong = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: 'not the right one!' } });
        const unknown = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: uniqueEmail(), password: 'not the right one!' } });
        assert.equal(wrong.status, 401);
        assert.equal(unknown.status, 401);
        const strip = (j) => ({ ...j, requestId: undefined });
        assert.deepEqual(strip(wrong.json), strip(unknown.json));
        const names = (h) => [...h.keys()].filter((k) => !['date', 'x-request-id', 'content-length'].includes(k)).sort();
        assert.deepEqual(names(wrong.headers), names(unknown.headers));
    });
});

describe('lockout', () => {
    let srv;
    before(async () => { srv = await startServer({ env: { ...ENV, MAX_LOGIN_ATTEMPTS: '5' } }); });
    after(async () => { await srv?.stop(); });

    test('5 failures lock the account: the 6th attempt, even correct, gets 429 + Retry-After', async () => {
        const p = await newPatient(srv);
        for (let i = 0; i < 5; i++) {
            const r = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: `wrong password ${i}` } });
            assert.equal(r.status, 401, `attempt ${i + 1}`);
        }
        const r = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: PASSWORD } });
        assert.equal(r.status, 429);
        const retry = Number(r.headers.get('retry-after'));
        assert.ok(retry > 0 && retry <= 1800, `Retry-After ${retry}`);
    });

    test('an unknown address is locked the same way', async () => {
        const email = uniqueEmail('ghost');
        for (let i = 0; i < 5; i++) {
            const r = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: `wrong password ${i}` } });
            assert.equal(r.status, 401);
        }
        const r = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
        assert.equal(r.status, 429);
        assert.ok(r.headers.get('retry-after'));
    });
});

describe('tokens and sessions', () => {
    let srv;
    before(async () => { srv = await startServer({ env: ENV }); });
    after(async () => { await srv?.stop(); });

    test('missing, malformed, tampered and query-string tokens → 401 with WWW-Authenticate', async () => {
        const p = await newPatient(srv);
        const good = p.login.accessToken;
        const none = await api(srv, 'GET', '/api/v1/me');
        assert.equal(none.status, 401);
        assert.match(none.headers.get('www-authenticate'), /^Bearer /);
        const [h, pl, s] = good.split('.');
        const flipped = `${h}.${pl.slice(0, 10)}${pl[10] === 'A' ? 'B' : 'A'}${pl.slice(11)}.${s}`;
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: flipped })).status, 401);
        const algNone = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${pl}.`;
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: algNone })).status, 401);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: p.login.refreshToken })).status, 401);
        const q = await fetch(`${srv.url}/api/v1/me?access_token=${good}`);
        assert.equal(q.status, 401, 'a token in the URL is ignored (B8)');
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: good })).status, 200);
    });

    test('refresh rotates; replaying the old token after the grace window revokes the family', async () => {
        const p = await newPatient(srv);
        const r1 = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: p.login.refreshToken } });
        assert.equal(r1.status, 200, r1.text);
        assert.notEqual(r1.json.refreshToken, p.login.refreshToken);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: r1.json.accessToken })).status, 200);
        await new Promise((r) => setTimeout(r, 1200));
        const replay = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: p.login.refreshToken } });
        assert.equal(replay.status, 401);
        assert.match(replay.json.detail, /invalid_grant/);
        const newest = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: r1.json.refreshToken } });
        assert.equal(newest.status, 401, 'the newest refresh token of the family is dead too');
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: r1.json.accessToken })).status, 401,
            'outstanding access tokens of the family are dead too');
    });

    test('5 concurrent refreshes with one token rotate exactly once', async () => {
        const p = await newPatient(srv);
        const rs = await Promise.all(Array.from({ length: 5 }, () =>
            api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: p.login.refreshToken } })));
        const ok = rs.filter((r) => r.status === 200);
        assert.equal(ok.length, 1, rs.map((r) => r.status).join(','));
        for (const r of rs) if (r.status !== 200) assert.equal(r.status, 409);
        const next = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: ok[0].json.refreshToken } });
        assert.equal(next.status, 200, 'the one family lives on');
    });

    test('logout revokes the still-valid access token at once; logout-all revokes every session', async () => {
        const p = await newPatient(srv);
        const second = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: PASSWORD } });
        assert.equal((await api(srv, 'POST', '/api/v1/auth/logout', { token: p.login.accessToken })).status, 204);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken })).status, 401);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: second.json.accessToken })).status, 200);
        const third = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: PASSWORD } });
        assert.equal((await api(srv, 'POST', '/api/v1/auth/logout-all', { token: third.json.accessToken })).status, 204);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: second.json.accessToken })).status, 401);
        const rf = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: second.json.refreshToken } });
        assert.equal(rf.status, 401);
    });

    test('sessions: list own, revoke own, another user\'s session id → 404', async () => {
        const a = await newPatient(srv);
        const b = await newPatient(srv);
        const list = await api(srv, 'GET', '/api/v1/auth/sessions', { token: a.login.accessToken });
        assert.equal(list.status, 200);
        assert.equal(list.json.items.length, 1);
        assert.equal(list.json.items[0].current, true);
        const other = await api(srv, 'DELETE', `/api/v1/auth/sessions/${b.login.sessionId}`, { token: a.login.accessToken });
        assert.equal(other.status, 404);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: b.login.accessToken })).status, 200);
        const own = await api(srv, 'DELETE', `/api/v1/auth/sessions/${a.login.sessionId}`, { token: a.login.accessToken });
        assert.equal(own.status, 204);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: a.login.accessToken })).status, 401);
    });

    test('no token or password reaches the logs (B7)', async () => {
        const p = await newPatient(srv);
        await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken });
        const text = srv.stderr();
        assert.ok(!text.includes('eyJ'), 'a JWT in the log');
        assert.ok(!text.includes('Bearer '), 'a bearer header in the log');
        assert.ok(!text.includes(p.login.refreshToken));
        assert.ok(!text.includes(PASSWORD));
    });
});

describe('time: idle timeout, absolute age, lockout expiry (clock moved, not slept)', () => {
    let srv;
    const MIN = 60 * 1000;
    before(async () => { srv = await startServer({ env: { ...ENV, SESSION_TIMEOUT: '30m', SESSION_MAX_AGE: '12h' } }); });
    after(async () => { await setClock(srv, 0); await srv?.stop(); });

    test('B3: a request at 1799 s keeps the session; 1801 s of silence ends it (access and refresh)', async () => {
        await setClock(srv, 0);
        const p = await newPatient(srv);
        await setClock(srv, 1799 * 1000);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken })).status, 401,
            'the 15-minute access token itself has expired by now');
        const r = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: p.login.refreshToken } });
        assert.equal(r.status, 200, 'at 1799 s the session is alive');
        await setClock(srv, (1799 + 1801) * 1000);
        const me = await api(srv, 'GET', '/api/v1/me', { token: r.json.accessToken });
        assert.equal(me.status, 401, 'idle for 1801 s');
        const r2 = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: r.json.refreshToken } });
        assert.equal(r2.status, 401);
    });

    test('B4: past SESSION_MAX_AGE the session ends even when active', async () => {
        await setClock(srv, 0);
        const p = await newPatient(srv);
        let refresh = p.login.refreshToken;
        for (let t = 20; t < 12 * 60; t += 20) { // active every 20 minutes
            await setClock(srv, t * MIN);
            const r = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: refresh } });
            assert.equal(r.status, 200, `at ${t} min`);
            refresh = r.json.refreshToken;
        }
        await setClock(srv, (12 * 60 + 1) * MIN);
        const r = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: refresh } });
        assert.equal(r.status, 401, 'after 12 h the user must log in again');
    });

    test('A5: a lockout ends after LOCKOUT_DURATION and the right password works again', async () => {
        await setClock(srv, 0);
        const p = await newPatient(srv);
        for (let i = 0; i < 5; i++) await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: `wrong password ${i}` } });
        assert.equal((await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: PASSWORD } })).status, 429);
        await setClock(srv, 1801 * 1000);
        const ok = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: PASSWORD } });
        assert.equal(ok.status, 200, 'unlocked at t + 1800 s');
        const wrong = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: 'wrong again 1' } });
        assert.equal(wrong.status, 401, 'the counter was reset by the success');
    });
});

describe('account', () => {
    let srv;
    before(async () => { srv = await startServer({ env: { ...ENV, MAX_LOGIN_ATTEMPTS: '5' } }); });
    after(async () => { await srv?.stop(); });

    test('PATCH /me changes allowed fields, refuses role/id (mass assignment) and honours If-Match', async () => {
        const p = await newPatient(srv);
        const t = p.login.accessToken;
        const me = await api(srv, 'GET', '/api/v1/me', { token: t });
        const ok = await api(srv, 'PATCH', '/api/v1/me', { token: t, body: { name: "Zawadi O'Neil; DROP TABLE users;--", timezone: 'Africa/Nairobi' }, headers: { 'If-Match': me.headers.get('etag') } });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.name, "Zawadi O'Neil; DROP TABLE users;--");
        assert.equal(ok.json.version, me.json.version + 1);
        const stale = await api(srv, 'PATCH', '/api/v1/me', { token: t, body: { name: 'x' }, headers: { 'If-Match': me.headers.get('etag') } });
        assert.equal(stale.status, 412);
        const mass = await api(srv, 'PATCH', '/api/v1/me', { token: t, body: { role: 'admin', id: 'x' } });
        assert.equal(mass.status, 400);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: t })).json.role, 'patient');
        const type = await api(srv, 'PATCH', '/api/v1/me', { token: t, body: { name: 42 } });
        assert.equal(type.status, 400);
    });

    test('password change needs the current password and signs out the other sessions', async () => {
        const p = await newPatient(srv);
        const other = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: PASSWORD } });
        const noCur = await api(srv, 'POST', '/api/v1/auth/password/change', { token: p.login.accessToken, body: { newPassword: 'a brand new passphrase' } });
        assert.equal(noCur.status, 400);
        const wrong = await api(srv, 'POST', '/api/v1/auth/password/change', { token: p.login.accessToken, body: { currentPassword: 'nope nope nope', newPassword: 'a brand new passphrase' } });
        assert.equal(wrong.status, 400);
        const ok = await api(srv, 'POST', '/api/v1/auth/password/change', { token: p.login.accessToken, body: { currentPassword: PASSWORD, newPassword: 'a brand new passphrase' } });
        assert.equal(ok.status, 204, ok.text);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: other.json.accessToken })).status, 401);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken })).status, 200);
        const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: 'a brand new passphrase' } });
        assert.equal(login.status, 200);
    });

    test('forgot/reset: same answer for unknown addresses; a single-use code; reset unlocks a locked account', async () => {
        const p = await newPatient(srv);
        const unknown = await api(srv, 'POST', '/api/v1/auth/password/forgot', { body: { email: uniqueEmail() } });
        for (let i = 0; i < 5; i++) await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: `wrong password ${i}` } });
        assert.equal((await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: PASSWORD } })).status, 429);
        const known = await api(srv, 'POST', '/api/v1/auth/password/forgot', { body: { email: p.email } });
        assert.equal(known.status, 202);
        assert.equal(unknown.status, 202);
        assert.deepEqual(known.json, unknown.json);
        const code = codeFor(srv.tmp, p.email);
        const weak = await api(srv, 'POST', '/api/v1/auth/password/reset', { body: { token: code, newPassword: 'password1234' } });
        assert.equal(weak.status, 400);
        const reset = await api(srv, 'POST', '/api/v1/auth/password/reset', { body: { token: code, newPassword: 'reset passphrase 2026' } });
        assert.equal(reset.status, 200, reset.text);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken })).status, 401, 'sessions revoked');
        const again = await api(srv, 'POST', '/api/v1/auth/password/reset', { body: { token: code, newPassword: 'another passphrase 2026' } });
        assert.equal(again.status, 400, 'the code works once');
        const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: 'reset passphrase 2026' } });
        assert.equal(login.status, 200, 'the reset unlocked the account (A6)');
    });
});

describe('mimicare user create', () => {
    test('creates a verified account that can log in; audit chain stays intact', async () => {
        const srv = await startServer({ env: { ...ENV } });
        try {
            const email = uniqueEmail('dr');
            const r = await runCli(['user', 'create', '--role', 'patient', '--email', email, '--name', 'Dr Who'], { tmp: srv.tmp, env: ENV, input: `${PASSWORD}\n` });
            assert.equal(r.status, 0, r.stderr);
            const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
            assert.equal(login.status, 200, login.text);
            const bad = await runCli(['user', 'create', '--role', 'king', '--email', uniqueEmail(), '--name', 'x'], { tmp: srv.tmp, env: ENV });
            assert.equal(bad.status, 2);
            const v = await runCli(['audit', 'verify'], { tmp: srv.tmp, env: ENV });
            assert.equal(v.status, 0, v.stdout + v.stderr);
        } finally {
            await srv.stop();
        }
    });
});
