// Care teams, break-glass and the admin API over real HTTP (security.md D2, D3, D5, H1).
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { startServer } from './lib/server.mjs';
import { api, newPatient, uniqueEmail, PASSWORD } from './lib/identity.mjs';
import { newStaff, assign } from './lib/staff.mjs';

const ENV = { RATE_LIMIT_LOGIN_MAX: '1000', RATE_LIMIT_MAX_REQUESTS: '100000' };

describe('care teams and break-glass', () => {
    let srv, p, d, admin;
    before(async () => {
        srv = await startServer({ env: ENV });
        p = await newPatient(srv);
        d = await newStaff(srv, 'doctor', ENV);
        admin = await newStaff(srv, 'admin', ENV);
    });
    after(async () => { await srv?.stop(); });

    test('assignment grants access; removal takes effect on the very next request (D2)', async () => {
        const pid = p.login.user.id;
        const team = `/api/v1/patients/${pid}/care-team`;
        assert.equal((await api(srv, 'GET', team, { token: d.token })).status, 404);
        const a = await api(srv, 'POST', team, { token: admin.token, body: { doctorId: d.id } });
        assert.equal(a.status, 201, a.text);
        const dup = await api(srv, 'POST', team, { token: admin.token, body: { doctorId: d.id } });
        assert.equal(dup.status, 409);
        const mine = await api(srv, 'GET', team, { token: p.login.accessToken });
        assert.equal(mine.status, 200);
        assert.deepEqual(mine.json.items.map((x) => x.id), [d.id]);
        assert.match(mine.json.items[0].assignedAt, /Z$/);
        assert.equal((await api(srv, 'GET', team, { token: d.token })).status, 200);
        const list = await api(srv, 'GET', '/api/v1/doctor/patients', { token: d.token });
        assert.equal(list.status, 200);
        assert.deepEqual(list.json.items.map((x) => x.id), [pid]);
        const rm = await api(srv, 'DELETE', `${team}/${d.id}`, { token: admin.token });
        assert.equal(rm.status, 204);
        assert.equal((await api(srv, 'GET', team, { token: d.token })).status, 404, 'no cached grant');
        assert.equal((await api(srv, 'DELETE', `${team}/${d.id}`, { token: admin.token })).status, 404);
        const again = await api(srv, 'GET', '/api/v1/doctor/patients', { token: d.token });
        assert.deepEqual(again.json.items, []);
        const audit = await api(srv, 'GET', `/api/v1/admin/audit?patient=${pid}`, { token: admin.token });
        const actions = audit.json.items.map((e) => e.action);
        assert.ok(actions.includes('care_team_assign') && actions.includes('care_team_remove'));
        assert.ok(audit.json.items.some((e) => e.action === 'authz_fail' && e.actorId === d.id));
    });

    test('assigning unknown or wrong-role users → 404; a bad body → 400', async () => {
        const pid = p.login.user.id;
        const other = await newPatient(srv);
        const post = (patient, body) => api(srv, 'POST', `/api/v1/patients/${patient}/care-team`,
                                            { token: admin.token, body });
        assert.equal((await post(pid, { doctorId: crypto.randomUUID() })).status, 404);
        assert.equal((await post(pid, { doctorId: other.login.user.id })).status, 404, 'not a doctor');
        assert.equal((await post(d.id, { doctorId: d.id })).status, 404, 'not a patient');
        assert.equal((await post(crypto.randomUUID(), { doctorId: d.id })).status, 404);
        assert.equal((await post(pid, { doctorId: d.id, assignedBy: admin.id })).status, 400);
        assert.equal((await post(pid, {})).status, 400);
    });

    test('break-glass: reason required, high-severity audit, shown in the access log (D5)', async () => {
        const pid = p.login.user.id;
        const log = `/api/v1/patients/${pid}/access-log`;
        assert.equal((await api(srv, 'GET', log, { token: admin.token })).status, 404);
        const short = await api(srv, 'GET', log, { token: admin.token, headers: { 'X-Break-Glass-Reason': 'abc' } });
        assert.equal(short.status, 404);
        const reason = 'patient unconscious, checking her record';
        const ok = await api(srv, 'GET', log, { token: admin.token, headers: { 'X-Break-Glass-Reason': reason } });
        assert.equal(ok.status, 200, ok.text);
        const ghost = await api(srv, 'GET', `/api/v1/patients/${crypto.randomUUID()}/access-log`,
                                { token: admin.token, headers: { 'X-Break-Glass-Reason': reason } });
        assert.equal(ghost.status, 404);
        const a = await api(srv, 'GET', `/api/v1/admin/audit?action=break_glass&patient=${pid}`, { token: admin.token });
        assert.equal(a.json.items[0].severity, 'high');
        assert.equal(a.json.items[0].detail, reason);
        const own = await api(srv, 'GET', log, { token: p.login.accessToken });
        assert.equal(own.status, 200);
        const bg = own.json.items.find((e) => e.action === 'break_glass');
        assert.equal(bg.actorId, admin.id);
        assert.equal(bg.detail, reason);
        assert.equal(bg.ip, undefined);
        assert.equal((await api(srv, 'GET', log, { token: d.token })).status, 404, 'doctors do not read it');
    });
});

