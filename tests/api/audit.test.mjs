// The audit log from the outside: `mimicare audit verify` (exit codes, report, usage) and
// the checkpoint file `serve` keeps in DATA_DIR. Tampering with rows is covered by
// tests/unit/audit_test.c; events from real requests arrive with the login endpoints.
//
// On PostgreSQL each test gets its own schema (created with psql, selected through the
// URL's search_path option): the shared test database holds events that other test
// files' servers wrote with their own keys, which this test's key cannot verify.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { BACKEND, makeTmp, removeTmp, runCli, startServer } from './lib/server.mjs';

const CHECKPOINT_RE = /^(\d+) ([0-9a-f]{64}) ([0-9a-f]{64})\n$/;

function psql(sql) {
    const r = spawnSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql,
                                 process.env.TEST_DATABASE_URL], { encoding: 'utf8' });
    if (r.error || r.status !== 0) throw new Error(`psql: ${r.error?.message ?? r.stderr}`);
}

/** A database of its own: env overrides for baseEnv, and a cleanup function. */
function isolatedDb() {
    if (BACKEND !== 'postgres') return { env: {}, drop: () => {} };
    const schema = `t_api_audit_${crypto.randomBytes(4).toString('hex')}`;
    psql(`CREATE SCHEMA ${schema}`);
    const base = process.env.TEST_DATABASE_URL;
    const url = `${base}${base.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
    return { env: { DATABASE_URL: url }, drop: () => psql(`DROP SCHEMA ${schema} CASCADE`) };
}

describe('audit verify', () => {
    test('usage: --help exits 0; a missing or unknown subcommand or flag exits 2', () => {
        const help = runCli(['audit', 'verify', '--help']);
        assert.equal(help.status, 0);
        assert.match(help.stdout, /usage: mimicare audit verify/);
        assert.equal(runCli(['audit', '--help']).status, 0);
        assert.match(runCli(['--help']).stdout, /audit verify/);
        for (const args of [['audit'], ['audit', 'bogus'], ['audit', 'verify', '--bogus'],
                            ['audit', 'verify', '--checkpoint']]) {
            const r = runCli(args);
            assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
            assert.match(r.stderr, /usage: mimicare audit verify/);
        }
    });

    test('a freshly migrated, empty log is intact', () => {
        const tmp = makeTmp();
        const db = isolatedDb();
        try {
            const m = runCli(['migrate'], { tmp, env: db.env });
            assert.equal(m.status, 0, m.stderr);
            const r = runCli(['audit', 'verify'], { tmp, env: db.env });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.equal(r.stdout, 'audit log intact: 0 events, head 0\n');
            // no checkpoint yet: said on stderr, not an error
            assert.match(r.stderr, /no audit checkpoint yet/);
        } finally {
            db.drop();
            removeTmp(tmp);
        }
    });

    test('serve keeps an authenticated checkpoint; a tampered one fails verify', async () => {
        const tmp = makeTmp();
        const db = isolatedDb();
        try {
            const srv = await startServer({ tmp, env: db.env });
            await srv.stop();
            const file = path.join(tmp, 'var', 'audit-checkpoint');
            assert.equal(fs.statSync(file).mode & 0o777, 0o600);
            const text = fs.readFileSync(file, 'utf8');
            const m = CHECKPOINT_RE.exec(text);
            assert.ok(m, JSON.stringify(text));
            assert.equal(m[1], '0');
            assert.equal(m[2], '0'.repeat(64));

            let r = runCli(['audit', 'verify'], { tmp, env: db.env });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            assert.match(r.stdout, /^audit log intact: 0 events, head 0$/m);
            assert.doesNotMatch(r.stderr, /no audit checkpoint/);

            // claims rows the log does not have, with the old MAC: not authentic
            const copy = path.join(tmp, 'checkpoint-copy');
            fs.writeFileSync(copy, text);
            fs.writeFileSync(file, text.replace(/^0 /, '5 '));
            r = runCli(['audit', 'verify'], { tmp, env: db.env });
            assert.equal(r.status, 1, r.stdout + r.stderr);
            assert.match(r.stdout, /checkpoint .* fails authentication/);
            // a copy kept elsewhere can be named instead
            r = runCli(['audit', 'verify', '--checkpoint', copy], { tmp, env: db.env });
            assert.equal(r.status, 0, r.stdout + r.stderr);
            // another key cannot vouch for it either
            r = runCli(['audit', 'verify', '--checkpoint', copy],
                       { tmp, env: { ...db.env, AUDIT_HMAC_SECRET: 'x'.repeat(40) } });
            assert.equal(r.status, 1, r.stdout + r.stderr);
        } finally {
            db.drop();
            removeTmp(tmp);
        }
    });
});
