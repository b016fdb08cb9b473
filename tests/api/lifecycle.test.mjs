// Process lifecycle and operations: graceful shutdown, the CLI, configuration, generated
// secrets, request logs, migrations.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { UUID_RE, makeTmp, parseRawResponse, rawRequest, removeTmp, runCli, sleep,
         startServer } from './lib/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CRLF = '\r\n';
const SECRET_KEYS = ['JWT_SECRET', 'JWT_REFRESH_SECRET', 'API_KEY_ENCRYPTION_SECRET',
                     'DATA_ENCRYPTION_KEY', 'AUDIT_HMAC_SECRET'];

const names = (text) => [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((m) => m[1]);
const kv = (text) => Object.fromEntries([...text.matchAll(/^([A-Z][A-Z0-9_]*)=(.*)$/gm)]
    .map((m) => [m[1], m[2]]));

/** Waits until predicate(logs) is true or ms pass; returns the logs. */
async function waitLogs(srv, predicate, ms = 2000) {
    const end = Date.now() + ms;
    for (;;) {
        const logs = srv.logs();
        if (predicate(logs) || Date.now() > end) return logs;
        await sleep(20);
    }
}

/** A connected keep-alive socket that collects everything it reads. */
async function openConn(port) {
    const sock = net.connect({ host: '127.0.0.1', port });
    await new Promise((res, rej) => { sock.once('connect', res); sock.once('error', rej); });
    const c = { sock, data: '', closed: false };
    sock.setEncoding('latin1');
    sock.on('data', (d) => { c.data += d; });
    sock.on('close', () => { c.closed = true; });
    sock.on('error', () => {});
    return c;
}

/** Splits raw data into complete Content-Length framed responses; returns {responses, rest}. */
function splitResponses(data) {
    const responses = [];
    let rest = data;
    for (;;) {
        const end = rest.indexOf('\r\n\r\n');
        if (end < 0) break;
        const r = parseRawResponse(rest.slice(0, end + 4));
        const len = Number(r.headers['content-length'] ?? 0);
        if (rest.length < end + 4 + len) break;
        r.body = rest.slice(end + 4, end + 4 + len);
        responses.push(r);
        rest = rest.slice(end + 4 + len);
    }
    return { responses, rest };
}

describe('graceful shutdown', () => {
    test('SIGTERM → exit 0, logs "shutting down" then "stopped"', async () => {
        const srv = await startServer();
        const res = await fetch(`${srv.url}/health`);
        assert.equal(res.status, 200);
        await res.arrayBuffer();
        const t0 = Date.now();
        const code = await srv.stop('SIGTERM');
        const took = Date.now() - t0;
        assert.equal(code, 0);
        assert.ok(took < 11000, `took ${took} ms`);
        const msgs = srv.logs().map((l) => l.msg);
        const a = msgs.indexOf('shutting down');
        const b = msgs.indexOf('stopped');
        assert.ok(a >= 0, 'logged "shutting down"');
        assert.ok(b > a, 'logged "stopped" after "shutting down"');
        const sd = srv.logs()[a];
        assert.equal(sd.signal, 'SIGTERM');
    });

    test('SIGINT also stops cleanly', async () => {
        const srv = await startServer();
        assert.equal(await srv.stop('SIGINT'), 0);
        assert.ok(srv.logs().some((l) => l.msg === 'stopped'));
    });

    test('idle keep-alive connections do not hold up shutdown', async () => {
        const srv = await startServer();
        const conns = [];
        for (let i = 0; i < 5; i++) {
            const c = await openConn(srv.port);
            c.sock.write(`GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`);
            conns.push(c);
        }
        await waitFor(() => conns.every((c) => splitResponses(c.data).responses.length === 1));
        const t0 = Date.now();
        assert.equal(await srv.stop(), 0);
        assert.ok(Date.now() - t0 < 3000, `shutdown took ${Date.now() - t0} ms with idle clients`);
        await waitFor(() => conns.every((c) => c.closed));
        for (const c of conns) {
            assert.ok(c.closed, 'idle connection closed');
            c.sock.destroy();
        }
    });

    test('requests sent right before SIGTERM get complete responses', async () => {
        const srv = await startServer();
        const N = 10;
        const conns = [];
        // established connections (accepted and served once), so the requests below are
        // on sockets the server already owns
        for (let i = 0; i < N; i++) {
            const c = await openConn(srv.port);
            c.sock.write(`GET /health HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`);
            conns.push(c);
        }
        await waitFor(() => conns.every((c) => splitResponses(c.data).responses.length === 1));
        const paths = ['/health/ready', '/api/v1/clinic', '/metrics', '/api/v1/openapi.yaml', '/health'];
        await Promise.all(conns.map((c, i) => new Promise((res) => c.sock.write(
            `GET ${paths[i % paths.length]} HTTP/1.1${CRLF}Host: localhost${CRLF}${CRLF}`, res))));
        await sleep(50);
        const code = await srv.stop('SIGTERM');
        assert.equal(code, 0);
        await waitFor(() => conns.every((c) => c.closed), 3000);
        for (const [i, c] of conns.entries()) {
            const { responses, rest } = splitResponses(c.data);
            assert.equal(responses.length, 2, `connection ${i}: ${JSON.stringify(c.data.slice(-300))}`);
            assert.equal(responses[1].status, 200, `connection ${i} ${paths[i % paths.length]}`);
            assert.equal(rest, '', `connection ${i}: trailing partial response`);
            assert.ok(c.closed, `connection ${i} closed after shutdown`);
            c.sock.destroy();
        }
    });
});

async function waitFor(pred, ms = 2000) {
    const end = Date.now() + ms;
    while (!pred() && Date.now() < end) await sleep(10);
}

describe('command line', () => {
    test('--version prints a version and exits 0', () => {
        const r = runCli(['--version']);
        assert.equal(r.status, 0);
        assert.match(r.stdout, /^mimicare \d+\.\d+\.\d+\S*\n$/);
    });

    test('--help exits 0 and lists the commands', () => {
        const r = runCli(['--help']);
        assert.equal(r.status, 0);
        assert.match(r.stdout, /serve/);
        assert.match(r.stdout, /migrate/);
    });

    test('unknown command → exit 2 with usage on stderr', () => {
        const r = runCli(['frobnicate']);
        assert.equal(r.status, 2);
        assert.match(r.stderr, /frobnicate/);
        assert.match(r.stderr, /usage: mimicare/);
        assert.equal(r.stdout, '');
    });

    test('no command → exit 2', () => {
        const r = runCli([]);
        assert.equal(r.status, 2);
        assert.match(r.stderr, /usage: mimicare/);
    });

    test('unknown flag on serve → exit 2', () => {
        const r = runCli(['serve', '--frobnicate']);
        assert.equal(r.status, 2);
        assert.match(r.stderr, /--frobnicate/);
        assert.match(r.stderr, /usage: mimicare serve/);
    });

    test('bad --port on serve → exit 2', () => {
        for (const p of ['abc', '70000', '-1']) {
            const r = runCli(['serve', '--port', p]);
            assert.equal(r.status, 2, `--port ${p}`);
        }
    });

    test('serve --help → exit 0 with usage on stdout', () => {
        const r = runCli(['serve', '--help']);
        assert.equal(r.status, 0);
        assert.match(r.stdout, /usage: mimicare serve/);
    });

    test('secrets prints distinct values of at least 32 characters', () => {
        const r = runCli(['secrets']);
        assert.equal(r.status, 0);
        const got = kv(r.stdout);
        for (const k of SECRET_KEYS) {
            assert.ok(got[k], `${k} printed`);
            assert.ok(got[k].length >= 32, `${k} has ${got[k].length} chars`);
            assert.match(got[k], /^[A-Za-z0-9_\-+/=]+$/, `${k} is shell-safe`);
        }
        const values = Object.values(got);
        assert.equal(new Set(values).size, values.length, 'values are distinct');
        const again = kv(runCli(['secrets']).stdout);
        assert.notEqual(again.JWT_SECRET, got.JWT_SECRET, 'fresh on each run');
    });
});

describe('configuration', () => {
    test('config check with bad BACKEND_PORT and LOG_LEVEL → exit 1 listing both', () => {
        const r = runCli(['config', 'check'], { env: { BACKEND_PORT: 'abc', LOG_LEVEL: 'loud' } });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /BACKEND_PORT.*abc/);
        assert.match(r.stderr, /LOG_LEVEL.*loud/);
    });

    test('config check in production without secrets → exit 1 naming JWT_SECRET', () => {
        const r = runCli(['config', 'check'], { env: { APP_ENV: 'production' } });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /JWT_SECRET/);
    });

    test('config check passes with a good environment and masks secrets', () => {
        const secrets = kv(runCli(['secrets']).stdout);
        const r = runCli(['config', 'check'], { env: { ...secrets, APP_ENV: 'production',
            DATABASE_URL: 'postgresql://u:hunter2pw@127.0.0.1:5432/x' } });
        assert.equal(r.status, 0, r.stderr);
        for (const v of Object.values(secrets)) assert.ok(!r.stdout.includes(v), 'secret printed');
        assert.ok(!r.stdout.includes('hunter2pw'), 'database password printed');
    });

    test('config example documents every variable config check prints', () => {
        const check = runCli(['config', 'check']);
        const example = runCli(['config', 'example']);
        assert.equal(example.status, 0);
        const checked = names(check.stdout);
        const documented = new Set(names(example.stdout));
        assert.ok(checked.length >= 30, `config check printed ${checked.length} variables`);
        const missing = checked.filter((n) => !documented.has(n));
        assert.deepEqual(missing, [], 'variables missing from config example');
    });

    test('the checked-in .env.example equals `mimicare config example`', () => {
        const file = path.join(HERE, '..', '..', '.env.example');
        assert.ok(fs.existsSync(file), `${file} does not exist; generate it with \`mimicare config example > .env.example\``);
        const example = runCli(['config', 'example']);
        assert.equal(example.status, 0);
        assert.equal(fs.readFileSync(file, 'utf8'), example.stdout,
                     '.env.example is stale: regenerate it with `mimicare config example > .env.example`');
    });

    test('development: serve generates DATA_DIR/secrets.env (0600) and reuses it', async () => {
        const tmp = makeTmp();
        try {
            const file = path.join(tmp, 'var', 'secrets.env');
            const a = await startServer({ tmp, env: { APP_ENV: 'development', AUDIT_HMAC_SECRET: undefined } });
            assert.equal(await a.stop(), 0);
            assert.ok(fs.existsSync(file), 'secrets.env created');
            assert.equal(fs.statSync(file).mode & 0o777, 0o600);
            const first = fs.readFileSync(file, 'utf8');
            const keys = kv(first);
            for (const k of SECRET_KEYS) assert.ok(keys[k]?.length >= 32, `${k} generated`);
            assert.equal(new Set(Object.values(keys)).size, SECRET_KEYS.length, 'distinct keys');
            assert.ok(!a.stderr().includes(keys.JWT_SECRET), 'generated secret logged');

            const b = await startServer({ tmp, env: { APP_ENV: 'development', AUDIT_HMAC_SECRET: undefined } });
            assert.equal(await b.stop(), 0);
            assert.equal(fs.readFileSync(file, 'utf8'), first, 'secrets.env changed on restart');
            assert.equal(fs.statSync(file).mode & 0o777, 0o600);
        } finally {
            removeTmp(tmp);
        }
    });
});

