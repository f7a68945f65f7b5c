"""Every authenticated route x scheme x outcome (200, 401 with the exact challenge, 403, 404,
400, 409), and the order of the checks: route (404/405) -> authentication (401) -> group (403)
-> parameters (400) -> object permission (404, then 403) -> handler."""

import re
import unittest

from authkit import (BASIC_ONLY, BEARER_ONLY, BOTH, DEMO_OWNED, NO_SUCH_ID, TOKEN_RE, USERS,
                     AuthTest, forge, form, psql, sql_text, unique, user_id)

B, P, T = "basic", "param", "token"

# method, path, accepted schemes, challenge, open?
ROUTES = [
    ("GET", "/hello", (B, T), BOTH, False),
    ("GET", "/admin", (B, T), BOTH, False),
    ("GET", "/whoami", (B, P, T), BOTH, False),
    ("GET", "/login", (B,), BASIC_ONLY, False),
    ("GET", "/qui-suis-je", (T,), BEARER_ONLY, False),
    ("GET", "/owned", (B, T), BOTH, False),
    ("GET", "/object", (B, T), BOTH, False),
    ("GET", "/object/1", (B, T), BOTH, False),
    ("GET", f"/object/{NO_SUCH_ID}", (B, T), BOTH, False),
    ("GET", "/owned/2", (B, T), BOTH, False),
    ("GET", f"/owned/{NO_SUCH_ID}", (B, T), BOTH, False),
    ("POST", "/users-mgt", (B, T), BOTH, False),
    ("GET", "/cmp/add", (B, T), BOTH, False),
    ("GET", "/cmp/hash", (B, T), BOTH, False),
    ("GET", "/version", (B, T), BOTH, True),
    ("POST", "/register", (B, T), BOTH, True),
    ("GET", "/stuff", (B, T), BOTH, True),
    ("POST", "/stuff", (B, T), BOTH, True),
    ("GET", "/stuff/1", (B, T), BOTH, True),
]


def demo_objects(uid):
    return [o for o in DEMO_OWNED if o["owner"] == uid]


def forbidden_object(oid):
    return (403, {"error": f"permission denied on owned:{oid}"})


def forbidden_user(uid):
    return (403, {"error": f"permission denied on user:{uid}"})


NOT_ADMIN = (403, {"error": 'not in group "ADMIN"'})
NOT_FOUND = (404, {"error": "object not found"})

# What each demo user gets once authenticated: (method, path) -> {login: (status, body)}.
OUTCOMES = {
    ("GET", "/hello"): {u: (200, f"hello {u}!") for u in USERS},
    ("GET", "/admin"): {"calvin": (200, "hello admin calvin!"), "hobbes": NOT_ADMIN, "susie": NOT_ADMIN},
    ("GET", "/whoami"): {u: (200, u) for u in USERS},
    ("GET", "/qui-suis-je"): {u: (200, u) for u in USERS},
    ("GET", "/owned"): {"calvin": (200, DEMO_OWNED), "hobbes": NOT_ADMIN, "susie": NOT_ADMIN},
    ("GET", "/object"): {"calvin": (200, DEMO_OWNED), "hobbes": NOT_ADMIN, "susie": NOT_ADMIN},
    ("GET", "/object/1"): {"calvin": (200, {"oid": 1, "object": "Box"}),
                           "hobbes": forbidden_object(1), "susie": forbidden_object(1)},
    ("GET", "/object/2"): {"calvin": forbidden_object(2), "hobbes": (200, {"oid": 2, "object": "Box"}),
                           "susie": forbidden_object(2)},
    ("GET", "/object/3"): {"calvin": forbidden_object(3), "hobbes": forbidden_object(3),
                           "susie": (200, {"oid": 3, "object": "Box"})},
    ("GET", "/object/4"): {"calvin": (200, {"oid": 4, "object": "Tiger"}),
                           "hobbes": forbidden_object(4), "susie": forbidden_object(4)},
    ("GET", "/object/6"): {"calvin": forbidden_object(6), "hobbes": (200, {"oid": 6, "object": "Cushion"}),
                           "susie": forbidden_object(6)},
    ("GET", f"/object/{NO_SUCH_ID}"): {u: NOT_FOUND for u in USERS},
    ("GET", "/object/0"): {u: NOT_FOUND for u in USERS},
    ("GET", "/object/-1"): {u: NOT_FOUND for u in USERS},
    ("GET", "/object/9223372036854775807"): {u: NOT_FOUND for u in USERS},
    ("GET", "/owned/1"): {"calvin": (200, demo_objects(1)), "hobbes": forbidden_user(1), "susie": forbidden_user(1)},
    ("GET", "/owned/2"): {"calvin": forbidden_user(2), "hobbes": (200, demo_objects(2)), "susie": forbidden_user(2)},
    ("GET", "/owned/3"): {"calvin": forbidden_user(3), "hobbes": forbidden_user(3), "susie": (200, demo_objects(3))},
    ("GET", f"/owned/{NO_SUCH_ID}"): {u: NOT_FOUND for u in USERS},
    ("GET", "/cmp/add?i=2&j=40"): {u: (200, 42) for u in USERS},
    ("GET", "/stuff/1"): {u: (200, {"sid": 1, "stuff": "Chair"}) for u in USERS},
}
SCHEMES_OF = {(m, p.split("?")[0]): s for m, p, s, _, _ in ROUTES}


