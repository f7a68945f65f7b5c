"""Authentication schemes through nginx: Basic, USER/PASS parameters and native tokens
(issued, forged, tampered, expired), and garbage Authorization headers, which must always
get a 401 JSON answer with the route's challenge, never a 5xx."""

import datetime
import re
import unittest

from authkit import (BASIC_ONLY, BEARER_ONLY, BOTH, REALM, TOKEN_RE, USERS, AuthTest, b64, basic,
                     forge, form, sign, stamp_of, utcnow)

CALVIN_BASIC = basic("calvin", "hobbes")


class TestBasic(AuthTest):
    def test_demo_users_authenticate(self):
        for login, (password, _, _) in USERS.items():
            with self.subTest(login=login):
                self.ok("GET", "/hello", f"hello {login}!", auth=(login, password))
                self.ok("GET", "/whoami", login, auth=(login, password))

    def test_wrong_password_and_unknown_user(self):
        self.unauthorized("GET", "/hello", "invalid password for hobbes", auth=("hobbes", "pas-le-bon"))
        self.unauthorized("GET", "/hello", "no such user: hacker", auth=("hacker", "secret"))
        # logins are case sensitive
        self.unauthorized("GET", "/hello", "no such user: Calvin", auth=("Calvin", "hobbes"))
        # someone else's password
        self.unauthorized("GET", "/hello", "invalid password for calvin", auth=("calvin", "susie"))

    def test_a_good_check_does_not_make_a_wrong_password_good(self):
        # the password cache remembers (login, password) pairs, not logins
        self.ok("GET", "/hello", "hello calvin!", auth=("calvin", "hobbes"))
        for wrong in ("hobbes ", "Hobbes", "hobbe", "hobbes\u00e9", "x"):
            with self.subTest(wrong=wrong):
                self.unauthorized("GET", "/hello", "invalid password for calvin", auth=("calvin", wrong))
        self.ok("GET", "/hello", "hello calvin!", auth=("calvin", "hobbes"))

    def test_a_wrong_password_is_not_remembered(self):
        login, password, _ = self.register()
        self.unauthorized("GET", "/hello", f"invalid password for {login}", auth=(login, password + "x"))
        self.ok("GET", "/hello", f"hello {login}!", auth=(login, password))
        self.unauthorized("GET", "/hello", f"invalid password for {login}", auth=(login, password + "x"))

    def test_password_may_hold_colons(self):
        # the login ends at the first colon, the password is all the rest
        login, password, _ = self.register(password="pa:ss:word")
        self.ok("GET", "/whoami", login, auth=(login, password))
        self.unauthorized("GET", "/whoami", f"invalid password for {login}", auth=(login, "pa"))
        self.unauthorized("GET", "/hello", "invalid password for calvin", headers={"Authorization": basic("calvin", "hobbes:extra")})

    def test_long_passwords_are_just_wrong(self):
        for size in (73, 300, 511, 512, 2000):
            with self.subTest(size=size):
                self.unauthorized("GET", "/hello", "invalid password for calvin", auth=("calvin", "h" * size))

    def test_scheme_name_and_spacing_are_lenient(self):
        value = b64("calvin:hobbes")
        for header in (f"Basic {value}", f"basic {value}", f"BASIC\t{value}", f"Basic   {value}   ",
                       f"  Basic {value}", f"Basic {value.rstrip('=')}"):
            with self.subTest(header=header):
                self.ok("GET", "/hello", "hello calvin!", headers={"Authorization": header})

    def test_unicode_password(self):
        login, password, _ = self.register(password="mötörhead ✓")
        self.ok("GET", "/whoami", login, headers={"Authorization": basic(login, password)})
        self.unauthorized("GET", "/whoami", f"invalid password for {login}",
                          headers={"Authorization": basic(login, "motorhead ✓")})


