"""Helpers shared by the authentication, authorization and audit tests (test_auth_*.py,
test_audit.py): demo users, Authorization headers, forged native tokens, audit queries.
Not a test module itself (its name does not match test_*.py)."""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import uuid
from urllib.parse import urlencode

import harness
from harness import ApiTest

REALM = "kiva"
BOTH = 'Basic realm="kiva", Bearer realm="kiva"'
BASIC_ONLY = 'Basic realm="kiva"'
BEARER_ONLY = 'Bearer realm="kiva"'

# Demo users (sql/users.in): login -> (password, id, admin)
USERS = {"calvin": ("hobbes", 1, True), "hobbes": ("susie", 2, False), "susie": ("derkins", 3, False)}
# Demo objects (sql/load-demo.sql), as GET /owned lists them.
DEMO_OWNED = [
    {"oid": 1, "object": "Box", "owner": 1},
    {"oid": 2, "object": "Box", "owner": 2},
    {"oid": 3, "object": "Box", "owner": 3},
    {"oid": 4, "object": "Tiger", "owner": 1},
    {"oid": 5, "object": "Pen", "owner": 1},
    {"oid": 6, "object": "Cushion", "owner": 2},
]
TOKEN_RE = r"^kiva:([^:]+):(\d{14}):([0-9a-f]{64})$"
NO_SUCH_ID = 987654321987


def unique(prefix="auth"):
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def form(**fields):
    """A properly percent-encoded form body (the harness's data= does not encode)."""
    return urlencode(fields)


def basic(login, password):
    """The value of a Basic Authorization header; login and password may be bytes."""
    raw = (login if isinstance(login, bytes) else login.encode()) + b":" + \
          (password if isinstance(password, bytes) else password.encode())
    return "Basic " + base64.b64encode(raw).decode()


def fresh_request(stack, method, path, *, source="127.0.0.1", auth=None, token=None, headers=None,
                  body=None):
    """One request on a new connection (so that every worker process of a stack gets some),
    with a new X-Request-ID: (status, headers, body, request id)."""
    hdrs = dict(headers or {})
    hdrs["X-Request-ID"] = rid = uuid.uuid4().hex
    if auth:
        hdrs["Authorization"] = basic(*auth)
    if token:
        hdrs["Authorization"] = "Bearer " + token
    if body is not None:
        hdrs["Content-Type"] = "application/x-www-form-urlencoded"
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, "/api" + path, body=body, headers=hdrs)
        r = conn.getresponse()
        payload = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, payload, rid
    finally:
        conn.close()


def register_user(request, prefix="rc-"):
    """A new account through POST /register with `request(method, path, **kw)`: (login, password)."""
    login, password = prefix + uuid.uuid4().hex[:10], "pw-" + uuid.uuid4().hex[:8]
    status, _, body, _ = request("POST", "/register", body=urlencode({"login": login, "pword": password}))
    assert status == 201, (status, body)
    return login, password


def token_for(request, login, password):
    """A Bearer token from GET /login with `request(method, path, **kw)`."""
    status, _, body, _ = request("GET", "/login", auth=(login, password))
    assert status == 200, (status, body)
    return json.loads(body)


def pids_of(stack, request_ids):
    """The worker processes of a stack with log_format = json that answered these requests,
    from its access lines."""
    def found():
        lines = [json.loads(l) for l in stack.output().splitlines() if l.startswith("{")]
        pids = {l["request_id"]: l["pid"] for l in lines if l.get("request_id") in request_ids and "status" in l}
        return pids if len(pids) == len(request_ids) else None
    pids = harness.eventually(found)
    assert pids, "no access line for some request"
    return set(pids.values())


def b64(raw):
    return base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode()


def secret():
    with open(os.path.join(harness.STACK.state, "token.secret")) as f:
        return f.read().rstrip("\r\n")


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc)


def stamp_of(when):
    return when.strftime("%Y%m%d%H%M%S")


def sign(data, key=None):
    key = secret() if key is None else key
    return hmac.new(key.encode(), data.encode(), hashlib.sha256).hexdigest()


def forge(login, expires_in=3600, *, realm=REALM, key=None, stamp=None):
    """A native token realm:login:YYYYMMDDHHMMSS:hmac, signed with the stack's secret unless
    key is given; the stamp defaults to now + expires_in seconds (UTC)."""
    stamp = stamp_of(utcnow() + datetime.timedelta(seconds=expires_in)) if stamp is None else stamp
    data = f"{realm}:{login}:{stamp}"
    return f"{data}:{sign(data, key)}"


def sql_text(s):
    return "'" + s.replace("'", "''") + "'"


def psql(sql):
    return harness.STACK.psql(sql)


def audit_rows(where):
    """Audit rows matching a SQL condition, oldest first, as dicts (login None when NULL)."""
    out = psql("SELECT coalesce(json_agg(json_build_object('aid', aid, 'login', login, "
               "'operation', operation, 'tab', tab, 'data', data, 'previous', previous) ORDER BY aid), "
               f"'[]') FROM Audit WHERE {where}")
    return json.loads(out)


def max_aid():
    return int(psql("SELECT coalesce(max(aid), 0) FROM Audit"))


def user_id(login):
    """The id of a login in the database, or None."""
    out = psql(f"SELECT id FROM Utilisateur WHERE login = {sql_text(login)}")
    return int(out) if out else None


class AuthTest(ApiTest):
    """ApiTest with assertions on authentication answers."""

    _tokens = {}

    def unauthorized(self, method, path, message, challenge=BOTH, **kwargs):
        r = self.error(method, path, 401, message, **kwargs)
        self.assertEqual(r.headers.get("www-authenticate"), challenge, f"{method} {path}: {r!r}")
        return r

    def ok(self, method, path, expected, status=200, **kwargs):
        r = self.call(method, path, status, **kwargs)
        self.assertEqual(r.json, expected, f"{method} {path}")
        self.assertNotIn("www-authenticate", r.headers)
        return r

    def denied(self, method, path, status, message, **kwargs):
        """A 4xx other than 401: no challenge."""
        r = self.error(method, path, status, message, **kwargs)
        self.assertNotIn("www-authenticate", r.headers, f"{method} {path}: {r!r}")
        return r

    def token(self, login, password=None):
        """A real token from GET /login (cached per login for the run)."""
        if login not in AuthTest._tokens:
            password = USERS[login][0] if password is None else password
            r = self.call("GET", "/login", 200, auth=(login, password))
            AuthTest._tokens[login] = r.json
        return AuthTest._tokens[login]

    def register(self, login=None, password="secret-pw"):
        login = login or unique("user")
        r = self.call("POST", "/register", 201, data=form(login=login, pword=password))
        self.assertIsInstance(r.json, int)
        return login, password, r.json
