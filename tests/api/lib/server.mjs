// Test helpers: start the mimicare binary on a free port in a throw-away directory,
// collect its JSON log lines, and talk raw HTTP over a socket.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.MC_BIN;
export const BACKEND = process.env.MC_TEST_BACKEND || 'sqlite';

if (!BIN) throw new Error('MC_BIN must be set to the absolute path of the mimicare binary');
if (BACKEND !== 'sqlite' && BACKEND !== 'postgres')
    throw new Error(`MC_TEST_BACKEND must be sqlite or postgres, not '${BACKEND}'`);
if (BACKEND === 'postgres' && !process.env.TEST_DATABASE_URL)
    throw new Error('MC_TEST_BACKEND=postgres needs TEST_DATABASE_URL');

const tmpDirs = new Set();
const liveProcs = new Set();
process.on('exit', () => {
    // a test that crashed before its after() hook must not leave servers behind
    for (const p of liveProcs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh temp dir, removed when the process exits (or by the caller). */
export function makeTmp() {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'mc-api-'));
    tmpDirs.add(d);
    return d;
}

export function removeTmp(d) {
    fs.rmSync(d, { recursive: true, force: true });
    tmpDirs.delete(d);
}

/** The minimal environment the binary runs with; `overrides` win (undefined deletes). */
export function baseEnv(tmp, overrides = {}) {
    const env = {
        PATH: process.env.PATH,
        APP_ENV: 'test',
        DATA_DIR: path.join(tmp, 'var'),
        DATABASE_URL: BACKEND === 'postgres' ? process.env.TEST_DATABASE_URL
                                             : `sqlite:${path.join(tmp, 'var', 'test.db')}`,
        LOG_LEVEL: 'info',
        ENABLE_REQUEST_LOGGING: 'true',
        FRONTEND_URL: 'http://localhost:3000',
        // on PostgreSQL every server of a run appends to one audit chain: one key for all
        AUDIT_HMAC_SECRET: 'test-only-audit-key-0123456789abcdefghijklmnop',
        // every test file talks from 127.0.0.1; the per-address limit has its own test
        RATE_LIMIT_MAX_REQUESTS: '100000',
    };
    for (const [k, v] of Object.entries(overrides)) {
        if (v === undefined) delete env[k];
        else env[k] = String(v);
    }
    return env;
}

function parseLines(text) {
    const out = [];
    for (const line of text.split('\n')) {
        if (line.trim() === '') continue;
        try {
            out.push(JSON.parse(line));
        } catch {
            out.push({ unparsed: line });
        }
    }
    return out;
}

/**
 * Starts `mimicare serve --port 0` and waits for its "listening" log line.
 * opts.env: overrides for baseEnv; opts.args: extra serve arguments;
 * opts.tmp: reuse this directory (then it is not removed by stop()).
 */
export function startServer({ env = {}, args = [], tmp, timeoutMs = 10000 } = {}) {
    const ownTmp = tmp === undefined;
    const dir = tmp ?? makeTmp();
    fs.mkdirSync(path.join(dir, 'var'), { recursive: true });
    const proc = spawn(BIN, ['serve', '--port', '0', ...args], {
        cwd: dir,
        env: baseEnv(dir, env),
        stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    liveProcs.add(proc);
    const exited = new Promise((resolve) => {
        proc.on('exit', (code, signal) => {
            liveProcs.delete(proc);
            resolve(code ?? (signal ? 128 : -1));
        });
    });
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (d) => { stdout += d; });
    proc.stderr.setEncoding('utf8');

    return new Promise((resolve, reject) => {
        let done = false;
        const fail = (why) => {
            if (done) return;
            done = true;
            clearTimeout(timer);
            proc.kill('SIGKILL');
            if (ownTmp) exited.then(() => removeTmp(dir));
            reject(new Error(`${why}\n--- stderr ---\n${stderr}\n--- stdout ---\n${stdout}`));
        };
        const timer = setTimeout(() => fail(`server did not log "listening" within ${timeoutMs} ms`),
                                 timeoutMs);
        proc.on('error', (e) => fail(`cannot spawn ${BIN}: ${e.message}`));
        exited.then((code) => fail(`server exited with ${code} before listening`));
        proc.stderr.on('data', (d) => {
            stderr += d;
            if (done) return;
            const line = parseLines(stderr).find((l) => l.msg === 'listening');
            if (!line) return;
            done = true;
            clearTimeout(timer);
            const port = line.port;
            let stopped = null;
            resolve({
                url: `http://127.0.0.1:${port}`,
                port,
                proc,
                tmp: dir,
                exited,
                logs: () => parseLines(stderr),
                stderr: () => stderr,
                stop: (signal = 'SIGTERM') => {
                    if (stopped) return stopped;
                    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
                    stopped = exited.then((code) => {
                        if (ownTmp) removeTmp(dir);
                        // under the sanitizer build a report (leak, overflow, UB) fails the suite
                        const report = /ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:/.exec(stderr);
                        if (report) {
                            throw new Error(`sanitizer report from the server:\n${stderr.slice(report.index, report.index + 4000)}`);
                        }
                        if ((signal === 'SIGTERM' || signal === 'SIGINT') && code !== 0) {
                            throw new Error(`server exited with ${code} after ${signal}\n${stderr.slice(-2000)}`);
                        }
                        return code;
                    });
                    return stopped;
                },
            });
        });
    });
}

/** Runs the binary synchronously with baseEnv(tmp, env); returns {status, stdout, stderr}. */
export function runCli(args, { env = {}, tmp, timeoutMs = 15000, input } = {}) {
    const dir = tmp ?? makeTmp();
    const r = spawnSync(BIN, args, {
        cwd: dir,
        env: baseEnv(dir, env),
        encoding: 'utf8',
        timeout: timeoutMs,
        input,
    });
    if (tmp === undefined) removeTmp(dir);
    if (r.error) throw r.error;
    return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/**
 * Opens a socket to 127.0.0.1:port, writes `bytes` exactly, and resolves with everything
 * read until the server closes the connection ({closed:true}) or timeoutMs passes
 * ({closed:false}). data is a latin1 string (byte-exact).
 */
export function rawRequest(port, bytes, { timeoutMs = 3000 } = {}) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        const sock = net.connect({ host: '127.0.0.1', port });
        let settled = false;
        const finish = (closed) => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            sock.destroy();
            resolve({ data: Buffer.concat(chunks).toString('latin1'), closed });
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        sock.on('connect', () => {
            sock.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
        });
        sock.on('data', (d) => chunks.push(d));
        sock.on('end', () => finish(true));
        sock.on('close', () => finish(true));
        sock.on('error', (e) => {
            // a reset after we got a response still counts as "closed"
            if (e.code === 'ECONNRESET' || e.code === 'EPIPE') finish(true);
            else if (!settled) {
                settled = true;
                clearTimeout(timer);
                reject(e);
            }
        });
    });
}

/** Parses the status line and headers of the first response in raw data. */
export function parseRawResponse(data) {
    const end = data.indexOf('\r\n\r\n');
    const head = end >= 0 ? data.slice(0, end) : data;
    const [statusLine, ...lines] = head.split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine || '');
    const headers = {};
    for (const l of lines) {
        const i = l.indexOf(':');
        if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status: m ? Number(m[1]) : 0, headers, body: end >= 0 ? data.slice(end + 4) : '' };
}

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
