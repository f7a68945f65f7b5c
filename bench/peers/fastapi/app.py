"""The FastAPI peer of make bench (bench/peers/README.md): FastAPI + asyncpg under uvicorn
(uvloop, httptools), the same routes and answers as kiva's demo for the benchmark's scenarios.
Started by bench/bench.py as `uvicorn app:app --workers 2 --loop uvloop --http httptools`,
with PEER_CONNINFO (a libpq URL), PEER_SECRET_FILE and POOL (connections per process, 4)."""

import hashlib
import hmac
import json
import os
import re
import secrets
import time
import calendar
from urllib.parse import parse_qs

import asyncpg
from fastapi import FastAPI, Request, Response

REALM, TOKEN_DELAY = "kiva", 3600
app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
pool = None
with open(os.environ["PEER_SECRET_FILE"], "rb") as f:
    SECRET = f.read()
DIGITS = re.compile(r"-?\d+")


def reply(status, value):
    return Response(json.dumps(value, separators=(",", ":"), ensure_ascii=False), status,
                    media_type="application/json")


@app.on_event("startup")
async def startup():
    global pool
    n = int(os.environ.get("POOL", "4"))
    # asyncpg prepares every statement and keeps it per connection (its statement cache).
    pool = await asyncpg.create_pool(os.environ["PEER_CONNINFO"], min_size=n, max_size=n)


async def write(request, sql, *args):
    """kiva's request transaction for a write: BEGIN, the audit context, the statement, COMMIT."""
    rid = request.headers.get("x-request-id") or secrets.token_hex(16)
    async with pool.acquire() as c:
        async with c.transaction():
            await c.execute("SELECT set_config('kiva.login', $1, true), set_config('kiva.request_id', $2, true)",
                            "", rid)
            return await c.fetch(sql, *args) if "RETURNING" in sql else await c.execute(sql, *args)


@app.get("/stuff/{sid}")
async def get_sid(sid: str):
    if not DIGITS.fullmatch(sid):
        return reply(404, {"error": "not found"})
    row = await pool.fetchrow("SELECT sid, stuff FROM Stuff WHERE sid = $1", int(sid))
    if row is None:
        return reply(404, {"error": f"no such stuff: {sid}"})
    return reply(200, {"sid": row["sid"], "stuff": row["stuff"]})


@app.delete("/stuff/{sid}")
async def delete_sid(request: Request, sid: str):
    if not DIGITS.fullmatch(sid):
        return reply(404, {"error": "not found"})
    status = await write(request, "DELETE FROM Stuff WHERE sid = $1", int(sid))
    if status.endswith(" 0"):
        return reply(404, {"error": f"no such stuff: {sid}"})
    return Response(status_code=204)


@app.get("/stuff")
async def get_list(request: Request):
    ids = request.query_params.getlist("ids")
    if ids:
        if not all(DIGITS.fullmatch(x) for x in ids):
            return reply(400, {"error": "bad ids"})
        rows = await pool.fetch("SELECT sid, stuff FROM Stuff WHERE sid = ANY($1::bigint[]) ORDER BY sid",
                                [int(x) for x in ids])
    else:
        rows = await pool.fetch("SELECT sid, stuff FROM Stuff ORDER BY sid")
    return reply(200, [{"sid": r["sid"], "stuff": r["stuff"]} for r in rows])


@app.post("/stuff")
async def post_stuff(request: Request):
    form = parse_qs((await request.body()).decode())
    name = (form.get("stuff") or [""])[0]
    if not name:
        return reply(400, {"error": "missing parameter: stuff"})
    rows = await write(request, "INSERT INTO Stuff(stuff) VALUES ($1) RETURNING sid", name)
    return reply(201, {"sid": rows[0]["sid"]})


@app.get("/whoami")
async def whoami(request: Request):
    """kiva's native token (realm:login:YYYYMMDDHHMMSS:hex hmac-sha256), then the same revocation
    state kiva reads (token_state in framework/sql/queries.sql)."""
    auth = request.headers.get("authorization", "")
    if not auth.startswith("Bearer "):
        return reply(401, {"error": "authentication required"})
    token = auth[7:]
    first, last = token.find(":"), token.rfind(":")
    middle = token.rfind(":", 0, last) if last > 0 else -1
    if first < 0 or middle <= first or token[:first] != REALM:
        return reply(401, {"error": "invalid token"})
    login, stamp, sig = token[first + 1:middle], token[middle + 1:last], token[last + 1:]
    want = hmac.new(SECRET, token[:last].encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(sig, want):
        return reply(401, {"error": "invalid token"})
    try:
        expiry = calendar.timegm(time.strptime(stamp, "%Y%m%d%H%M%S"))
    except ValueError:
        return reply(401, {"error": "invalid token"})
    if expiry <= time.time():
        return reply(401, {"error": "expired token"})
    digest = hashlib.sha256(token.encode()).hexdigest()
    row = await pool.fetchrow("""SELECT EXISTS (SELECT 1 FROM RevokedToken WHERE digest = $1) AS revoked,
       (SELECT (extract(epoch FROM changed_at) * 1000000)::bigint FROM CredentialChange
        WHERE login = $2) AS changed_us""", digest, login)
    if row["revoked"] or (row["changed_us"] is not None and (expiry - TOKEN_DELAY) * 1000000 < row["changed_us"]):
        return reply(401, {"error": "invalid token"})
    return reply(200, login)