def schemes_of(method, path):
    path = path.split("?")[0]
    if (method, path) in SCHEMES_OF:
        return SCHEMES_OF[(method, path)]
    return (B, T)  # the default schemes


def is_open(method, path):
    return any(o for m, p, _, _, o in ROUTES if (m, p) == (method, path.split("?")[0]))


class TestRouteMatrix(AuthTest):
    def credentials(self, login, scheme):
        password = USERS[login][0]
        if scheme == B:
            return {"auth": (login, password)}
        if scheme == T:
            return {"token": self.token(login)}
        return {"json_body": {"USER": login, "PASS": password}}

    def test_every_user_every_scheme(self):
        for (method, path), by_user in OUTCOMES.items():
            accepted = schemes_of(method, path)
            challenge = next((c for m, p, _, c, _ in ROUTES if (m, p) == (method, path.split("?")[0])), BOTH)
            for login, (status, body) in by_user.items():
                for scheme in (B, T, P):
                    with self.subTest(method=method, path=path, login=login, scheme=scheme):
                        kwargs = self.credentials(login, scheme)
                        if scheme in accepted:
                            r = self.call(method, path, status, **kwargs)
                            self.assertEqual(r.json, body)
                            self.assertNotIn("www-authenticate", r.headers)
                        elif is_open(method, path):  # USER/PASS on an open route: unexpected parameters
                            self.denied(method, path, 400, 'unexpected parameter "USER"', **kwargs)
                        elif scheme == B:  # only /qui-suis-je refuses Basic
                            self.unauthorized(method, path, "missing token", challenge, **kwargs)
                        elif scheme == T:  # only /login refuses tokens
                            self.unauthorized(method, path, "unexpected authorization scheme", challenge, **kwargs)
                        else:  # USER/PASS elsewhere: anonymous
                            self.unauthorized(method, path, "missing token" if accepted == (T,)
                                              else "missing authorization header", challenge, **kwargs)

    def test_login_for_each_user(self):
        for login, (password, _, _) in USERS.items():
            with self.subTest(login=login):
                r = self.call("GET", "/login", 200, auth=(login, password))
                self.assertEqual(re.match(TOKEN_RE, r.json).group(1), login)
                self.unauthorized("GET", "/login", "unexpected authorization scheme", BASIC_ONLY, token=r.json)
                self.unauthorized("GET", "/login", "missing authorization header", BASIC_ONLY,
                                  json_body={"USER": login, "PASS": password})

    def test_failed_authentication_on_every_route(self):
        expired = forge("calvin", expires_in=-10)
        cases = [  # name, request kwargs, message when the scheme is accepted, the scheme
            ("no such user", {"auth": ("ghost-" + unique(), "x")}, None, B),
            ("bad password", {"auth": ("hobbes", "not-susie")}, "invalid password for hobbes", B),
            ("bad token", {"token": "kiva:calvin:20991231235959:" + "0" * 64}, "invalid token", T),
            ("expired token", {"token": expired}, "expired token", T),
            ("bad basic header", {"headers": {"Authorization": "Basic !!!"}}, "invalid basic authorization header", None),
            ("other scheme", {"headers": {"Authorization": "Digest x"}}, "unexpected authorization scheme", None),
        ]
        for method, path, accepted, challenge, _ in ROUTES:
            for name, kwargs, message, scheme in cases:
                with self.subTest(method=method, path=path, case=name):
                    if name == "no such user":
                        message = "no such user: " + kwargs["auth"][0]
                    if scheme == B and B not in accepted:
                        message = "missing token"
                    elif scheme == T and T not in accepted:
                        message = "unexpected authorization scheme"
                    # the body would be valid: authentication fails first, nothing is created
                    body = {}
                    if path == "/users-mgt":
                        body = {"json_body": {"u": {"login": unique("never"), "password": "abcd"}}}
                    elif path == "/register":
                        body = {"data": form(login=unique("never"), pword="abcd")}
                    elif path == "/stuff" and method == "POST":
                        body = {"data": form(stuff=unique("never"))}
                    self.unauthorized(method, path, message, challenge, **kwargs, **body)

    def test_anonymous(self):
        for method, path, accepted, challenge, is_open in ROUTES:
            with self.subTest(method=method, path=path):
                if is_open:
                    r = self.api.request(method, path)
                    self.assertNotEqual(r.status, 401, repr(r))
                    self.assertNotIn("www-authenticate", r.headers)
                else:
                    self.unauthorized(method, path, "missing token" if accepted == (T,)
                                      else "missing authorization header", challenge)

    def test_head_401_and_403_have_no_body(self):
        r = self.api.request("HEAD", "/hello")
        self.assertEqual((r.status, r.body, r.headers.get("www-authenticate")), (401, b"", BOTH))
        r = self.api.request("HEAD", "/qui-suis-je")
        self.assertEqual((r.status, r.body, r.headers.get("www-authenticate")), (401, b"", BEARER_ONLY))
        r = self.api.request("HEAD", "/admin", auth=("hobbes", "susie"))
        self.assertEqual((r.status, r.body), (403, b""))
        self.assertNotIn("www-authenticate", r.headers)
        r = self.api.request("HEAD", "/admin", auth=("calvin", "hobbes"))
        self.assertEqual((r.status, r.body), (200, b""))


