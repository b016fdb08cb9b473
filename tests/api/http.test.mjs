// HTTP layer behaviour common to every endpoint: request ids, security headers, problem
// details, method handling, malformed requests, request smuggling guards, CORS, keep-alive.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { UUID_RE, parseRawResponse, rawRequest, startServer } from './lib/server.mjs';

const CRLF = '\r\n';
const get = (path, extra = '') =>
    `GET ${path} HTTP/1.1${CRLF}Host: localhost${CRLF}${extra}Connection: close${CRLF}${CRLF}`;

let srv;
before(async () => { srv = await startServer(); });
after(async () => { await srv?.stop(); });

async function assertProblem(res, status) {
    assert.equal(res.status, status);
    assert.match(res.headers.get('content-type'), /^application\/problem\+json/);
    const body = await res.json();
    assert.equal(typeof body.type, 'string');
    assert.equal(typeof body.title, 'string');
    assert.equal(body.status, status);
    assert.equal(body.requestId, res.headers.get('x-request-id'));
    return body;
}

function assertNotServed(r, what) {
    assert.notEqual(r.status, 200, `${what} was served`);
    assert.ok(!/root:.*:0:0:/.test(r.body), `${what} leaked /etc/passwd`);
}

describe('X-Request-Id', () => {
    test('generated as a UUID when the client sends none', async () => {
        for (const path of ['/health', '/api/v1/clinic', '/nope']) {
            const res = await fetch(`${srv.url}${path}`);
            await res.arrayBuffer();
            assert.match(res.headers.get('x-request-id') ?? '', UUID_RE, path);
        }
        const a = await fetch(`${srv.url}/health`);
        const b = await fetch(`${srv.url}/health`);
        await a.arrayBuffer();
        await b.arrayBuffer();
        assert.notEqual(a.headers.get('x-request-id'), b.headers.get('x-request-id'));
    });

    test('a sane client id is echoed, also in problem bodies', async () => {
        const res = await fetch(`${srv.url}/health`, { headers: { 'X-Request-Id': 'req-12345678' } });
        await res.arrayBuffer();
        assert.equal(res.headers.get('x-request-id'), 'req-12345678');
        const nf = await fetch(`${srv.url}/nope`, { headers: { 'X-Request-Id': 'req-abc_DEF.42' } });
        assert.equal(nf.headers.get('x-request-id'), 'req-abc_DEF.42');
        assert.equal((await nf.json()).requestId, 'req-abc_DEF.42');
        const max = 'r'.repeat(64);
        const m = await fetch(`${srv.url}/health`, { headers: { 'X-Request-Id': max } });
        await m.arrayBuffer();
        assert.equal(m.headers.get('x-request-id'), max);
    });

    test('an unsafe or oversized client id is replaced', async () => {
        for (const bad of ['req 12345678', 'req-"12345678"', "req-'1234567'", 'req<12345678>',
                           'x'.repeat(65), 'y'.repeat(200), 'short']) {
            const res = await fetch(`${srv.url}/health`, { headers: { 'X-Request-Id': bad } });
            await res.arrayBuffer();
            const id = res.headers.get('x-request-id');
            assert.notEqual(id, bad);
            assert.match(id, UUID_RE, `for ${JSON.stringify(bad)}`);
        }
    });
});

describe('security headers', () => {
    function checkSecurityHeaders(res, label) {
        const h = res.headers;
        assert.equal(h.get('x-content-type-options'), 'nosniff', label);
        assert.equal(h.get('referrer-policy'), 'no-referrer', label);
        const csp = h.get('content-security-policy') ?? '';
        assert.match(csp, /frame-ancestors 'none'/, label);
        const hsts = h.get('strict-transport-security') ?? '';
        const m = /max-age=(\d+)/.exec(hsts);
        assert.ok(m && Number(m[1]) >= 15724800, `${label}: HSTS ${hsts}`);
        const server = h.get('server');
        assert.ok(server === null || !/\d/.test(server), `${label}: Server header ${server}`);
        assert.equal(h.get('x-powered-by'), null, label);
    }

    test('on 200 responses', async () => {
        for (const path of ['/health', '/api/v1/clinic', '/health/ready']) {
            const res = await fetch(`${srv.url}${path}`);
            await res.arrayBuffer();
            assert.equal(res.status, 200, path);
            checkSecurityHeaders(res, path);
        }
    });

    test('on 404 and 405 responses', async () => {
        const nf = await fetch(`${srv.url}/does/not/exist`);
        await nf.arrayBuffer();
        assert.equal(nf.status, 404);
        checkSecurityHeaders(nf, '404');
        const na = await fetch(`${srv.url}/health`, { method: 'POST' });
        await na.arrayBuffer();
        assert.equal(na.status, 405);
        checkSecurityHeaders(na, '405');
    });

    test('Cache-Control: no-store on /api/v1/clinic', async () => {
        const res = await fetch(`${srv.url}/api/v1/clinic`);
        await res.arrayBuffer();
        assert.match(res.headers.get('cache-control') ?? '', /no-store/);
    });
});