# (Authorization header value, expected 401 message) on GET /hello; bytes go out raw.
GARBAGE = [
    ("Basic", "invalid basic authorization header"),
    ("Basic ", "invalid basic authorization header"),
    ("Basic !!!", "invalid basic authorization header"),
    ("Basic " + b64("nocolon"), "invalid basic authorization header"),
    ("Basic " + b64(":hobbes"), "invalid basic authorization header"),
    ("Basic " + b64("calvin:"), "invalid basic authorization header"),
    ("Basic " + b64(":"), "invalid basic authorization header"),
    ("Basic " + b64(b"\xff\xfe:hobbes"), "invalid basic authorization header"),
    ("Basic " + b64(b"calvin:\xc3"), "invalid basic authorization header"),
    ("Basic " + b64(b"calvin:\xed\xa0\x80"), "invalid basic authorization header"),  # a surrogate
    ("Basic " + b64(b"cal\x01vin:hobbes"), "invalid basic authorization header"),
    ("Basic " + b64(b"calvin:hob\x00bes"), "invalid basic authorization header"),
    ("Basic " + b64(b"calvin:hob\x7fbes"), "invalid basic authorization header"),
    ("Basic " + b64(b"calvin:hob\nbes"), "invalid basic authorization header"),
    ("Basic Y2FsdmluOmhvYmJlcw===", "invalid basic authorization header"),
    ("Basic Y2Fsdm luOmhvYmJlcw==", "invalid basic authorization header"),
    ("Basic Y2FsdmluOmhvYmJlc", "invalid basic authorization header"),  # 4n+1 characters
    ("Basic Y2Fsdmlu-mhvYmJlcw==", "invalid basic authorization header"),  # base64url alphabet
    ("Basic Y2FsdmluOmhvYmJlcw==, Bearer x", "invalid basic authorization header"),
    (b"Basic \xff\xfe", "invalid basic authorization header"),
    ("Bearer", "invalid bearer token"),
    ("Bearer   ", "invalid bearer token"),
    ("Bearer a b", "invalid bearer token"),
    (b"Bearer \xc3\xa9t\xc3\xa9", "invalid bearer token"),
    ("Bearer x", "invalid token"),
    ("Bearer kiva:calvin", "invalid token"),
    ("Bearer kiva:calvin:20380119031407", "invalid token"),
    ("Bearer :::", "invalid token"),
    ("Bearer " + "k" * 5000, "invalid token"),
    ("Digest x", "unexpected authorization scheme"),
    ("Digest username=\"calvin\", realm=\"kiva\"", "unexpected authorization scheme"),
    ("Negotiate YIIBhgYGKwYBBQUCoIIBejCCAXY=", "unexpected authorization scheme"),
    ("Token abc", "unexpected authorization scheme"),
    ("Basic=" + b64("calvin:hobbes"), "unexpected authorization scheme"),
    ("Basicx " + b64("calvin:hobbes"), "unexpected authorization scheme"),
    (b"\xff\xfe " + b64("calvin:hobbes").encode(), "unexpected authorization scheme"),
    (b64("calvin:hobbes"), "unexpected authorization scheme"),
    # a long login reaches the worker (under nginx's 8K header line) and is echoed cut short
    (basic("x" * 5000, "y"), "no such user: " + "x" * 100 + "..."),
    (basic("y" * 100, "y"), "no such user: " + "y" * 100),
    (basic("z" * 101, "y"), "no such user: " + "z" * 100 + "..."),
    # echoed logins are JSON-escaped
    (basic('q"uo\\te</script>', "y"), 'no such user: q"uo\\te</script>'),
    (basic("zoé✓", "y"), "no such user: zoé✓"),
]


class TestGarbageHeaders(AuthTest):
    def test_garbage_is_401_json_with_the_challenge(self):
        for header, message in GARBAGE:
            with self.subTest(header=header[:60]):
                self.unauthorized("GET", "/hello", message, headers={"Authorization": header})

    def test_garbage_on_an_open_route_is_401_too(self):
        for header, message in GARBAGE[::4]:
            with self.subTest(header=header[:60]):
                self.unauthorized("GET", "/version", message, headers={"Authorization": header})

    def test_garbage_on_single_scheme_routes_names_only_their_scheme(self):
        self.unauthorized("GET", "/login", "invalid basic authorization header", BASIC_ONLY,
                          headers={"Authorization": "Basic !!!"})
        self.unauthorized("GET", "/login", "unexpected authorization scheme", BASIC_ONLY,
                          headers={"Authorization": "Bearer x"})
        self.unauthorized("GET", "/login", "unexpected authorization scheme", BASIC_ONLY,
                          headers={"Authorization": "Digest x"})
        self.unauthorized("GET", "/qui-suis-je", "invalid token", BEARER_ONLY,
                          headers={"Authorization": "Bearer x"})
        self.unauthorized("GET", "/qui-suis-je", "unexpected authorization scheme", BEARER_ONLY,
                          headers={"Authorization": "Digest x"})
        self.unauthorized("GET", "/qui-suis-je", "missing token", BEARER_ONLY,
                          headers={"Authorization": CALVIN_BASIC})

    def test_empty_header_is_no_header(self):
        for header in ("", " ", "  "):
            with self.subTest(header=repr(header)):
                self.unauthorized("GET", "/hello", "missing authorization header", headers={"Authorization": header})
        self.call("GET", "/version", 200, headers={"Authorization": ""})

    def test_the_worker_survives_garbage(self):
        # after all of the above, on the same connection, good credentials still work
        for header, _ in GARBAGE:
            self.api.request("GET", "/whoami", headers={"Authorization": header})
        self.ok("GET", "/whoami", "calvin", headers={"Authorization": CALVIN_BASIC})

    # nginx answers headers over its buffers itself (its status 494): JSON all the same.
    def test_header_over_nginx_limit_is_json(self):
        self.error("GET", "/hello", 400, "bad request", headers={"Authorization": basic("x" * 9000, "y")})
        self.error("GET", "/hello?" + "x" * 9000, 414, "request URI too long")


