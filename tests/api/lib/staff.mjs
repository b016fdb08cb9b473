// Test helpers for staff accounts: `mimicare user create` for doctors and admins (staff may
// log in without MFA under APP_ENV=test), and care-team assignment through the admin API.
import assert from 'node:assert/strict';
import { runCli } from './server.mjs';
import { api, uniqueEmail, PASSWORD } from './identity.mjs';

/** Creates and logs in a doctor or admin: {id, email, token}. */
export async function newStaff(srv, role, env = {}) {
    const email = uniqueEmail(role);
    const r = runCli(['user', 'create', '--role', role, '--email', email, '--name', `Test ${role}`],
                     { tmp: srv.tmp, env, input: PASSWORD + '\n' });
    assert.equal(r.status, 0, r.stderr);
    const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password: PASSWORD } });
    assert.equal(login.status, 200, login.text);
    return { id: login.json.user.id, email, token: login.json.accessToken };
}

/** Assigns doctorId to patientId (as admin); an existing assignment is fine. */
export async function assign(srv, admin, patientId, doctorId) {
    const r = await api(srv, 'POST', `/api/v1/patients/${patientId}/care-team`,
                        { token: admin.token, body: { doctorId } });
    assert.ok(r.status === 201 || r.status === 409, `assign ${r.status} ${r.text}`);
    return r;
}