class TestVersion(AuthTest):
    def test_user_is_reported(self):
        self.assertIsNone(self.call("GET", "/version", 200).json["user"])
        r = self.call("GET", "/version", 200, auth=("calvin", "hobbes"))
        self.assertEqual((r.json["app"], r.json["user"]), ("kiva", "calvin"))
        self.assertEqual(self.call("GET", "/version", 200, token=self.token("susie")).json["user"], "susie")
        self.assertEqual(set(r.json), {"app", "user", "now"})

    def test_wrong_credentials_on_an_open_route_are_401(self):
        self.unauthorized("GET", "/version", "invalid password for calvin", auth=("calvin", "x"))
        self.unauthorized("GET", "/version", "no such user: nobody-at-all", auth=("nobody-at-all", "x"))
        self.unauthorized("GET", "/version", "invalid token", token="kiva:calvin:20991231235959:00")
        self.unauthorized("GET", "/stuff/1", "invalid password for hobbes", auth=("hobbes", "x"))


class TestOrder(AuthTest):
    def test_router_before_authentication(self):
        for path in ("/object/abc", "/owned/1.5", "/object/", "/object/1/2", "/cmp", "/cmp/nothing",
                     "/object/99999999999999999999"):
            with self.subTest(path=path):
                self.denied("GET", path, 404, "not found")
        r = self.denied("DELETE", "/hello", 405, "method DELETE not allowed")
        self.assertEqual(r.headers["allow"], "GET, HEAD")
        r = self.denied("POST", "/object/1", 405, "method POST not allowed")
        self.assertEqual(r.headers["allow"], "GET, HEAD")
        r = self.denied("GET", "/users-mgt", 405, "method GET not allowed")
        self.assertEqual(r.headers["allow"], "POST")

    def test_authentication_before_everything_else(self):
        cases = [
            ("GET", "/cmp/add", {}),
            ("GET", "/cmp/add?i=x&j=2", {}),
            ("GET", "/cmp/add?i=1&j=2&k=3", {}),
            ("GET", f"/object/{NO_SUCH_ID}", {}),
            ("GET", "/object/1", {}),
            ("GET", "/object/1?x=1", {}),
            ("GET", "/owned?x=1", {}),
            ("POST", "/users-mgt", {"json_body": {"u": 1}}),
            ("POST", "/users-mgt", {"body": b"{", "content_type": "application/json"}),
            ("POST", "/users-mgt", {"body": b"u=1", "content_type": "text/plain"}),
            ("GET", "/admin", {"auth": ("hobbes", "wrong")}),
            ("GET", f"/object/{NO_SUCH_ID}", {"auth": ("hobbes", "wrong")}),
        ]
        for method, path, kwargs in cases:
            with self.subTest(method=method, path=path, kwargs=kwargs):
                message = "invalid password for hobbes" if "auth" in kwargs else "missing authorization header"
                self.unauthorized(method, path, message, **kwargs)

    def test_group_before_parameters(self):
        for kwargs in ({"json_body": {"u": 1}}, {}, {"json_body": {"v": 2}},
                       {"body": b"{", "content_type": "application/json"},
                       {"json_body": {"u": {"login": unique("never"), "password": "abcd"}}}):
            with self.subTest(kwargs=kwargs):
                self.denied("POST", "/users-mgt", 403, 'not in group "ADMIN"', auth=("hobbes", "susie"), **kwargs)
        self.denied("GET", "/owned?x=1", 403, 'not in group "ADMIN"', auth=("susie", "derkins"))
        self.denied("GET", "/owned?x=1", 400, 'unexpected parameter "x"', auth=("calvin", "hobbes"))

    def test_parameters_before_object_permissions(self):
        for path in ("/object/1?x=1", f"/object/{NO_SUCH_ID}?x=1", "/owned/1?x=1", f"/owned/{NO_SUCH_ID}?x=1"):
            with self.subTest(path=path):
                self.denied("GET", path, 400, 'unexpected parameter "x"', auth=("hobbes", "susie"))
        self.denied("GET", "/object/1", 400, 'unexpected parameter "oid2"', auth=("hobbes", "susie"),
                    json_body={"oid2": 1})

    def test_404_before_403_and_admins_are_not_exempt(self):
        self.denied("GET", f"/object/{NO_SUCH_ID}", 404, "object not found", auth=("susie", "derkins"))
        self.denied("GET", "/object/2", 403, "permission denied on owned:2", auth=("calvin", "hobbes"))
        self.denied("GET", "/owned/3", 403, "permission denied on user:3", auth=("calvin", "hobbes"))

    def test_path_wins_over_a_body_parameter_of_the_same_name(self):
        # the object checked is the one in the path, whatever the body says
        self.ok("GET", "/object/2", {"oid": 2, "object": "Box"}, auth=("hobbes", "susie"), json_body={"oid": 1})
        self.denied("GET", "/object/1", 403, "permission denied on owned:1", auth=("hobbes", "susie"),
                    json_body={"oid": 2})