class TestParam(AuthTest):
    """USER and PASS parameters, accepted by GET /whoami only."""

    def test_query_form_and_json(self):
        self.ok("GET", "/whoami?USER=hobbes&PASS=susie", "hobbes")
        self.ok("GET", "/whoami", "hobbes", data=form(USER="hobbes", PASS="susie"))
        self.ok("GET", "/whoami", "hobbes", json_body={"USER": "hobbes", "PASS": "susie"})
        self.ok("GET", "/whoami?USER=hobbes", "hobbes", data=form(PASS="susie"))  # sources merge

    def test_failures(self):
        self.unauthorized("GET", "/whoami?USER=hobbes&PASS=wrong", "invalid password for hobbes")
        self.unauthorized("GET", "/whoami", "invalid password for hobbes", json_body={"USER": "hobbes", "PASS": "wrong"})
        self.unauthorized("GET", "/whoami?USER=nobody-here&PASS=x", "no such user: nobody-here")
        self.unauthorized("GET", "/whoami?USER=hobbes", "missing PASS parameter")
        self.unauthorized("GET", "/whoami", "missing PASS parameter", json_body={"USER": "hobbes"})
        self.unauthorized("GET", "/whoami?PASS=susie", "missing authorization header")
        self.unauthorized("GET", "/whoami?USER=&PASS=susie", "no such user: ")

    def test_non_string_user_is_400(self):
        # The credentials are parameters: a JSON number is a bad parameter, not a login.
        self.error("GET", "/whoami", 400, 'parameter "USER" must be a string', json_body={"USER": 2, "PASS": "susie"})
        self.error("GET", "/whoami", 400, 'parameter "PASS" must be a string', json_body={"USER": "hobbes", "PASS": 1})

    def test_authorization_header_wins_over_parameters(self):
        self.ok("GET", "/whoami?USER=calvin&PASS=hobbes", "hobbes", auth=("hobbes", "susie"))
        self.ok("GET", "/whoami?USER=calvin&PASS=hobbes", "susie", token=self.token("susie"))
        # a bad header is not rescued by good parameters
        self.unauthorized("GET", "/whoami?USER=calvin&PASS=hobbes", "invalid password for hobbes", auth=("hobbes", "x"))

    def test_other_routes_ignore_credentials_in_parameters(self):
        # not a scheme there: the client is anonymous (401 before the parameters are looked at)
        self.unauthorized("GET", "/hello?USER=hobbes&PASS=susie", "missing authorization header")
        self.unauthorized("GET", "/admin?USER=calvin&PASS=hobbes", "missing authorization header")
        self.unauthorized("GET", "/qui-suis-je?USER=hobbes&PASS=susie", "missing token", BEARER_ONLY)
        self.unauthorized("GET", "/login?USER=hobbes&PASS=susie", "missing authorization header", BASIC_ONLY)
        # authenticated otherwise, they are unexpected parameters
        self.error("GET", "/hello?USER=hobbes&PASS=susie", 400, 'unexpected parameter "USER"', auth=("hobbes", "susie"))
        self.error("GET", "/version?USER=hobbes&PASS=susie", 400, 'unexpected parameter "USER"')
        # and on /whoami, they are allowed alongside a header
        self.ok("GET", "/whoami?PASS=whatever", "hobbes", auth=("hobbes", "susie"))


