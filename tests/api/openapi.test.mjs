// openapi.yaml must describe every route the binary serves (and nothing it does not):
// the route table (`mimicare routes`) is compared with the document's paths and methods.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './lib/server.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));

/** "METHOD /path/{param}" for each operation in openapi.yaml (a line scan of its layout). */
function documented() {
    const ops = new Set();
    let current = null;
    for (const line of fs.readFileSync(path.join(here, '../../openapi.yaml'), 'utf8').split('\n')) {
        const p = /^ {2}(\/\S*):\s*$/.exec(line);
        if (p) { current = p[1]; continue; }
        if (/^\S/.test(line)) current = null;
        const m = /^ {4}(get|put|post|patch|delete|head|options):\s*$/.exec(line);
        if (m && current) ops.add(`${m[1].toUpperCase()} ${current}`);
    }
    return ops;
}

test('every served route is in openapi.yaml and every documented operation is served', () => {
    const r = runCli(['routes']);
    assert.equal(r.status, 0, r.stderr);
    const served = new Set(r.stdout.trim().split('\n').map((l) => JSON.parse(l))
        .map((x) => `${x.method} ${x.pattern.replace(/\{(\w+):[^}]+\}/g, '{$1}')}`));
    const doc = documented();
    const undocumented = [...served].filter((x) => !doc.has(x));
    const phantom = [...doc].filter((x) => !served.has(x));
    assert.deepEqual(undocumented, [], 'routes missing from openapi.yaml');
    assert.deepEqual(phantom, [], 'operations in openapi.yaml that the server does not serve');
});