class TestRegister(AuthTest):
    def test_register_then_use_the_account(self):
        login, password, uid = self.register()
        self.assertEqual(user_id(login), uid)
        self.ok("GET", "/hello", f"hello {login}!", auth=(login, password))
        self.denied("GET", "/admin", 403, 'not in group "ADMIN"', auth=(login, password))
        self.ok("GET", f"/owned/{uid}", [], auth=(login, password))  # the id is theirs
        self.denied("GET", f"/owned/{uid}", 403, f"permission denied on user:{uid}", auth=("hobbes", "susie"))
        self.denied("GET", "/owned/2", 403, "permission denied on user:2", auth=(login, password))

    def test_register_with_json_and_with_credentials(self):
        login = unique("json")
        r = self.call("POST", "/register", 201, json_body={"login": login, "pword": "abcd"})
        self.assertEqual(user_id(login), r.json)
        login = unique("by-susie")
        r = self.call("POST", "/register", 201, data=form(login=login, pword="abcd"), auth=("susie", "derkins"))
        self.assertEqual(user_id(login), r.json)
        # bad credentials on this open route: 401, and no account
        login = unique("refused")
        self.unauthorized("POST", "/register", "invalid password for susie", data=form(login=login, pword="abcd"),
                          auth=("susie", "x"))
        self.assertIsNone(user_id(login))

    def test_existing_login_is_409(self):
        self.denied("POST", "/register", 409, "conflict: Key (login)=(calvin) already exists.",
                    data=form(login="calvin", pword="comics"))
        login, _, uid = self.register()
        self.denied("POST", "/register", 409, f"conflict: Key (login)=({login}) already exists.",
                    data=form(login=login, pword="other-password"))
        # the first password is still the one
        self.ok("GET", "/whoami", login, auth=(login, "secret-pw"))
        self.unauthorized("GET", "/whoami", f"invalid password for {login}", auth=(login, "other-password"))
        self.ok("GET", "/hello", "hello calvin!", auth=("calvin", "hobbes"))

    def test_bad_registrations_are_400_and_create_nothing(self):
        bad_login = "login must be printable ASCII without spaces or colons"
        cases = [
            ({"pword": "abcd"}, 'parameter "login" is missing', None),
            ({"login": "{u}"}, 'parameter "pword" is missing', "{u}"),
            ({"login": "", "pword": "abcd"}, "login must have 1 to 64 characters", None),
            ({"login": "x" * 65, "pword": "abcd"}, "login must have 1 to 64 characters", "x" * 65),
            ({"login": "a b{u}", "pword": "abcd"}, bad_login, "a b{u}"),
            ({"login": "a:b{u}", "pword": "abcd"}, bad_login, "a:b{u}"),
            ({"login": "a\tb{u}", "pword": "abcd"}, bad_login, "a\tb{u}"),
            ({"login": "zoé{u}", "pword": "abcd"}, bad_login, "zoé{u}"),
            ({"login": "{u}", "pword": "abc"}, "password must have at least 4 characters", "{u}"),
            ({"login": "{u}", "pword": ""}, "password must have at least 4 characters", "{u}"),
            ({"login": "{u}", "pword": "p" * 73}, "password must have at most 72 bytes (bcrypt)", "{u}"),
            ({"login": "{u}", "pword": "abcd", "isAdmin": "true"}, 'unexpected parameter "isAdmin"', "{u}"),
        ]
        for fields, message, login in cases:
            u = unique("bad")
            fields = {k: v.replace("{u}", u) for k, v in fields.items()}
            with self.subTest(fields=fields):
                self.denied("POST", "/register", 400, message, data=form(**fields))
                if login:
                    self.assertIsNone(user_id(login.replace("{u}", u)))
        self.denied("POST", "/register", 400, 'parameter "login" must be a string', json_body={"login": 1, "pword": "abcd"})

    def test_72_byte_password_is_fine(self):
        login, password, _ = self.register(password="p" * 72)
        self.ok("GET", "/whoami", login, auth=(login, password))