class TestTokens(AuthTest):
    def test_login_issues_a_native_token_valid_one_hour(self):
        before = utcnow().replace(microsecond=0)
        r = self.call("GET", "/login", 200, auth=("hobbes", "susie"))
        after = utcnow()
        m = re.match(TOKEN_RE, r.json)
        self.assertIsNotNone(m, r.json)
        self.assertEqual(m.group(1), "hobbes")
        expiry = datetime.datetime.strptime(m.group(2), "%Y%m%d%H%M%S").replace(tzinfo=datetime.timezone.utc)
        self.assertGreaterEqual(expiry, before + datetime.timedelta(seconds=3600))
        self.assertLessEqual(expiry, after + datetime.timedelta(seconds=3600))
        # signed with the stack's secret, as documented
        self.assertEqual(m.group(3), sign(r.json.rsplit(":", 1)[0]))

    def test_token_authenticates_everywhere_tokens_are_accepted(self):
        tok = self.token("hobbes")
        self.ok("GET", "/qui-suis-je", "hobbes", token=tok)
        self.ok("GET", "/whoami", "hobbes", token=tok)
        self.ok("GET", "/hello", "hello hobbes!", token=tok)
        self.assertEqual(self.call("GET", "/version", 200, token=tok).json["user"], "hobbes")
        self.denied("GET", "/admin", 403, 'not in group "ADMIN"', token=tok)
        self.ok("GET", "/admin", "hello admin calvin!", token=self.token("calvin"))
        self.ok("GET", "/qui-suis-je", "hobbes", headers={"Authorization": "bearer " + tok})
        self.ok("GET", "/qui-suis-je", "hobbes", headers={"Authorization": "Bearer   " + tok + "  "})

    def test_a_token_does_not_get_a_token(self):
        self.unauthorized("GET", "/login", "unexpected authorization scheme", BASIC_ONLY, token=self.token("hobbes"))

    def test_basic_on_token_only_route(self):
        self.unauthorized("GET", "/qui-suis-je", "missing token", BEARER_ONLY, auth=("hobbes", "susie"))
        self.unauthorized("GET", "/qui-suis-je", "missing token", BEARER_ONLY, auth=("hobbes", "wrong"))
        self.unauthorized("GET", "/qui-suis-je", "missing token", BEARER_ONLY)

    def test_forged_with_the_secret_is_accepted(self):
        # the control for the tests below: our forgery is a real token
        self.ok("GET", "/qui-suis-je", "susie", token=forge("susie"))
        self.ok("GET", "/qui-suis-je", "calvin", token=forge("calvin", expires_in=5))

    def test_tampered_tokens_are_invalid(self):
        tok = self.token("hobbes")
        realm, login, stamp, sig = tok.split(":")
        later = stamp_of(utcnow() + datetime.timedelta(days=3650))
        flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        cases = {
            "login": f"{realm}:calvin:{stamp}:{sig}",
            "login suffix": f"{realm}:hobbesx:{stamp}:{sig}",
            "timestamp": f"{realm}:{login}:{later}:{sig}",
            "signature": f"{realm}:{login}:{stamp}:{flipped}",
            "signature case": f"{realm}:{login}:{stamp}:{sig.upper()}",
            "short signature": f"{realm}:{login}:{stamp}:{sig[:-2]}",
            "no signature": f"{realm}:{login}:{stamp}:",
            "realm": f"other:{login}:{stamp}:{sig}",
            "empty realm": f":{login}:{stamp}:{sig}",
            "extra field": f"{tok}:00",
            "other realm, validly signed": forge("hobbes", realm="other"),
            "other secret": forge("hobbes", key="not-the-secret-of-this-stack"),
            "empty login, validly signed": forge(""),
            "bad date, validly signed": forge("hobbes", stamp="20991301000000"),
            "february 30, validly signed": forge("hobbes", stamp="20990230000000"),
            "short stamp, validly signed": forge("hobbes", stamp="2099010100000"),
            "letters in stamp, validly signed": forge("hobbes", stamp="2099010100000a"),
            "cut": tok[:-10],
        }
        for what, bad in cases.items():
            with self.subTest(what=what):
                self.unauthorized("GET", "/qui-suis-je", "invalid token", BEARER_ONLY, token=bad)
                self.unauthorized("GET", "/whoami", "invalid token", BOTH, token=bad)
        # the genuine token still works
        self.ok("GET", "/qui-suis-je", "hobbes", token=tok)

    def test_expired_token_with_a_valid_signature(self):
        for seconds in (-1, -3600, -86400 * 365 * 10):
            with self.subTest(seconds=seconds):
                tok = forge("calvin", expires_in=seconds)
                self.unauthorized("GET", "/qui-suis-je", "expired token", BEARER_ONLY, token=tok)
                self.unauthorized("GET", "/admin", "expired token", BOTH, token=tok)
                self.unauthorized("GET", "/version", "expired token", BOTH, token=tok)
        self.unauthorized("GET", "/hello", "expired token", token=forge("calvin", stamp="19700101000000"))

    def test_expired_tampered_token_is_invalid_not_expired(self):
        # expiry means nothing before the signature is checked
        tok = forge("calvin", expires_in=-60)
        self.unauthorized("GET", "/hello", "invalid token", token=tok[:-1] + ("0" if tok[-1] != "0" else "1"))

    def test_token_of_a_new_user(self):
        login, password, _ = self.register()
        tok = self.call("GET", "/login", 200, auth=(login, password)).json
        self.assertRegex(tok, TOKEN_RE)
        self.assertTrue(tok.startswith(f"{REALM}:{login}:"))
        self.ok("GET", "/qui-suis-je", login, token=tok)
        self.denied("GET", "/admin", 403, 'not in group "ADMIN"', token=tok)


if __name__ == "__main__":
    unittest.main()
