// The TOTP second factor over real HTTP: staff under REQUIRE_STAFF_MFA get a challenge
// instead of tokens (security.md A9), enrol with it, and verify; wrong, replayed and
// reused codes → 401; recovery codes work once; a patient who opts in needs the code;
// expired or used challenges → 401; wrong codes count toward the password lockout (A5);
// disabling TOTP (refused for staff while required) and renewing the recovery codes.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer, runCli } from './lib/server.mjs';
import { api, newPatient, uniqueEmail, setClock, PASSWORD } from './lib/identity.mjs';

const ENV = { RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '1000', REQUIRE_STAFF_MFA: 'true' };

function base32Decode(s) {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
    let bits = 0, value = 0;
    const out = [];
    for (const ch of s.replace(/=+$/, '')) {
        value = (value << 5) | alphabet.indexOf(ch);
        bits += 5;
        if (bits >= 8) { out.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
    }
    return Buffer.from(out);
}

/** RFC 6238 code (HMAC-SHA1, 6 digits, 30 s) for the step `offset` steps from now. */
function totp(b32, offset = 0) {
    const step = Math.floor(Date.now() / 1000 / 30) + offset;
    const msg = Buffer.alloc(8);
    msg.writeBigUInt64BE(BigInt(step));
    const h = crypto.createHmac('sha1', base32Decode(b32)).update(msg).digest();
    const o = h[h.length - 1] & 0xf;
    const bin = ((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3];
    return String(bin % 1000000).padStart(6, '0');
}

/** A 6-digit code that is none of the three the server accepts right now. */
function wrongCode(b32) {
    const valid = new Set([-1, 0, 1, 2].map((d) => totp(b32, d)));
    for (let n = 123456; ; n = (n + 111111) % 1000000) {
        const c = String(n).padStart(6, '0');
        if (!valid.has(c)) return c;
    }
}

const login = (srv, email, password = PASSWORD) => api(srv, 'POST', '/api/v1/auth/login', { body: { email, password } });
const verify = (srv, body) => api(srv, 'POST', '/api/v1/auth/mfa/verify', { body });

/** Creates a doctor with the CLI and enrols TOTP through the login challenge. */
async function enrolledDoctor(srv) {
    const email = uniqueEmail('dr');
    const cli = runCli(['user', 'create', '--role', 'doctor', '--email', email, '--name', 'Dr Okafor'], { tmp: srv.tmp, env: ENV, input: `${PASSWORD}\n` });
    assert.equal(cli.status, 0, cli.stderr);
    const l = await login(srv, email);
    assert.equal(l.status, 200, l.text);
    assert.equal(l.json.accessToken, undefined, 'no access token without the second factor (A9)');
    assert.equal(l.json.refreshToken, undefined);
    assert.equal(l.json.mfaRequired, true);
    assert.equal(l.json.enroll, true);
    assert.match(l.json.mfaToken, /^mfa_[A-Za-z0-9_-]{43}$/);
    const mfaToken = l.json.mfaToken;
    const anon = await api(srv, 'POST', '/api/v1/auth/mfa/totp/setup', { body: {} });
    assert.equal(anon.status, 401, 'setup needs a token or a challenge');
    const setup = await api(srv, 'POST', '/api/v1/auth/mfa/totp/setup', { body: {}, headers: { 'X-MFA-Token': mfaToken } });
    assert.equal(setup.status, 200, setup.text);
    assert.match(setup.json.secret, /^[A-Z2-7]{32}$/);
    assert.equal(setup.json.otpauthUri, `otpauth://totp/Mimicare:${email}?secret=${setup.json.secret}&issuer=Mimicare`);
    assert.match(setup.json.qrSvg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 \d+ \d+"/);
    assert.doesNotMatch(setup.json.qrSvg, /script/i);
    const secret = setup.json.secret;
    const bad = await api(srv, 'POST', '/api/v1/auth/mfa/totp/enable', { body: { code: wrongCode(secret), mfaToken } });
    assert.equal(bad.status, 422);
    const en = await api(srv, 'POST', '/api/v1/auth/mfa/totp/enable', { body: { code: totp(secret), mfaToken } });
    assert.equal(en.status, 200, en.text);
    assert.equal(en.json.recoveryCodes.length, 10);
    assert.equal(new Set(en.json.recoveryCodes).size, 10);
    const again = await api(srv, 'POST', '/api/v1/auth/mfa/totp/setup', { body: { mfaToken } });
    assert.equal(again.status, 409, 'an enabled secret is not replaced');
    return { email, mfaToken, secret, recovery: en.json.recoveryCodes };
}

describe('TOTP second factor', () => {
    let srv;
    before(async () => { srv = await startServer({ env: ENV }); });
    after(async () => { await srv?.stop(); });

    test('staff: challenge → enrol → verify → tokens; used challenge, wrong and replayed codes → 401', async () => {
        const d = await enrolledDoctor(srv);
        const code = totp(d.secret, 1); // the enable step is spent; the next one is fresh
        const ok = await verify(srv, { mfaToken: d.mfaToken, code });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.tokenType, 'Bearer');
        assert.match(ok.json.refreshToken, /^mcr_/);
        assert.equal(ok.json.user.role, 'doctor');
        const me = await api(srv, 'GET', '/api/v1/me', { token: ok.json.accessToken });
        assert.equal(me.status, 200);
        assert.equal(me.json.email, d.email);
        const usedToken = await verify(srv, { mfaToken: d.mfaToken, code: totp(d.secret, 1) });
        assert.equal(usedToken.status, 401, 'a challenge is single use');

        const l = await login(srv, d.email);
        assert.equal(l.status, 200);
        assert.equal(l.json.accessToken, undefined);
        assert.equal(l.json.enroll, false);
        const wrong = await verify(srv, { mfaToken: l.json.mfaToken, code: wrongCode(d.secret) });
        assert.equal(wrong.status, 401);
        const replay = await verify(srv, { mfaToken: l.json.mfaToken, code });
        assert.equal(replay.status, 401, 'a code (time step) is accepted once');
        const enrol = await api(srv, 'POST', '/api/v1/auth/mfa/totp/enable', { body: { code: totp(d.secret), mfaToken: l.json.mfaToken } });
        assert.equal(enrol.status, 401, 'a login challenge is not an enrolment challenge');
        const both = await verify(srv, { mfaToken: l.json.mfaToken, code, recoveryCode: d.recovery[0] });
        assert.equal(both.status, 422);
        const bogus = await verify(srv, { mfaToken: 'mfa_' + 'A'.repeat(43), code });
        assert.equal(bogus.status, 401);
    });

    test('a recovery code works once', async () => {
        const d = await enrolledDoctor(srv);
        const first = await verify(srv, { mfaToken: d.mfaToken, recoveryCode: d.recovery[0] });
        assert.equal(first.status, 200, first.text);
        assert.ok(first.json.accessToken);
        const l = await login(srv, d.email);
        const reused = await verify(srv, { mfaToken: l.json.mfaToken, recoveryCode: d.recovery[0] });
        assert.equal(reused.status, 401);
        const other = await verify(srv, { mfaToken: l.json.mfaToken, recoveryCode: d.recovery[1].toUpperCase() });
        assert.equal(other.status, 200, other.text);
    });

    test('a patient opts in and then needs the code; an expired challenge → 401', async () => {
        const p = await newPatient(srv);
        const token = p.login.accessToken;
        assert.ok(token, 'patients without TOTP log in with the password alone');
        const setup = await api(srv, 'POST', '/api/v1/auth/mfa/totp/setup', { token, body: {} });
        assert.equal(setup.status, 200, setup.text);
        const en = await api(srv, 'POST', '/api/v1/auth/mfa/totp/enable', { token, body: { code: totp(setup.json.secret) } });
        assert.equal(en.status, 200, en.text);
        const l = await login(srv, p.email, p.password);
        assert.equal(l.status, 200);
        assert.equal(l.json.accessToken, undefined);
        assert.equal(l.json.mfaRequired, true);
        assert.equal(l.json.enroll, false);
        const ok = await verify(srv, { mfaToken: l.json.mfaToken, code: totp(setup.json.secret, 1) });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.user.id, p.login.user.id);

        const l2 = await login(srv, p.email, p.password);
        assert.equal(l2.json.expiresIn, 300);
        await setClock(srv, 301000);
        try {
            const late = await verify(srv, { mfaToken: l2.json.mfaToken, recoveryCode: en.json.recoveryCodes[0] });
            assert.equal(late.status, 401, 'a challenge expires after 5 minutes');
        } finally {
            await setClock(srv, 0);
        }
        const unused = await verify(srv, { mfaToken: (await login(srv, p.email, p.password)).json.mfaToken, recoveryCode: en.json.recoveryCodes[0] });
        assert.equal(unused.status, 200, 'the expired attempt did not spend the recovery code');
    });
});

describe('managing TOTP: disable and new recovery codes', () => {
    let srv;
    before(async () => { srv = await startServer({ env: ENV }); });
    after(async () => { await srv?.stop(); });

    const me = (token) => api(srv, 'GET', '/api/v1/me', { token });
    const disable = (token, body) => api(srv, 'POST', '/api/v1/auth/mfa/totp/disable', { token, body });
    const regenerate = (token, body) => api(srv, 'POST', '/api/v1/auth/mfa/recovery-codes', { token, body });

    test('a patient regenerates her codes (other sessions end), then turns TOTP off', async () => {
        const p = await newPatient(srv);
        const t1 = p.login.accessToken;
        const t0 = (await login(srv, p.email, p.password)).json.accessToken; // password only
        assert.equal((await disable(t1, { code: '123456' })).status, 409, 'nothing to disable yet');
        const setup = await api(srv, 'POST', '/api/v1/auth/mfa/totp/setup', { token: t1, body: {} });
        const en = await api(srv, 'POST', '/api/v1/auth/mfa/totp/enable', { token: t1, body: { code: totp(setup.json.secret) } });
        assert.equal(en.status, 200, en.text);
        assert.equal((await me(t0)).status, 401, 'enabling TOTP ends the password-only sessions');
        assert.equal((await me(t1)).status, 200, 'but not the one that enabled it');
        const old = en.json.recoveryCodes;
        const l = await login(srv, p.email, p.password);
        const v = await verify(srv, { mfaToken: l.json.mfaToken, recoveryCode: old[0] });
        assert.equal(v.status, 200, v.text);
        const t2 = v.json.accessToken;

        assert.equal((await regenerate(undefined, { code: totp(setup.json.secret, 1) })).status, 401);
        const wrong = await regenerate(t1, { code: wrongCode(setup.json.secret) });
        assert.equal(wrong.status, 422, wrong.text);
        const r = await regenerate(t1, { code: totp(setup.json.secret, 1) });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.recoveryCodes.length, 10);
        assert.equal(new Set([...r.json.recoveryCodes, ...old]).size, 20, 'all codes are new');
        assert.equal((await me(t2)).status, 401, 'other sessions are revoked');
        assert.equal((await me(t1)).status, 200, 'the caller stays signed in');
        const replay = await regenerate(t1, { code: totp(setup.json.secret, 1) });
        assert.equal(replay.status, 422, 'a code (time step) is accepted once');

        const l2 = await login(srv, p.email, p.password);
        const stale = await verify(srv, { mfaToken: l2.json.mfaToken, recoveryCode: old[1] });
        assert.equal(stale.status, 401, 'the old codes are invalid');

        assert.equal((await disable(undefined, { recoveryCode: r.json.recoveryCodes[0] })).status, 401);
        assert.equal((await disable(t1, { code: '000000', recoveryCode: r.json.recoveryCodes[0] })).status, 422);
        const off = await disable(t1, { recoveryCode: r.json.recoveryCodes[0] });
        assert.equal(off.status, 200, off.text);
        assert.equal(off.json.enabled, false);
        const late = await verify(srv, { mfaToken: l2.json.mfaToken, recoveryCode: r.json.recoveryCodes[1] });
        assert.equal(late.status, 401, 'an open challenge cannot be finished after disabling');
        const plain = await login(srv, p.email, p.password);
        assert.equal(plain.status, 200, plain.text);
        assert.ok(plain.json.accessToken, 'the password alone logs in again');
        assert.equal((await disable(t1, { recoveryCode: r.json.recoveryCodes[1] })).status, 409);
    });

    test('staff cannot turn TOTP off while it is required, but can renew recovery codes', async () => {
        const d = await enrolledDoctor(srv);
        const v = await verify(srv, { mfaToken: d.mfaToken, recoveryCode: d.recovery[0] });
        assert.equal(v.status, 200, v.text);
        const t = v.json.accessToken;
        const off = await disable(t, { recoveryCode: d.recovery[1] });
        assert.equal(off.status, 403, off.text);
        const r = await regenerate(t, { code: totp(d.secret, 1) });
        assert.equal(r.status, 200, r.text);
        const l = await login(srv, d.email);
        const ok = await verify(srv, { mfaToken: l.json.mfaToken, recoveryCode: d.recovery[1] });
        assert.equal(ok.status, 401, 'the 403 left the codes alone, and the renewal replaced them');
        const ok2 = await verify(srv, { mfaToken: l.json.mfaToken, recoveryCode: r.json.recoveryCodes[0] });
        assert.equal(ok2.status, 200, ok2.text);
    });
});

