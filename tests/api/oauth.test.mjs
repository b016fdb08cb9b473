// Sign-in with Google and Apple over real HTTP. The test process plays the identity
// provider: it generates RSA and P-256 keys, serves them as a JWKS from node:http on
// 127.0.0.1 and signs ID tokens; the server is pointed at it with GOOGLE_JWKS_URL /
// APPLE_JWKS_URL. security.md C1 (ID-token checks) and C2 (identity binding).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { startServer, runCli } from './lib/server.mjs';
import { api, newPatient, uniqueEmail, PASSWORD } from './lib/identity.mjs';

const GOOGLE_AUD = 'test-google-client.apps.googleusercontent.com';
const APPLE_AUD = 'org.mimicare.test';
const b64u = (b) => Buffer.from(b).toString('base64url');

const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaOther = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = (pair, kid, alg) => ({ ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' });

/** Signs a JWS; header/claims are merged over sensible defaults. */
function sign({ header = {}, claims = {}, key = rsa.privateKey, alg = 'RS256' } = {}) {
    const h = { alg, kid: alg === 'ES256' ? 'e1' : 'r1', typ: 'JWT', ...header };
    const input = `${b64u(JSON.stringify(h))}.${b64u(JSON.stringify(claims))}`;
    let sig;
    if (h.alg === 'none') sig = Buffer.alloc(0);
    else if (h.alg === 'HS256') sig = crypto.createHmac('sha256', key).update(input).digest();
    else if (alg === 'ES256') sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    else sig = crypto.sign('sha256', Buffer.from(input), key);
    return `${input}.${b64u(sig)}`;
}

const now = () => Math.floor(Date.now() / 1000);
function googleClaims(over = {}) {
    return {
        iss: 'https://accounts.google.com', aud: GOOGLE_AUD, sub: crypto.randomBytes(10).toString('hex'),
        email: uniqueEmail('g'), email_verified: true, name: 'Grace Google',
        iat: now() - 5, exp: now() + 600, nonce: 'n-' + crypto.randomBytes(8).toString('hex'), ...over,
    };
}

describe('sign-in with Google and Apple', () => {
    let srv, jwks, jwksFetches = 0;
    before(async () => {
        jwks = http.createServer((req, res) => {
            jwksFetches++;
            const keys = req.url === '/google' ? [jwk(rsa, 'r1', 'RS256'), jwk(ec, 'e1', 'ES256')]
                                               : [jwk(ec, 'e1', 'ES256'), jwk(rsa, 'r1', 'RS256')];
            res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'public, max-age=3600' });
            res.end(JSON.stringify({ keys }));
        });
        await new Promise((r) => jwks.listen(0, '127.0.0.1', r));
        const base = `http://127.0.0.1:${jwks.address().port}`;
        srv = await startServer({
            env: {
                RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '1000',
                GOOGLE_CLIENT_ID: GOOGLE_AUD, APPLE_CLIENT_ID: APPLE_AUD,
                GOOGLE_JWKS_URL: `${base}/google`, APPLE_JWKS_URL: `${base}/apple`,
            },
        });
    });
    after(async () => {
        await srv?.stop();
        jwks?.close();
    });

    const google = (idToken, nonce) => api(srv, 'POST', '/api/v1/auth/oauth/google', { body: { idToken, nonce } });
    const apple = (idToken, nonce) => api(srv, 'POST', '/api/v1/auth/oauth/apple', { body: { idToken, nonce } });

    test('a good Google token signs in; a second sign-in is the same user', async () => {
        const c = googleClaims();
        const first = await google(sign({ claims: c }), c.nonce);
        assert.equal(first.status, 200, first.text);
        assert.equal(first.json.tokenType, 'Bearer');
        assert.match(first.json.refreshToken, /^mcr_/);
        assert.equal(first.json.user.email, c.email);
        assert.equal(first.json.user.role, 'patient');
        const me = await api(srv, 'GET', '/api/v1/me', { token: first.json.accessToken });
        assert.equal(me.status, 200);
        assert.equal(me.json.id, first.json.user.id);
        // the same (iss, sub) under Google's other issuer spelling is the same account
        const c2 = { ...c, iss: 'accounts.google.com', nonce: 'other-nonce', iat: now(), exp: now() + 300 };
        const second = await google(sign({ claims: c2 }), 'other-nonce');
        assert.equal(second.status, 200, second.text);
        assert.equal(second.json.user.id, first.json.user.id);
        assert.notEqual(second.json.sessionId, first.json.sessionId);
    });

    test('a patient who turned on TOTP must still give her code after a Google sign-in', async () => {
        const c = googleClaims();
        const first = await google(sign({ claims: c }), c.nonce);
        assert.equal(first.status, 200, first.text);
        const t = first.json.accessToken;
        const setup = await api(srv, 'POST', '/api/v1/auth/mfa/totp/setup', { token: t, body: {} });
        assert.equal(setup.status, 200, setup.text);
        const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
        let bits = 0, value = 0;
        const key = [];
        for (const ch of setup.json.secret.replace(/=+$/, '')) {
            value = (value << 5) | alphabet.indexOf(ch);
            bits += 5;
            if (bits >= 8) { key.push((value >>> (bits - 8)) & 0xff); bits -= 8; }
        }
        const msg = Buffer.alloc(8);
        msg.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
        const h = crypto.createHmac('sha1', Buffer.from(key)).update(msg).digest();
        const o = h[h.length - 1] & 0xf;
        const code = String((((h[o] & 0x7f) << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) % 1000000).padStart(6, '0');
        const en = await api(srv, 'POST', '/api/v1/auth/mfa/totp/enable', { token: t, body: { code } });
        assert.equal(en.status, 200, en.text);
        const c2 = { ...c, nonce: 'n2-' + crypto.randomBytes(6).toString('hex'), iat: now(), exp: now() + 300 };
        const again = await google(sign({ claims: c2 }), c2.nonce);
        assert.equal(again.status, 200, again.text);
        assert.equal(again.json.mfaRequired, true);
        assert.equal(again.json.accessToken, undefined, 'no tokens before the second factor');
        assert.match(again.json.mfaToken, /^mfa_/);
    });

    test('an ES256 token signs in too', async () => {
        const c = googleClaims();
        const r = await google(sign({ claims: c, alg: 'ES256', key: ec.privateKey }), c.nonce);
        assert.equal(r.status, 200, r.text);
    });

    // Each bad token names an e-mail nobody has; if any of them created an account, a
    // later good token with another subject but that e-mail would answer 409.
    const bad = {
        'wrong aud': () => { const c = googleClaims({ aud: 'someone-else' }); return [sign({ claims: c }), c]; },
        'aud array without us': () => { const c = googleClaims({ aud: ['a', 'b'] }); return [sign({ claims: c }), c]; },
        'evil issuer': () => { const c = googleClaims({ iss: 'https://accounts.google.com.evil' }); return [sign({ claims: c }), c]; },
        'expired': () => { const c = googleClaims({ iat: now() - 4000, exp: now() - 61 }); return [sign({ claims: c }), c]; },
        'missing exp': () => { const c = googleClaims(); delete c.exp; return [sign({ claims: c }), c]; },
        'iat in the future': () => { const c = googleClaims({ iat: now() + 3600 }); return [sign({ claims: c }), c]; },
        'bad signature (other key)': () => { const c = googleClaims(); return [sign({ claims: c, key: rsaOther.privateKey }), c]; },
        'payload byte flipped': () => {
            const c = googleClaims();
            const [h, , s] = sign({ claims: c }).split('.');
            return [`${h}.${b64u(JSON.stringify({ ...c, sub: c.sub + 'x' }))}.${s}`, c];
        },
        'unknown kid': () => { const c = googleClaims(); return [sign({ claims: c, header: { kid: 'nope' } }), c]; },
        'no kid': () => { const c = googleClaims(); return [sign({ claims: c, header: { kid: undefined } }), c]; },
        'alg none': () => { const c = googleClaims(); return [sign({ claims: c, header: { alg: 'none' } }), c]; },
        'alg HS256 keyed with the public key': () => {
            const c = googleClaims();
            const pem = rsa.publicKey.export({ type: 'spki', format: 'pem' });
            return [sign({ claims: c, header: { alg: 'HS256' }, key: pem }), c];
        },
        'alg RS512': () => { const c = googleClaims(); return [sign({ claims: c, header: { alg: 'RS512' } }), c]; },
        'RS256 header on the EC key id': () => { const c = googleClaims(); return [sign({ claims: c, header: { kid: 'e1' } }), c]; },
        'nonce claim missing': () => { const c = googleClaims(); const n = c.nonce; delete c.nonce; return [sign({ claims: c }), { ...c, nonce: n }]; },
        'nonce mismatched': () => { const c = googleClaims(); return [sign({ claims: c }), { ...c, nonce: c.nonce + 'x' }]; },
        'not a JWT': () => { const c = googleClaims(); return ['abc.def', c]; },
    };
    for (const [name, make] of Object.entries(bad)) {
        test(`${name} → 401 and no account`, async () => {
            const [token, c] = make();
            const r = await google(token, c.nonce);
            assert.equal(r.status, 401, `${name}: ${r.text}`);
            assert.equal(r.json.accessToken, undefined);
            assert.doesNotMatch(r.text, /signature|kid|nonce|aud/i, 'the reason stays in the log');
            const probe = googleClaims({ email: c.email });
            const ok = await google(sign({ claims: probe }), probe.nonce);
            assert.equal(ok.status, 200, `${name}: an account for ${c.email} exists already: ${ok.text}`);
            const again = await google(sign({ claims: { ...c, nonce: 'k', iat: now(), exp: now() + 60, sub: c.sub } }), 'k');
            if (name !== 'wrong aud' && name !== 'aud array without us' && name !== 'evil issuer')
                assert.equal(again.status, 409, `${name}: the bad token's subject was linked`);
        });
    }

    test('a missing nonce field is a 400', async () => {
        const c = googleClaims();
        const r = await api(srv, 'POST', '/api/v1/auth/oauth/google', { body: { idToken: sign({ claims: c }) } });
        assert.equal(r.status, 400);
    });

    test('an e-mail that belongs to a password account → 409, the account untouched', async () => {
        const p = await newPatient(srv);
        const c = googleClaims({ email: p.email.toUpperCase() });
        const r = await google(sign({ claims: c }), c.nonce);
        assert.equal(r.status, 409, r.text);
        assert.match(r.json.detail, /log in and link it/);
        assert.equal(r.json.accessToken, undefined);
        const again = await google(sign({ claims: { ...c, email: p.email } }), c.nonce);
        assert.equal(again.status, 409, 'still refused: nothing was linked');
        const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: p.email, password: p.password } });
        assert.equal(login.status, 200);
        assert.equal(login.json.user.id, p.login.user.id);
        assert.equal(login.json.user.email, p.email);
    });

    const link = (provider, token, idToken, nonce) =>
        api(srv, 'POST', `/api/v1/auth/oauth/${provider}/link`, { token, body: { idToken, nonce } });

    test('a password account links its Google identity, then signs in with it', async () => {
        const p = await newPatient(srv);
        const c = googleClaims({ email: p.email });
        const refused = await google(sign({ claims: c }), c.nonce);
        assert.equal(refused.status, 409, refused.text);
        const anon = await link('google', undefined, sign({ claims: c }), c.nonce);
        assert.equal(anon.status, 401, 'linking needs a bearer token');
        const forged = await link('google', p.login.accessToken, sign({ claims: c, key: rsaOther.privateKey }), c.nonce);
        assert.equal(forged.status, 401, 'the ID token is checked like at sign-in');
        const l = await link('google', p.login.accessToken, sign({ claims: c }), c.nonce);
        assert.equal(l.status, 200, l.text);
        assert.equal(l.json.linked, true);
        const c2 = { ...c, nonce: 'n3-' + crypto.randomBytes(6).toString('hex'), iat: now(), exp: now() + 300 };
        const signin = await google(sign({ claims: c2 }), c2.nonce);
        assert.equal(signin.status, 200, signin.text);
        assert.equal(signin.json.user.id, p.login.user.id);
        const again = await link('google', p.login.accessToken, sign({ claims: c2 }), c2.nonce);
        assert.equal(again.status, 409, 'linked already');
    });

    test('an identity linked to another account → 409; Apple links the same way', async () => {
        const c = googleClaims();
        const first = await google(sign({ claims: c }), c.nonce);
        assert.equal(first.status, 200, first.text);
        const q = await newPatient(srv);
        const r = await link('google', q.login.accessToken, sign({ claims: c }), c.nonce);
        assert.equal(r.status, 409, r.text);
        const raw = 'apple-link-' + crypto.randomBytes(6).toString('hex');
        const ac = { iss: 'https://appleid.apple.com', aud: APPLE_AUD, sub: '002.' + crypto.randomBytes(6).toString('hex'), iat: now(), exp: now() + 600, nonce: raw };
        const a = await link('apple', q.login.accessToken, sign({ claims: ac, alg: 'ES256', key: ec.privateKey }), raw);
        assert.equal(a.status, 200, a.text);
        const as = await apple(sign({ claims: ac, alg: 'ES256', key: ec.privateKey }), raw);
        assert.equal(as.status, 200, as.text);
        assert.equal(as.json.user.id, q.login.user.id);
    });

    test('staff accounts cannot link an identity (403)', async () => {
        const email = uniqueEmail('dr');
        const cli = runCli(['user', 'create', '--role', 'doctor', '--email', email, '--name', 'Dr Link'], { tmp: srv.tmp, input: `${PASSWORD}\n` });
        assert.equal(cli.status, 0, cli.stderr);
        const l = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
        assert.equal(l.status, 200, l.text);
        assert.ok(l.json.accessToken, l.text);
        const c = googleClaims();
        const r = await link('google', l.json.accessToken, sign({ claims: c }), c.nonce);
        assert.equal(r.status, 403, r.text);
    });

    test('an unverified provider e-mail does not create an account', async () => {
        const c = googleClaims({ email_verified: false });
        const r = await google(sign({ claims: c }), c.nonce);
        assert.equal(r.status, 422, r.text);
    });

    test('Apple: ES256 with the SHA-256 nonce; the raw nonce works too; same user', async () => {
        const raw = 'apple-raw-' + crypto.randomBytes(8).toString('hex');
        const hashed = crypto.createHash('sha256').update(raw).digest('hex');
        const sub = '001234.' + crypto.randomBytes(8).toString('hex');
        const email = uniqueEmail('a');
        const claims = (nonce) => ({
            iss: 'https://appleid.apple.com', aud: APPLE_AUD, sub, email, email_verified: 'true',
            iat: now(), exp: now() + 600, nonce,
        });
        const r = await apple(sign({ claims: claims(hashed), alg: 'ES256', key: ec.privateKey }), raw);
        assert.equal(r.status, 200, r.text);
        const r2 = await apple(sign({ claims: claims(raw), alg: 'ES256', key: ec.privateKey }), raw);
        assert.equal(r2.status, 200, r2.text);
        assert.equal(r2.json.user.id, r.json.user.id);
        const wrongAud = await apple(sign({ claims: { ...claims(hashed), aud: GOOGLE_AUD }, alg: 'ES256', key: ec.privateKey }), raw);
        assert.equal(wrongAud.status, 401);
        const googleIss = await apple(sign({ claims: { ...claims(hashed), iss: 'https://accounts.google.com' }, alg: 'ES256', key: ec.privateKey }), raw);
        assert.equal(googleIss.status, 401);
    });

    test('the JWKS is cached, not fetched per request', async () => {
        const before = jwksFetches;
        for (let i = 0; i < 3; i++) {
            const c = googleClaims();
            assert.equal((await google(sign({ claims: c }), c.nonce)).status, 200);
        }
        assert.equal(jwksFetches, before);
    });
});

describe('sign-in when the provider is unreachable or not configured', () => {
    let srv;
    before(async () => {
        const dead = http.createServer();
        await new Promise((r) => dead.listen(0, '127.0.0.1', r));
        const port = dead.address().port;
        await new Promise((r) => dead.close(r));
        srv = await startServer({
            env: { GOOGLE_CLIENT_ID: GOOGLE_AUD, GOOGLE_JWKS_URL: `http://127.0.0.1:${port}/certs` },
        });
    });
    after(async () => { await srv?.stop(); });

    test('JWKS down → 503', async () => {
        const c = googleClaims();
        const r = await api(srv, 'POST', '/api/v1/auth/oauth/google', { body: { idToken: sign({ claims: c }), nonce: c.nonce } });
        assert.equal(r.status, 503, r.text);
    });

    test('Apple without a client id → 404 "not configured"', async () => {
        const r = await api(srv, 'POST', '/api/v1/auth/oauth/apple', { body: { idToken: 'a.b.c', nonce: 'n' } });
        assert.equal(r.status, 404);
        assert.match(r.json.detail, /not configured/);
    });
});