describe('admin users', () => {
    let srv, admin;
    before(async () => {
        srv = await startServer({ env: ENV });
        admin = await newStaff(srv, 'admin', ENV);
    });
    after(async () => { await srv?.stop(); });

    test('create staff with a generated password shown once; it logs in', async () => {
        const email = uniqueEmail('doc');
        const r = await api(srv, 'POST', '/api/v1/admin/users', { token: admin.token, body: { email, name: 'Dr Wanjiru', role: 'doctor' } });
        assert.equal(r.status, 201, r.text);
        assert.equal(r.json.role, 'doctor');
        assert.equal(r.json.emailVerified, true);
        assert.match(r.json.password, /^[A-Za-z0-9_-]{24}$/);
        const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: r.json.password } });
        assert.equal(login.status, 200, login.text);
        const dup = await api(srv, 'POST', '/api/v1/admin/users', { token: admin.token, body: { email, name: 'x', role: 'doctor' } });
        assert.equal(dup.status, 409);
        const withPw = await api(srv, 'POST', '/api/v1/admin/users', { token: admin.token, body: { email: uniqueEmail(), name: 'x', role: 'admin', password: PASSWORD } });
        assert.equal(withPw.status, 201);
        assert.equal(withPw.json.password, undefined);
        const bad = await api(srv, 'POST', '/api/v1/admin/users', { token: admin.token, body: { email: uniqueEmail(), name: 'x', role: 'root' } });
        assert.equal(bad.status, 422);
    });

    test('search by e-mail or name prefix, role filter and paging', async () => {
        const tag = crypto.randomBytes(4).toString('hex');
        for (let i = 0; i < 3; i++) {
            const r = await api(srv, 'POST', '/api/v1/admin/users', { token: admin.token, body: { email: `zz${tag}${i}@example.org`, name: `Nurse ${tag} ${i}`, role: 'doctor' } });
            assert.equal(r.status, 201);
        }
        const byEmail = await api(srv, 'GET', `/api/v1/admin/users?q=ZZ${tag}&limit=2`, { token: admin.token });
        assert.equal(byEmail.status, 200);
        assert.equal(byEmail.json.items.length, 2);
        assert.ok(byEmail.json.nextCursor);
        const next = await api(srv, 'GET', `/api/v1/admin/users?q=zz${tag}&limit=2&cursor=${byEmail.json.nextCursor}`, { token: admin.token });
        assert.equal(next.json.items.length, 1);
        assert.equal(next.json.nextCursor, null);
        const byName = await api(srv, 'GET', `/api/v1/admin/users?q=nurse%20${tag}&role=doctor`, { token: admin.token });
        assert.equal(byName.json.items.length, 3);
        assert.equal(byName.json.items[0].passwordHash, undefined);
        const wild = await api(srv, 'GET', '/api/v1/admin/users?q=%25', { token: admin.token });
        assert.equal(wild.json.items.length, 0, '% is a literal, not a wildcard');
        assert.equal((await api(srv, 'GET', '/api/v1/admin/users?role=root', { token: admin.token })).status, 400);
        assert.equal((await api(srv, 'GET', '/api/v1/admin/users?limit=500', { token: admin.token })).status, 400);
    });

    test('disable revokes every session at once; role change is audited; mass assignment → 400', async () => {
        const p = await newPatient(srv);
        const id = p.login.user.id;
        const url = `/api/v1/admin/users/${id}`;
        for (const body of [{ id: crypto.randomUUID() }, { email: 'x@example.org' }, { passwordHash: 'x' }, { status: 'active', role: 'admin', id }]) {
            const r = await api(srv, 'PATCH', url, { token: admin.token, body });
            assert.equal(r.status, 400, JSON.stringify(body));
        }
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken })).json.role, 'patient');
        const role = await api(srv, 'PATCH', url, { token: admin.token, body: { role: 'doctor' } });
        assert.equal(role.status, 200, role.text);
        assert.equal(role.json.role, 'doctor');
        const dis = await api(srv, 'PATCH', url, { token: admin.token, body: { status: 'disabled' } });
        assert.equal(dis.status, 200);
        assert.equal(dis.json.status, 'disabled');
        assert.equal((await api(srv, 'GET', '/api/v1/me', { token: p.login.accessToken })).status, 401);
        const refresh = await api(srv, 'POST', '/api/v1/auth/refresh', { body: { refreshToken: p.login.refreshToken } });
        assert.equal(refresh.status, 401);
        const a = await api(srv, 'GET', `/api/v1/admin/audit?action=authz_change&actor=${admin.id}`, { token: admin.token });
        assert.ok(a.json.items.some((e) => e.resourceId === id && /patient->doctor/.test(e.detail)));
        const self = await api(srv, 'PATCH', `/api/v1/admin/users/${admin.id}`, { token: admin.token, body: { status: 'disabled' } });
        assert.equal(self.status, 422);
        assert.equal((await api(srv, 'PATCH', `/api/v1/admin/users/${crypto.randomUUID()}`, { token: admin.token, body: { status: 'active' } })).status, 404);
    });

    test('audit query validates its filters', async () => {
        const t = admin.token;
        assert.equal((await api(srv, 'GET', '/api/v1/admin/audit?actor=nope', { token: t })).status, 400);
        assert.equal((await api(srv, 'GET', '/api/v1/admin/audit?from=yesterday', { token: t })).status, 400);
        assert.equal((await api(srv, 'GET', '/api/v1/admin/audit?outcome=maybe', { token: t })).status, 400);
        const page = await api(srv, 'GET', '/api/v1/admin/audit?limit=1', { token: t });
        assert.equal(page.status, 200);
        assert.equal(page.json.items.length, 1);
        const next = await api(srv, 'GET', `/api/v1/admin/audit?limit=1&cursor=${page.json.nextCursor}`, { token: t });
        assert.ok(next.json.items[0].seq < page.json.items[0].seq);
    });
});