describe('errors', () => {
    test('unknown path → 404 problem+json', async () => {
        const res = await fetch(`${srv.url}/api/v1/no-such-thing`);
        const body = await assertProblem(res, 404);
        assert.match(body.requestId, UUID_RE);
    });

    test('POST /health → 405 with Allow containing GET', async () => {
        const res = await fetch(`${srv.url}/health`, { method: 'POST' });
        await assertProblem(res, 405);
        const allow = (res.headers.get('allow') ?? '').split(/\s*,\s*/);
        assert.ok(allow.includes('GET'), `Allow: ${res.headers.get('allow')}`);
        assert.ok(!allow.includes('POST'));
    });

    test('DELETE and PUT on a GET route → 405', async () => {
        for (const method of ['DELETE', 'PUT', 'PATCH']) {
            const res = await fetch(`${srv.url}/api/v1/clinic`, { method });
            await assertProblem(res, 405);
        }
    });

    test('path traversal is never served', async () => {
        const r1 = parseRawResponse((await rawRequest(srv.port,
            get('/api/v1/../../etc/passwd'))).data);
        assert.ok([400, 404].includes(r1.status), `status ${r1.status}`);
        assertNotServed(r1, '/api/v1/../../etc/passwd');
        for (const p of ['/health/%2e%2e/x', '/health/%2E%2E/%2E%2E/etc/passwd',
                         '/api/v1/..%2f..%2fetc%2fpasswd', '/./health', '/health/..']) {
            const r = parseRawResponse((await rawRequest(srv.port, get(p))).data);
            assert.ok([400, 404].includes(r.status), `${p}: status ${r.status}`);
            assertNotServed(r, p);
        }
    });

    test('a body on a GET route → 4xx', async () => {
        const raw = await rawRequest(srv.port,
            `GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}Content-Type: application/json${CRLF}` +
            `Content-Length: 2${CRLF}${CRLF}{}`);
        const r = parseRawResponse(raw.data);
        assert.ok(r.status >= 400 && r.status < 500, `status ${r.status}`);
        const chunked = await rawRequest(srv.port,
            `GET /api/v1/clinic HTTP/1.1${CRLF}Host: localhost${CRLF}Content-Type: application/json${CRLF}` +
            `Transfer-Encoding: chunked${CRLF}${CRLF}2${CRLF}{}${CRLF}0${CRLF}${CRLF}`);
        const c = parseRawResponse(chunked.data);
        assert.ok(c.status >= 400 && c.status < 500, `chunked: status ${c.status}`);
    });

    test('Content-Length with Transfer-Encoding → 400 and the connection closes', async () => {
        for (const method of ['POST', 'GET']) {
            const raw = await rawRequest(srv.port,
                `${method} /health HTTP/1.1${CRLF}Host: localhost${CRLF}Content-Length: 5${CRLF}` +
                `Transfer-Encoding: chunked${CRLF}${CRLF}0${CRLF}${CRLF}` +
                `GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`, { timeoutMs: 4000 });
            const r = parseRawResponse(raw.data);
            assert.equal(r.status, 400, method);
            assert.equal(raw.closed, true, `${method}: connection left open`);
            // the smuggled second request must not have been answered
            assert.equal(raw.data.match(/HTTP\/1\.1 \d{3}/g).length, 1, raw.data);
        }
    });

    test('conflicting Content-Length headers → 400 and the connection closes', async () => {
        for (const [a, b] of [['0', '5'], ['5', '0']]) {
            const raw = await rawRequest(srv.port,
                `GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}Content-Length: ${a}${CRLF}` +
                `Content-Length: ${b}${CRLF}${CRLF}hello`, { timeoutMs: 4000 });
            const r = parseRawResponse(raw.data);
            assert.equal(r.status, 400, `Content-Length ${a} then ${b}`);
            assert.equal(raw.closed, true, `Content-Length ${a} then ${b}: connection left open`);
        }
    });

    test('a 100 KB header → 4xx or closed, and the server keeps serving', async () => {
        const raw = await rawRequest(srv.port,
            `GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}X-Big: ${'a'.repeat(100 * 1024)}${CRLF}` +
            `Connection: close${CRLF}${CRLF}`, { timeoutMs: 4000 });
        const r = parseRawResponse(raw.data);
        assert.ok(raw.closed || (r.status >= 400 && r.status < 500), `status ${r.status}`);
        assert.ok(r.status === 0 || (r.status >= 400 && r.status < 500), `status ${r.status}`);
        const res = await fetch(`${srv.url}/health`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
    });

    test('invalid percent-encoding and control characters in the path → 4xx', async () => {
        const paths = ['/health%zz', '/he%alth', '/health%', '/health%0', '/health%00',
                       '/health%00/x', '/api/v1/clinic%00.json', '/health%0a', '/health%0d%0aX-Evil:%201',
                       '/health%7f', '/hea\x01lth', '/health\x7f'];
        for (const p of paths) {
            const raw = await rawRequest(srv.port, get(p));
            const r = parseRawResponse(raw.data);
            assert.ok(raw.closed || r.status !== 0, `${JSON.stringify(p)}: no answer`);
            if (r.status !== 0)
                assert.ok(r.status >= 400 && r.status < 500, `${JSON.stringify(p)}: status ${r.status}`);
            assert.ok(!/^X-Evil/im.test(raw.data), 'header injection');
        }
        const ok = await fetch(`${srv.url}/health`);
        assert.equal(ok.status, 200);
        await ok.arrayBuffer();
    });
});

describe('CORS', () => {
    test('the allowed origin is echoed with Vary: Origin', async () => {
        const res = await fetch(`${srv.url}/api/v1/clinic`, { headers: { Origin: 'http://localhost:3000' } });
        await res.arrayBuffer();
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
        assert.match(res.headers.get('vary') ?? '', /\bOrigin\b/i);
    });

    test('other origins and "null" get no CORS grant', async () => {
        for (const origin of ['https://evil.example', 'null', 'http://localhost:3000.evil.example',
                              'http://localhost:30000', 'https://localhost:3000']) {
            const res = await fetch(`${srv.url}/api/v1/clinic`, { headers: { Origin: origin } });
            await res.arrayBuffer();
            assert.equal(res.headers.get('access-control-allow-origin'), null, origin);
            assert.equal(res.headers.get('access-control-allow-credentials'), null, origin);
        }
    });

    test('preflight from the allowed origin → 204 with methods and headers', async () => {
        const res = await fetch(`${srv.url}/api/v1/clinic`, {
            method: 'OPTIONS',
            headers: {
                Origin: 'http://localhost:3000',
                'Access-Control-Request-Method': 'GET',
                'Access-Control-Request-Headers': 'authorization, content-type',
            },
        });
        assert.equal(res.status, 204);
        assert.equal(await res.text(), '');
        assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:3000');
        assert.match(res.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);
        assert.match(res.headers.get('access-control-allow-headers') ?? '', /\bAuthorization\b/i);
    });

    test('preflight from another origin grants nothing', async () => {
        const res = await fetch(`${srv.url}/api/v1/clinic`, {
            method: 'OPTIONS',
            headers: { Origin: 'https://evil.example', 'Access-Control-Request-Method': 'GET' },
        });
        await res.arrayBuffer();
        assert.equal(res.headers.get('access-control-allow-origin'), null);
        assert.equal(res.headers.get('access-control-allow-methods'), null);
    });
});

describe('keep-alive', () => {
    test('200 requests on one connection are all answered', async () => {
        const N = 200;
        const paths = ['/health', '/api/v1/clinic', '/nope', '/health/ready'];
        const sock = net.connect({ host: '127.0.0.1', port: srv.port });
        await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
        let buf = Buffer.alloc(0);
        let closed = false;
        let wake = null;
        sock.on('data', (d) => { buf = Buffer.concat([buf, d]); wake?.(); });
        sock.on('close', () => { closed = true; wake?.(); });
        sock.on('error', () => {});
        // reads one response (Content-Length framed) off buf
        async function readResponse() {
            const deadline = Date.now() + 3000;
            for (;;) {
                const end = buf.indexOf('\r\n\r\n');
                if (end >= 0) {
                    const head = buf.subarray(0, end).toString('latin1');
                    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
                    const len = m ? Number(m[1]) : 0;
                    if (buf.length >= end + 4 + len) {
                        buf = buf.subarray(end + 4 + len);
                        return parseRawResponse(head + '\r\n\r\n');
                    }
                }
                if (closed) throw new Error('connection closed early');
                if (Date.now() > deadline) throw new Error('timed out waiting for a response');
                await new Promise((r) => { wake = r; setTimeout(r, 100); });
                wake = null;
            }
        }
        try {
            const ids = new Set();
            for (let i = 0; i < N; i++) {
                const path = paths[i % paths.length];
                sock.write(`GET ${path} HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`);
                const r = await readResponse();
                assert.equal(r.status, path === '/nope' ? 404 : 200, `request ${i} ${path}`);
                assert.notEqual(r.headers.connection, 'close', `request ${i} closed the connection`);
                ids.add(r.headers['x-request-id']);
            }
            assert.equal(ids.size, N);
            // pipelined: several requests in one write
            sock.write(`GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`.repeat(10));
            for (let i = 0; i < 10; i++) assert.equal((await readResponse()).status, 200);
        } finally {
            sock.destroy();
        }
    });
});
