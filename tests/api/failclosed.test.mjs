// security.md D4 - fail closed: when the authorization data cannot be read, a request for a
// patient's data answers 5xx with a generic problem and a request id, never 200 with data.
// The care_team table (read by policy_patient on every doctor's request) is renamed away
// underneath the running server with the sqlite3 CLI, then restored. SQLite only: on
// PostgreSQL the test database is shared by concurrently running suites, and renaming a
// table there would break them.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { startServer, BACKEND, UUID_RE } from './lib/server.mjs';
import { api, newPatient } from './lib/identity.mjs';
import { newStaff, assign } from './lib/staff.mjs';

const ENV = { RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '100000' };

describe('fail closed (D4)', { skip: BACKEND !== 'sqlite' && 'SQLite only (shared PostgreSQL test database)' }, () => {
    let srv, p, d, admin, dbPath;
    before(async () => {
        srv = await startServer({ env: ENV });
        dbPath = path.join(srv.tmp, 'var', 'test.db');
        p = await newPatient(srv);
        d = await newStaff(srv, 'doctor', ENV);
        admin = await newStaff(srv, 'admin', ENV);
        await assign(srv, admin, p.login.user.id, d.id);
    });
    after(async () => { await srv?.stop(); });

    const sql = (stmt) => execFileSync('sqlite3', ['-cmd', '.timeout 5000', dbPath, stmt]);

    test('a broken care_team answers 5xx with a generic problem, and service comes back', async () => {
        const team = `/api/v1/patients/${p.login.user.id}/care-team`;
        const ok = await api(srv, 'GET', team, { token: d.token });
        assert.equal(ok.status, 200, ok.text);
        assert.deepEqual(ok.json.items.map((x) => x.id), [d.id]);

        sql('ALTER TABLE care_team RENAME TO care_team_broken');
        try {
            for (const path_ of [team, `/api/v1/doctor/patients`]) {
                const r = await api(srv, 'GET', path_, { token: d.token });
                assert.ok(r.status >= 500 && r.status < 600, `${path_}: ${r.status} ${r.text}`);
                assert.match(r.headers.get('content-type'), /^application\/problem\+json/);
                assert.equal(r.json.status, r.status);
                assert.match(r.json.requestId, /\S/);
                assert.equal(r.json.requestId, r.headers.get('x-request-id'));
                assert.match(r.json.detail, /quote the request id|retry shortly/);
                assert.equal(r.json.items, undefined, 'no data in an error');
                // nothing internal leaks: no table names, SQL or driver messages
                assert.doesNotMatch(r.text, /care_team|sqlite|SELECT|no such table/i);
                assert.doesNotMatch(r.text, new RegExp(p.login.user.id));
            }
        } finally {
            sql('ALTER TABLE care_team_broken RENAME TO care_team');
        }
        const back = await api(srv, 'GET', team, { token: d.token });
        assert.equal(back.status, 200, back.text);
        assert.deepEqual(back.json.items.map((x) => x.id), [d.id]);
        assert.match(back.json.items[0].id, UUID_RE);
    });
});
