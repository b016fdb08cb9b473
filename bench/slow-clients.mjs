// Purpose: hold N slow connections (default 10 000, spread over 127.0.0.x source
// addresses so the per-address limit does not refuse them) that each send a partial
// request line and then trickle a byte now and then, and measure what a fresh client
// sees meanwhile: /health status and latency, the server's RSS, and how many slow
// connections the server cut off at HTTP_HEADER_TIMEOUT. Loopback only, bounded in time.
//
// usage: node bench/slow-clients.mjs PORT SERVER_PID [N] [SECONDS]
import net from 'node:net';
import fs from 'node:fs';

const [port, pid, n = '10000', secs = '15'] = process.argv.slice(2).map(String);
const N = Number(n);
const perAddr = 200;
const sockets = [];
let closedByServer = 0;
let refused = 0;

function rssKb() {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : -1;
}

function health() {
    return new Promise((resolve) => {
        const t0 = process.hrtime.bigint();
        const s = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: '127.0.0.1' });
        let data = '';
        s.setEncoding('latin1');
        s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
        s.on('data', (d) => { data += d; });
        s.on('close', () => resolve({
            status: Number((/^HTTP\/1\.1 (\d+)/.exec(data) || [0, 0])[1]),
            ms: Number(process.hrtime.bigint() - t0) / 1e6,
        }));
        s.on('error', () => {});
        setTimeout(() => s.destroy(), 5000);
    });
}

const rss0 = rssKb();
const start = Date.now();
for (let i = 0; i < N; i++) {
    const addr = `127.0.${2 + Math.floor(i / perAddr / 250)}.${1 + (Math.floor(i / perAddr) % 250)}`;
    const s = net.connect({ port: Number(port), host: '127.0.0.1', localAddress: addr });
    s.on('connect', () => s.write('GET /health HTTP/1.1\r\nX-Slow: '));
    s.on('error', () => { refused++; });
    s.on('close', (hadError) => { if (!hadError) closedByServer++; });
    sockets.push(s);
    if (i % 500 === 499) await new Promise((r) => setTimeout(r, 20));
}
await new Promise((r) => setTimeout(r, 1000));
const trickle = setInterval(() => {
    for (const s of sockets) if (!s.destroyed) s.write('a');
}, 1000);
const samples = [];
while (Date.now() - start < Number(secs) * 1000) {
    samples.push(await health());
    await new Promise((r) => setTimeout(r, 250));
}
const rssPeak = rssKb();
clearInterval(trickle);
const open = sockets.filter((s) => !s.destroyed).length;
for (const s of sockets) s.destroy();
samples.sort((a, b) => a.ms - b.ms);
const ok = samples.filter((x) => x.status === 200).length;
console.log(`slow clients: ${N} opened over ${Math.ceil(N / perAddr)} source addresses, ` +
    `${refused} refused/reset, ${closedByServer} cut off by the server, ${open} still open at the end`);
console.log(`fresh /health during the attack: ${ok}/${samples.length} answered 200, ` +
    `p50 ${samples[Math.floor(samples.length / 2)].ms.toFixed(1)} ms, ` +
    `max ${samples[samples.length - 1].ms.toFixed(1)} ms`);
console.log(`server RSS: ${rss0} kB before, ${rssPeak} kB with the slow clients`);
