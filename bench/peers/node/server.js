// The Node peer of make bench (bench/peers/README.md): fastify + pg, the same routes and
// answers as kiva's demo for the benchmark's scenarios; WORKERS processes (node:cluster,
// default 2), each with a pool of POOL connections (default 4) and named (prepared) statements.
// Usage: node server.js PORT CONNINFO_URL SECRET_FILE
'use strict';
const cluster = require('node:cluster');
const crypto = require('node:crypto');
const fs = require('node:fs');

const [port, conn, secretFile] = process.argv.slice(2);
const workers = parseInt(process.env.WORKERS || '2', 10);
const REALM = 'kiva', TOKEN_DELAY = 3600;

if (cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code) => { console.error(`peer-node: worker exited ${code}`); process.exit(1); });
  process.on('SIGTERM', () => { for (const id in cluster.workers) cluster.workers[id].kill(); process.exit(0); });
} else {
  const { Pool } = require('pg');
  const pool = new Pool({ connectionString: conn, max: parseInt(process.env.POOL || '4', 10) });
  const secret = fs.readFileSync(secretFile);
  const app = require('fastify')({ logger: false });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' },
    (req, body, done) => done(null, new URLSearchParams(body)));
  const q = (name, text, values) => pool.query({ name, text, values });
  const rid = (req) => req.headers['x-request-id'] || crypto.randomBytes(16).toString('hex');
  const err = (reply, status, msg) => reply.code(status).send({ error: msg });

  // kiva's request transaction for a write: BEGIN, the audit context, the statement, COMMIT.
  async function write(req, name, text, values) {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query({ name: 'audit', values: ['', rid(req)],
        text: "SELECT set_config('kiva.login', $1, true), set_config('kiva.request_id', $2, true)" });
      const r = await c.query({ name, text, values });
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  app.get('/stuff/:sid', async (req, reply) => {
    if (!/^-?\d+$/.test(req.params.sid)) return err(reply, 404, 'not found');
    const r = await q('one', 'SELECT sid, stuff FROM Stuff WHERE sid = $1', [req.params.sid]);
    if (!r.rows.length) return err(reply, 404, `no such stuff: ${req.params.sid}`);
    return { sid: Number(r.rows[0].sid), stuff: r.rows[0].stuff };
  });
  app.delete('/stuff/:sid', async (req, reply) => {
    const r = await write(req, 'del', 'DELETE FROM Stuff WHERE sid = $1', [req.params.sid]);
    if (!r.rowCount) return err(reply, 404, `no such stuff: ${req.params.sid}`);
    reply.code(204).send();
  });
  app.get('/stuff', async (req, reply) => {
    let ids = req.query.ids, r;
    if (ids !== undefined) {
      ids = Array.isArray(ids) ? ids : [ids];
      if (!ids.every((x) => /^-?\d+$/.test(x))) return err(reply, 400, 'bad ids');
      r = await q('ids', 'SELECT sid, stuff FROM Stuff WHERE sid = ANY($1::bigint[]) ORDER BY sid', [ids]);
    } else {
      r = await q('all', 'SELECT sid, stuff FROM Stuff ORDER BY sid', []);
    }
    return r.rows.map((x) => ({ sid: Number(x.sid), stuff: x.stuff }));
  });
  app.post('/stuff', async (req, reply) => {
    const name = req.body && req.body.get && req.body.get('stuff');
    if (!name) return err(reply, 400, 'missing parameter: stuff');
    const r = await write(req, 'add', 'INSERT INTO Stuff(stuff) VALUES ($1) RETURNING sid', [name]);
    reply.code(201).send({ sid: Number(r.rows[0].sid) });
  });
  // kiva's native token (realm:login:YYYYMMDDHHMMSS:hex hmac-sha256), then the same
  // revocation state kiva reads (token_state in framework/sql/queries.sql).
  app.get('/whoami', async (req, reply) => {
    const auth = req.headers.authorization || '';
    if (!auth.startsWith('Bearer ')) return err(reply, 401, 'authentication required');
    const token = auth.slice(7);
    const first = token.indexOf(':'), last = token.lastIndexOf(':');
    const middle = last > 0 ? token.lastIndexOf(':', last - 1) : -1;
    if (first < 0 || middle <= first || token.slice(0, first) !== REALM) return err(reply, 401, 'invalid token');
    const login = token.slice(first + 1, middle), stamp = token.slice(middle + 1, last);
    const sig = Buffer.from(token.slice(last + 1));
    const want = Buffer.from(crypto.createHmac('sha256', secret).update(token.slice(0, last)).digest('hex'));
    if (sig.length !== want.length || !crypto.timingSafeEqual(sig, want)) return err(reply, 401, 'invalid token');
    const m = /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)$/.exec(stamp);
    if (!m) return err(reply, 401, 'invalid token');
    const expiry = Date.UTC(m[1], m[2] - 1, m[3], m[4], m[5], m[6]) / 1000;
    if (expiry <= Date.now() / 1000) return err(reply, 401, 'expired token');
    const digest = crypto.createHash('sha256').update(token).digest('hex');
    const r = await q('token_state', `SELECT EXISTS (SELECT 1 FROM RevokedToken WHERE digest = $1) AS revoked,
       (SELECT (extract(epoch FROM changed_at) * 1000000)::bigint FROM CredentialChange
        WHERE login = $2) AS changed_us`, [digest, login]);
    const { revoked, changed_us } = r.rows[0];
    if (revoked || (changed_us !== null && (expiry - TOKEN_DELAY) * 1e6 < Number(changed_us)))
      return err(reply, 401, 'invalid token');
    return reply.type('application/json').send(JSON.stringify(login));
  });
  app.listen({ port: parseInt(port, 10), host: '127.0.0.1', backlog: 4096 }).catch((e) => {
    console.error(e); process.exit(1);
  });
}
