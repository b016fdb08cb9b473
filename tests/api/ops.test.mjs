// Operational endpoints: liveness, readiness, metrics, API description, clinic settings.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { BACKEND, UUID_RE, parseRawResponse, rawRequest, startServer } from './lib/server.mjs';

const RFC3339_MS_Z = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('ops endpoints', () => {
    let srv;
    before(async () => { srv = await startServer(); });
    after(async () => { await srv?.stop(); });

    test('GET /health → 200 {status:"ok", timestamp}', async () => {
        const before = Date.now();
        const res = await fetch(`${srv.url}/health`);
        const afterT = Date.now();
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^application\/json/);
        const body = await res.json();
        assert.deepEqual(Object.keys(body).sort(), ['status', 'timestamp']);
        assert.equal(body.status, 'ok');
        assert.match(body.timestamp, RFC3339_MS_Z);
        const t = Date.parse(body.timestamp);
        assert.ok(t >= before - 2000 && t <= afterT + 2000,
                  `timestamp ${body.timestamp} is not close to now`);
    });

    test('HEAD /health → 200 without a body', async () => {
        const res = await fetch(`${srv.url}/health`, { method: 'HEAD' });
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^application\/json/);
        assert.equal(await res.text(), '');
        // on the wire: headers, then nothing (fetch would hide a stray body)
        const raw = await rawRequest(srv.port,
            'HEAD /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        const r = parseRawResponse(raw.data);
        assert.equal(r.status, 200);
        assert.equal(r.body, '');
    });

    test('GET /health/ready → 200 with the database check', async () => {
        const res = await fetch(`${srv.url}/health/ready`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^application\/json/);
        const body = await res.json();
        assert.equal(body.status, 'ready');
        assert.equal(body.checks?.database?.status, 'up');
        assert.equal(body.checks.database.backend, BACKEND);
        assert.equal(typeof body.checks.database.latencyMs, 'number');
        assert.ok(body.checks.database.latencyMs >= 0);
        assert.equal(body.checks.database.error, undefined);
    });

    test('GET /metrics → Prometheus text with the expected series', async () => {
        const h = await fetch(`${srv.url}/health`);
        assert.equal(h.status, 200);
        await h.arrayBuffer();
        // the request is counted when it completes; allow a moment for the callback
        let text = '';
        for (let i = 0; i < 20; i++) {
            const res = await fetch(`${srv.url}/metrics`);
            assert.equal(res.status, 200);
            assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
            text = await res.text();
            if (/^http_requests_total\{[^}]*route="\/health"[^}]*\} [1-9]/m.test(text)) break;
            await new Promise((r) => setTimeout(r, 50));
        }
        assert.match(text, /^http_requests_total\{[^}]*route="\/health"[^}]*\} [1-9]\d*$/m);
        assert.match(text, /^http_request_duration_seconds_bucket\{/m);
        assert.match(text, /^http_requests_in_flight \d+$/m);
        assert.match(text, /^process_resident_memory_bytes [1-9]\d*$/m);
        assert.match(text, /^process_open_fds [1-9]\d*$/m);
        assert.match(text, /^process_uptime_seconds \d+(\.\d+)?$/m);
        assert.match(text, /^db_pool_connections_in_use \d+$/m);
        // every non-comment line is "name{labels} value" or "name value"
        for (const line of text.split('\n')) {
            if (line === '' || line.startsWith('#')) continue;
            assert.match(line, /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$/,
                         `bad exposition line: ${line}`);
        }
    });

    test('GET /api/v1/openapi.yaml → the API description', async () => {
        const res = await fetch(`${srv.url}/api/v1/openapi.yaml`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^application\/yaml/);
        const text = await res.text();
        assert.ok(text.startsWith('openapi:'), `starts with ${JSON.stringify(text.slice(0, 20))}`);
    });

    test('GET /api/v1/clinic → clinic settings with an ETag', async () => {
        const res = await fetch(`${srv.url}/api/v1/clinic`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get('content-type'), /^application\/json/);
        const body = await res.json();
        assert.match(body.id, UUID_RE);
        assert.equal(typeof body.name, 'string');
        assert.ok(body.name.length > 0);
        assert.equal(typeof body.timezone, 'string');
        assert.ok(body.timezone.length > 0);
        const etag = res.headers.get('etag');
        assert.ok(etag, 'ETag header present');
        assert.match(etag, /^(W\/)?"[^"]+"$/);
        assert.equal(etag, `"${body.version}"`);
    });
});