describe('TOTP failures and the lockout', () => {
    test('wrong codes count toward MAX_LOGIN_ATTEMPTS like wrong passwords', async () => {
        const srv = await startServer({ env: { ...ENV, MAX_LOGIN_ATTEMPTS: '3' } });
        try {
            const p = await newPatient(srv);
            const token = p.login.accessToken;
            const setup = await api(srv, 'POST', '/api/v1/auth/mfa/totp/setup', { token, body: {} });
            const en = await api(srv, 'POST', '/api/v1/auth/mfa/totp/enable', { token, body: { code: totp(setup.json.secret) } });
            assert.equal(en.status, 200, en.text);
            const l = await login(srv, p.email, p.password);
            const bad = wrongCode(setup.json.secret);
            for (let i = 0; i < 3; i++) {
                const r = await verify(srv, { mfaToken: l.json.mfaToken, code: bad });
                assert.equal(r.status, 401, `attempt ${i + 1}`);
            }
            const locked = await verify(srv, { mfaToken: l.json.mfaToken, code: totp(setup.json.secret, 1) });
            assert.equal(locked.status, 429, 'the account is locked, even for a right code');
            const pw = await login(srv, p.email, p.password);
            assert.equal(pw.status, 429, 'and for the password');
        } finally {
            await srv.stop();
        }
    });
});
