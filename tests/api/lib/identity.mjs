// Helpers for tests that need accounts: read the confirmation code out of the mail
// outbox, register + verify + log in a patient, and call the API with a bearer token.
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

/** Decodes the body of an .eml file (quoted-printable or base64). */
export function emlBody(text) {
    const split = text.indexOf('\r\n\r\n');
    const head = text.slice(0, split);
    let body = text.slice(split + 4);
    const cte = /^Content-Transfer-Encoding:\s*(\S+)/im.exec(head)?.[1]?.toLowerCase();
    if (cte === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
    if (cte === 'quoted-printable') {
        body = body.replace(/=\r?\n/g, '');
        return Buffer.from(body.replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1').toString('utf8');
    }
    return body;
}

/** All messages in DATA_DIR/outbox as {to, subject, body}. */
export function outbox(tmp) {
    const dir = path.join(tmp, 'var', 'outbox');
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).filter((f) => f.endsWith('.eml')).sort().map((f) => {
        const text = fs.readFileSync(path.join(dir, f), 'utf8');
        return {
            to: /^To:\s*(.*)$/im.exec(text)?.[1]?.trim(),
            subject: /^Subject:\s*(.*)$/im.exec(text)?.[1]?.trim(),
            body: emlBody(text),
        };
    });
}

/** The newest confirmation code sent to email. */
export function codeFor(tmp, email) {
    const mails = outbox(tmp).filter((m) => m.to && m.to.includes(email));
    for (let i = mails.length - 1; i >= 0; i--) {
        const m = /mce_[A-Za-z0-9_-]{43}/.exec(mails[i].body);
        if (m) return m[0];
    }
    return null;
}

export const uniqueEmail = (tag = 'p') => `${tag}.${crypto.randomBytes(6).toString('hex')}@example.org`;
export const PASSWORD = 'correct horse battery staple';

export async function api(srv, method, p, { token, body, headers = {} } = {}) {
    const h = { ...headers };
    if (token) h.Authorization = `Bearer ${token}`;
    if (body !== undefined) h['Content-Type'] = 'application/json';
    const r = await fetch(`${srv.url}${p}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await r.text();
    let json = null;
    try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    return { status: r.status, headers: r.headers, json, text };
}

/** Registers, confirms and logs in a new patient; returns {email, login: body of /auth/login}. */
export async function newPatient(srv, { email = uniqueEmail(), password = PASSWORD } = {}) {
    const reg = await api(srv, 'POST', '/api/v1/auth/register', { body: { email, password, name: 'Amina Test' } });
    if (reg.status !== 202) throw new Error(`register ${reg.status} ${reg.text}`);
    const code = codeFor(srv.tmp, email);
    const v = await api(srv, 'POST', '/api/v1/auth/verify-email', { body: { token: code } });
    if (v.status !== 200) throw new Error(`verify ${v.status} ${v.text}`);
    const login = await api(srv, 'POST', '/api/v1/auth/login', { body: { email, password } });
    if (login.status !== 200) throw new Error(`login ${login.status} ${login.text}`);
    return { email, password, login: login.json };
}

/** APP_ENV=test servers only: shifts the server's wall clock to offsetMs from real time. */
export async function setClock(srv, offsetMs) {
    const fsP = await import('node:fs/promises');
    await fsP.writeFile(path.join(srv.tmp, 'var', 'clock-offset-ms'), `${offsetMs}\n`);
    const before = srv.logs().filter((l) => l.msg === 'test clock moved').length;
    srv.proc.kill('SIGUSR1');
    for (let i = 0; i < 200; i++) {
        const moved = srv.logs().filter((l) => l.msg === 'test clock moved');
        if (moved.length > before && moved[moved.length - 1].offsetMs === offsetMs) return;
        await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the server did not move its clock');
}
