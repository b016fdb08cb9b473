// Rate limits and resource limits around identity (security.md I1-I3, A4): per-user
// limits with RateLimit headers, failing closed when Redis is configured but down,
// the hashing concurrency cap under 200 simultaneous logins, and the timing of
// "unknown e-mail" versus "wrong password".
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startServer } from './lib/server.mjs';
import { api, newPatient, uniqueEmail, PASSWORD } from './lib/identity.mjs';

const rssKb = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]);

describe('per-address limit on API routes that need no login (I1)', () => {
    let srv;
    before(async () => { srv = await startServer({ env: { RATE_LIMIT_MAX_REQUESTS: '100' } }); });
    after(async () => { await srv?.stop(); });

    test('the 101st request in the window → 429; a spoofed X-Forwarded-For changes nothing; /health is exempt', async () => {
        for (let i = 0; i < 100; i++) {
            const r = await api(srv, 'GET', '/api/v1/clinic');
            assert.equal(r.status, 200, `request ${i + 1}`);
        }
        const r = await api(srv, 'GET', '/api/v1/clinic');
        assert.equal(r.status, 429);
        assert.ok(Number(r.headers.get('retry-after')) > 0);
        assert.equal(r.headers.get('ratelimit-remaining'), '0');
        const spoof = await api(srv, 'GET', '/api/v1/clinic', { headers: { 'X-Forwarded-For': '203.0.113.7' } });
        assert.equal(spoof.status, 429, 'X-Forwarded-For from an untrusted peer is ignored');
        assert.equal((await api(srv, 'GET', '/health')).status, 200);
    });
});

describe('per-user limit on authenticated requests', () => {
    let srv;
    before(async () => { srv = await startServer({ env: { RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '1000', RATE_LIMIT_USER_MAX: '3' } }); });
    after(async () => { await srv?.stop(); });

    test('the 4th request in the window → 429 with RateLimit-* and Retry-After', async () => {
        const p = await newPatient(srv);
        for (let i = 0; i < 3; i++) {
            const r = await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken });
            assert.equal(r.status, 200);
            assert.equal(r.headers.get('ratelimit-limit'), '3');
            assert.equal(r.headers.get('ratelimit-remaining'), String(2 - i));
        }
        const r = await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken });
        assert.equal(r.status, 429);
        assert.ok(Number(r.headers.get('retry-after')) > 0);
        const other = await newPatient(srv);
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: other.login.accessToken })).status, 200,
            'another user has a budget of her own');
    });
});

describe('Redis configured but down', () => {
    let srv;
    before(async () => { srv = await startServer({ env: { REDIS_HOST: '127.0.0.1', REDIS_PORT: '1' } }); });
    after(async () => { await srv?.stop(); });

    test('login fails closed with 503 + Retry-After, readiness says so (I2)', async () => {
        const r = await api(srv, 'POST', '/api/v1/auth/login', { body: { email: uniqueEmail(), password: PASSWORD } });
        assert.equal(r.status, 503);
        assert.ok(r.headers.get('retry-after'));
        const ready = await api(srv, 'GET', '/health/ready');
        assert.equal(ready.status, 503);
        assert.equal(ready.json.checks.kv.status, 'down');
    });
});

describe('hashing under load', () => {
    let srv;
    before(async () => { srv = await startServer({ env: { RATE_LIMIT_LOGIN_MAX: '10000', MAX_LOGIN_ATTEMPTS: '100' } }); });
    after(async () => { await srv?.stop(); });

    test('200 simultaneous logins with 128-character passwords: no 500, bounded memory (I3)', async () => {
        const before = rssKb(srv.proc.pid);
        let peak = before;
        const sampler = setInterval(() => { try { peak = Math.max(peak, rssKb(srv.proc.pid)); } catch { /* exited */ } }, 20);
        const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
            api(srv, 'POST', '/api/v1/auth/login', { body: { email: `load${i}@example.org`, password: 'x'.repeat(127) + i % 10 } })));
        clearInterval(sampler);
        const statuses = new Set(rs.map((r) => r.status));
        for (const s of statuses) assert.ok([401, 429, 503].includes(s), `unexpected status ${s}`);
        // each Argon2id hash needs 19 MiB; the cap (= cores) keeps the growth to a few of them
        const growthMb = (peak - before) / 1024;
        assert.ok(growthMb < 200, `RSS grew by ${growthMb.toFixed(0)} MiB`);
        assert.equal((await api(srv, 'GET', '/health')).status, 200);
    });

    test('unknown e-mail and wrong password take the same time (A4)', async () => {
        const known = [];
        for (let i = 0; i < 4; i++) known.push((await newPatient(srv)).email);
        const time = async (email) => {
            const t0 = process.hrtime.bigint();
            const r = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: 'definitely not it' } });
            assert.equal(r.status, 401);
            return Number(process.hrtime.bigint() - t0) / 1e6;
        };
        const a = [], b = [];
        for (let i = 0; i < 200; i++) { // interleaved, so drift affects both alike
            a.push(await time(known[i % 4]));
            b.push(await time(`nobody.${i}@example.org`));
        }
        const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1];
        const ma = median(a), mb = median(b);
        assert.ok(Math.abs(ma - mb) / Math.max(ma, mb) < 0.10, `medians ${ma.toFixed(1)} vs ${mb.toFixed(1)} ms`);
    });
});