class TestUsersMgt(AuthTest):
    def create(self, status, u, who=("calvin", "hobbes"), **kwargs):
        kwargs.setdefault("auth", who)
        return self.call("POST", "/users-mgt", status, json_body={"u": u}, **kwargs)

    def test_create_admin_and_plain_users(self):
        admin = unique("admin")
        r = self.create(201, {"login": admin, "password": "adminpw", "isAdmin": True})
        self.assertIsInstance(r.json, int)
        self.assertEqual(user_id(admin), r.json)
        self.ok("GET", "/admin", f"hello admin {admin}!", auth=(admin, "adminpw"))
        self.ok("GET", "/owned", DEMO_OWNED, auth=(admin, "adminpw"))
        for u in ({"login": unique("plain"), "password": "plainpw", "isAdmin": False},
                  {"login": unique("default"), "password": "plainpw"}):
            with self.subTest(u=u):
                r = self.create(201, u)
                self.assertEqual(user_id(u["login"]), r.json)
                self.ok("GET", "/hello", f"hello {u['login']}!", auth=(u["login"], "plainpw"))
                self.denied("GET", "/admin", 403, 'not in group "ADMIN"', auth=(u["login"], "plainpw"))

    def test_a_new_admin_can_create_users_and_by_token(self):
        admin = unique("admin")
        self.create(201, {"login": admin, "password": "adminpw", "isAdmin": True})
        login = unique("by-new-admin")
        self.create(201, {"login": login, "password": "abcd"}, who=(admin, "adminpw"))
        login = unique("by-token")
        self.create(201, {"login": login, "password": "abcd"}, auth=None, token=self.token("calvin"))
        self.ok("GET", "/whoami", login, auth=(login, "abcd"))

    def test_form_encoded_json_parameter(self):
        login = unique("form")
        r = self.call("POST", "/users-mgt", 201, auth=("calvin", "hobbes"),
                      data=form(u=f'{{"login": "{login}", "password": "abcd"}}'))
        self.assertEqual(user_id(login), r.json)
        self.denied("POST", "/users-mgt", 400, 'parameter "u" must be valid JSON', auth=("calvin", "hobbes"),
                    data=form(u="not json"))

    def test_bad_bodies_are_400_naming_the_problem(self):
        u = unique("bad")
        cases = [
            ({"login": 3, "password": "abcd"}, 'parameter "u": login must be a string'),
            ({"password": "abcd"}, 'parameter "u": login must be a string'),
            ({"login": u, "password": 4444}, 'parameter "u": password must be a string'),
            ({"login": u}, 'parameter "u": password must be a string'),
            ({"login": u, "password": "abcd", "isAdmin": "yes"}, 'parameter "u": isAdmin must be a boolean'),
            ({"login": u, "password": "abcd", "isAdmin": 1}, 'parameter "u": isAdmin must be a boolean'),
            ({"login": u, "password": "abcd", "isAdmin": None}, 'parameter "u": isAdmin must be a boolean'),
            ({"login": u, "password": "abc"}, "password must have at least 4 characters"),
            ({"login": u, "password": "abcd", "admin": True}, 'parameter "u": unexpected field "admin"'),
            ({"login": "", "password": "abcd"}, "login must have 1 to 64 characters"),
            ({"login": "a b" + u, "password": "abcd"}, "login must be printable ASCII without spaces or colons"),
            ([u, "abcd"], 'parameter "u": must be an object with login, password and isAdmin'),
            ("x", 'parameter "u": must be an object with login, password and isAdmin'),
            (None, 'parameter "u": must be an object with login, password and isAdmin'),
        ]
        for body, message in cases:
            with self.subTest(u=body):
                r = self.create(400, body)
                self.assertEqual(r.json["error"], message)
        self.denied("POST", "/users-mgt", 400, 'parameter "u" is missing', auth=("calvin", "hobbes"), json_body={})
        self.denied("POST", "/users-mgt", 400, 'unexpected parameter "v"', auth=("calvin", "hobbes"),
                    json_body={"u": {"login": u, "password": "abcd"}, "v": 1})
        self.assertIsNone(user_id(u))

    def test_existing_login_is_409(self):
        self.assertEqual(self.create(409, {"login": "hobbes", "password": "abcd"}).json["error"],
                         "conflict: Key (login)=(hobbes) already exists.")
        login = unique("twice")
        self.create(201, {"login": login, "password": "first"})
        self.create(409, {"login": login, "password": "second", "isAdmin": True})
        self.ok("GET", "/whoami", login, auth=(login, "first"))
        self.denied("GET", "/admin", 403, 'not in group "ADMIN"', auth=(login, "first"))
        # hobbes is still hobbes
        self.ok("GET", "/whoami", "hobbes", auth=("hobbes", "susie"))

    def test_non_admins_and_anonymous_create_nothing(self):
        login = unique("never")
        u = {"login": login, "password": "abcd", "isAdmin": True}
        self.denied("POST", "/users-mgt", 403, 'not in group "ADMIN"', auth=("hobbes", "susie"), json_body={"u": u})
        self.denied("POST", "/users-mgt", 403, 'not in group "ADMIN"', token=self.token("susie"), json_body={"u": u})
        self.unauthorized("POST", "/users-mgt", "missing authorization header", json_body={"u": u})
        self.assertIsNone(user_id(login))


