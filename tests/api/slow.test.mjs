// Slow and idle clients: the connection timeout cuts off a stalled request, and many idle
// connections do not starve a fresh client.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { sleep, startServer } from './lib/server.mjs';

/** Connects to port (optionally from localAddress); resolves with the socket. */
function connect(port, localAddress) {
    return new Promise((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.1', port, localAddress });
        s.once('connect', () => resolve(s));
        s.once('error', reject);
    });
}

/** GET /health on a fresh connection; resolves with {status, ms}. */
async function timedHealth(port, localAddress) {
    const t0 = Date.now();
    const s = await connect(port, localAddress);
    return new Promise((resolve, reject) => {
        let data = '';
        const timer = setTimeout(() => { s.destroy(); reject(new Error('no answer in 3 s')); }, 3000);
        s.setEncoding('latin1');
        s.on('data', (d) => {
            data += d;
            if (/\r\n\r\n[\s\S]*"status":"ok"/.test(data)) {
                clearTimeout(timer);
                s.destroy();
                resolve({ status: Number(data.slice(9, 12)), ms: Date.now() - t0 });
            }
        });
        s.on('error', (e) => { clearTimeout(timer); reject(e); });
        s.on('close', () => {
            clearTimeout(timer);
            reject(new Error(`closed before a full answer: ${JSON.stringify(data)}`));
        });
        s.write('GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    });
}

/** Opens n idle connections; failed ones are skipped. Resolves with {sockets, closed()}. */
async function openIdle(port, n) {
    const results = await Promise.allSettled(Array.from({ length: n }, () => connect(port)));
    const sockets = results.filter((r) => r.status === 'fulfilled').map((r) => r.value);
    let closed = 0;
    for (const s of sockets) {
        s.on('error', () => {});
        s.on('close', () => { closed++; });
    }
    return { sockets, closed: () => closed };
}

describe('slow clients', () => {
    let srv;
    before(async () => {
        srv = await startServer({ env: { HTTP_CONNECTION_TIMEOUT: '2s', HTTP_HEADER_TIMEOUT: '2s', HTTP_MAX_CONNECTIONS_PER_IP: '0' } });
    });
    after(async () => { await srv?.stop(); });

    test('a stalled partial request line is cut off by the connection timeout', async () => {
        const s = await connect(srv.port);
        const t0 = Date.now();
        let data = '';
        s.setEncoding('latin1');
        s.on('data', (d) => { data += d; });
        s.on('error', () => {});
        const closed = new Promise((resolve) => s.on('close', () => resolve(Date.now() - t0)));
        s.write('GET /hea');
        const ms = await Promise.race([closed, sleep(6000).then(() => -1)]);
        s.destroy();
        assert.notEqual(ms, -1, 'connection still open after 6 s');
        assert.ok(ms >= 1000, `closed after only ${ms} ms`);
        assert.ok(ms <= 5000, `closed after ${ms} ms`);
        assert.ok(!/HTTP\/1\.1 200/.test(data), 'a partial request was answered with 200');
    });

    // HTTP_CONNECTION_TIMEOUT is an idle timeout, which a client trickling its headers never
    // trips (slowloris); HTTP_HEADER_TIMEOUT is a deadline for the whole header phase.
    test('headers trickled a byte at a time are cut off at HTTP_HEADER_TIMEOUT', async () => {
        const s = await connect(srv.port);
        s.on('error', () => {});
        const t0 = Date.now();
        const closed = new Promise((resolve) => s.on('close', () => resolve(Date.now() - t0)));
        const req = `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: ${'a'.repeat(100)}`;
        let i = 0;
        const iv = setInterval(() => { if (i < req.length && !s.destroyed) s.write(req[i++]); }, 400);
        const ms = await Promise.race([closed, sleep(5000).then(() => -1)]);
        clearInterval(iv);
        s.destroy();
        assert.notEqual(ms, -1, 'a trickling client kept its connection for 5 s');
        assert.ok(ms >= 1500, `cut off after only ${ms} ms`);
    });

    test('500 idle connections do not starve a fresh client', async () => {
        const idle = await openIdle(srv.port, 500);
        try {
            assert.ok(idle.sockets.length >= 490, `only ${idle.sockets.length} of 500 connected`);
            const r = await timedHealth(srv.port);
            assert.equal(r.status, 200);
            assert.ok(r.ms < 1000, `/health took ${r.ms} ms with 500 idle connections`);
        } finally {
            for (const s of idle.sockets) s.destroy();
        }
    });
});

describe('per-address connection limit', () => {
    let srv;
    before(async () => {
        srv = await startServer({ env: { HTTP_CONNECTION_TIMEOUT: '5s', HTTP_MAX_CONNECTIONS_PER_IP: '64' } });
    });
    after(async () => { await srv?.stop(); });

    test('one address cannot take every connection; another address is still served', async () => {
        const idle = await openIdle(srv.port, 200);
        try {
            // the server drops connections over the per-address limit
            const end = Date.now() + 2000;
            while (idle.sockets.length - idle.closed() > 64 && Date.now() < end) await sleep(20);
            const open = idle.sockets.length - idle.closed();
            assert.ok(open <= 64, `${open} connections from one address stayed open (limit 64)`);
            // 127.0.0.2 is a different client address on the loopback interface
            const r = await timedHealth(srv.port, '127.0.0.2');
            assert.equal(r.status, 200);
            assert.ok(r.ms < 1000, `/health took ${r.ms} ms`);
        } finally {
            for (const s of idle.sockets) s.destroy();
        }
        // and once they are gone, the first address is served again
        await sleep(200);
        const again = await timedHealth(srv.port);
        assert.equal(again.status, 200);
    });
});