describe('logs', () => {
    test('startup logs "listening" with readyUs', async () => {
        const srv = await startServer();
        try {
            const l = srv.logs().find((x) => x.msg === 'listening');
            assert.equal(typeof l.readyUs, 'number');
            assert.ok(l.readyUs > 0 && l.readyUs < 10_000_000, `readyUs ${l.readyUs}`);
            assert.equal(l.port, srv.port);
            assert.match(l.ts, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
            assert.equal(l.level, 'info');
        } finally {
            await srv.stop();
        }
    });

    test('request lines carry the fields and never the query string', async () => {
        const srv = await startServer();
        try {
            const res = await fetch(`${srv.url}/health?token=SECRET123&x=1`,
                                    { headers: { 'X-Request-Id': 'req-logtest-0001' } });
            assert.equal(res.status, 200);
            const len = (await res.arrayBuffer()).byteLength;
            const nf = await fetch(`${srv.url}/nope/SECRET123?token=SECRET123`);
            await nf.arrayBuffer();
            const logs = await waitLogs(srv, (ls) => ls.filter((l) => l.msg === 'request').length >= 2);
            assert.ok(!srv.stderr().includes('SECRET123'), 'query or path leaked into the logs');
            const reqs = logs.filter((l) => l.msg === 'request');
            assert.equal(reqs.length, 2);
            for (const l of reqs) {
                assert.equal(typeof l.method, 'string');
                assert.equal(typeof l.route, 'string');
                assert.equal(typeof l.status, 'number');
                assert.equal(typeof l.durationUs, 'number');
                assert.equal(typeof l.bytes, 'number');
                assert.equal(typeof l.requestId, 'string');
            }
            const h = reqs.find((l) => l.requestId === 'req-logtest-0001');
            assert.ok(h, 'request line with the client request id');
            assert.equal(h.method, 'GET');
            assert.equal(h.route, '/health');
            assert.equal(h.status, 200);
            assert.equal(h.bytes, len);
            const u = reqs.find((l) => l.status === 404);
            assert.match(u.requestId, UUID_RE);
            assert.equal(u.requestId, nf.headers.get('x-request-id'));
        } finally {
            await srv.stop();
        }
    });

    test('hostile input never breaks the JSON log lines', async () => {
        // Nothing the client controls reaches a log field verbatim at info level (request
        // ids are validated, routes are templates), so this checks the weaker property:
        // every line stays one valid JSON object. debug also includes libmicrohttpd's notes.
        const srv = await startServer({ env: { LOG_LEVEL: 'debug' } });
        try {
            const bad = [
                `GET /a\x1bb HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`,
                `GET /x HTTP/1.1${CRLF}Host: x${CRLF}X-Request-Id: abc\x01def"ghij\\${CRLF}${CRLF}`,
                `G\x1bT / HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`,
                `GET /\xff\xfe"\\ HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`,
                `GET /health HTTP/1.1${CRLF}Host: x\x7f"}${CRLF}${CRLF}`,
                `FOO\x01 /health HTTP/1.1${CRLF}Host: x${CRLF}${CRLF}`,
                `GET / HTTP/9.9${CRLF}Host: x${CRLF}${CRLF}`,
            ];
            for (const b of bad) await rawRequest(srv.port, b, { timeoutMs: 300 });
            await waitLogs(srv, (ls) => ls.filter((l) => l.msg === 'request').length >= 4);
            for (const line of srv.stderr().split('\n')) {
                if (line === '') continue;
                assert.doesNotThrow(() => JSON.parse(line), `not JSON: ${JSON.stringify(line)}`);
                assert.ok(!/[\x00-\x1f\x7f]/.test(line), `raw control character in ${JSON.stringify(line)}`);
            }
        } finally {
            await srv.stop();
        }
    });
});

describe('migrations', () => {
    test('migrate twice: the second run applies nothing', () => {
        const tmp = makeTmp();
        try {
            const first = runCli(['migrate'], { tmp });
            assert.equal(first.status, 0, first.stderr);
            const second = runCli(['migrate'], { tmp });
            assert.equal(second.status, 0, second.stderr);
            const done = second.stderr.split('\n').filter(Boolean).map((l) => JSON.parse(l))
                .find((l) => l.msg === 'migrations up to date');
            assert.ok(done, second.stderr);
            assert.equal(done.applied, 0);
            const status = runCli(['migrate', '--status'], { tmp });
            assert.equal(status.status, 0);
            assert.match(status.stdout, /migrations: \d+ known, 0 pending/);
        } finally {
            removeTmp(tmp);
        }
    });
});