class TestCompute(AuthTest):
    def test_add(self):
        rows = [
            ("?i=1&j=2", {}, 200, 3),
            ("?i=-5&j=3", {}, 200, -2),
            ("?i=9223372036854775806&j=1", {}, 200, 9223372036854775807),
            ("", {"json_body": {"i": 20, "j": 22}}, 200, 42),
            ("", {"data": "i=7&j=8"}, 200, 15),
            ("?i=1", {}, 400, 'parameter "j" is missing'),
            ("?j=1", {}, 400, 'parameter "i" is missing'),
            ("", {}, 400, 'parameter "i" is missing'),
            ("?i=a&j=1", {}, 400, 'parameter "i" must be an integer'),
            ("?i=1&j=1.5", {}, 400, 'parameter "j" must be an integer'),
            ("?i=&j=1", {}, 400, 'parameter "i" must be an integer'),
            ("?i=9223372036854775808&j=0", {}, 400, 'parameter "i" must be an integer'),
            ("", {"json_body": {"i": 1, "j": "2"}}, 400, 'parameter "j" must be an integer'),
            ("?i=9223372036854775807&j=1", {}, 400, "i + j is out of the 64-bit range"),
            ("?i=-9223372036854775808&j=-1", {}, 400, "i + j is out of the 64-bit range"),
            ("?i=1&j=2&k=3", {}, 400, 'unexpected parameter "k"'),
        ]
        for query, kwargs, status, expected in rows:
            with self.subTest(query=query, kwargs=kwargs):
                r = self.call("GET", "/cmp/add" + query, status, auth=("susie", "derkins"), **kwargs)
                self.assertEqual(r.json if status == 200 else r.json["error"], expected)

    def test_hash_is_a_fresh_bcrypt_hash_of_apass(self):
        apass = "pw-" + unique()
        h1 = self.call("GET", "/cmp/hash", 200, auth=("hobbes", "susie"), data=form(apass=apass)).json
        h2 = self.call("GET", "/cmp/hash", 200, token=self.token("hobbes"), data=form(apass=apass)).json
        for h in (h1, h2):
            self.assertRegex(h, r"^\$2b\$04\$[./A-Za-z0-9]{53}$")
        self.assertNotEqual(h1, h2)  # salted
        # a real hash of apass: an account with it as password hash accepts apass
        login = unique("hashed")
        psql(f"INSERT INTO Utilisateur(login, pword) VALUES ({sql_text(login)}, {sql_text(h1)})")
        self.ok("GET", "/whoami", login, auth=(login, apass))
        self.unauthorized("GET", "/whoami", f"invalid password for {login}", auth=(login, apass + "x"))

    def test_hash_parameter_errors(self):
        self.denied("GET", "/cmp/hash", 400, 'parameter "apass" is missing', auth=("hobbes", "susie"))
        self.denied("GET", "/cmp/hash?apass=a%00b", 400, 'parameter "apass" must not contain NUL', auth=("hobbes", "susie"))

    # bcrypt reads 72 bytes at most: a longer apass is refused rather than silently cut.
    def test_hash_of_a_long_apass_is_400_not_500(self):
        self.error("GET", "/cmp/hash", 400, 'parameter "apass" must have at most 72 bytes',
                   auth=("hobbes", "susie"), data=form(apass="x" * 73))
        self.call("GET", "/cmp/hash", 400, auth=("hobbes", "susie"), data=form(apass="x" * 600))
        self.call("GET", "/cmp/hash", 200, auth=("hobbes", "susie"), data=form(apass="x" * 72))


if __name__ == "__main__":
    unittest.main()
