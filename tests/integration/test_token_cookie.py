"""Token cookies through nginx (token_carrier = bearer,cookie on the shared stack): GET
/login?cookie=true sets an HttpOnly, Secure, SameSite=Strict cookie and shows no token to
scripts; the cookie authenticates GET; unsafe methods also need the CSRF header (403 without,
nothing done); POST /logout revokes the cookie's token and clears the cookie; a Bearer
header still works and wins over a cookie; CORS lets allowed origins send credentials and
the CSRF header, and only them."""

import base64
import re
import unittest

from authkit import basic, unique
import harness
from harness import ApiTest

NAME = "__Host-kiva-token"
CSRF = {"X-Requested-With": "fetch"}
APP = "https://app.example"


def cookie_of(reply):
    """The token cookie's value from a Set-Cookie header, and its attributes."""
    header = reply.headers.get("set-cookie", "")
    m = re.match(rf"^{re.escape(NAME)}=([^;]*)((?:; [^;]+)*)$", header)
    assert m, header
    return m.group(1), m.group(2).split("; ")[1:]


class TestTokenCookie(ApiTest):
    def login_cookie(self, user="calvin", password="hobbes"):
        r = self.call("GET", "/login?cookie=true", 204, headers={"Authorization": basic(user, password)})
        value, attributes = cookie_of(r)
        self.assertEqual(attributes, ["Path=/", "Max-Age=3600", "HttpOnly", "Secure", "SameSite=Strict"])
        token = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        self.assertTrue(token.startswith(f"kiva:{user}:"), token)
        return {"Cookie": f"theme=dark; {NAME}={value}"}, token

    def test_login_sets_the_cookie_and_the_cookie_authenticates(self):
        cookie, _ = self.login_cookie()
        self.assertEqual(self.call("GET", "/whoami", 200, headers=cookie).json, "calvin")
        self.assertEqual(self.call("GET", "/qui-suis-je", 200, headers=cookie).json, "calvin")
        self.assertEqual(self.call("GET", "/admin", 200, headers=cookie).json, "hello admin calvin!")
        # Without the parameter, /login answers the token as before.
        r = self.call("GET", "/login", 200, headers={"Authorization": basic("calvin", "hobbes")})
        self.assertNotIn("set-cookie", r.headers)
        self.error("GET", "/login?cookie=perhaps", 400, headers={"Authorization": basic("calvin", "hobbes")})

    def test_unsafe_methods_need_the_csrf_header(self):
        cookie, _ = self.login_cookie()
        login = unique("csrf")
        self.call("POST", "/register", 201, data={"login": login, "pword": "first-pass"})
        uid = harness.STACK.psql(f"SELECT id FROM Utilisateur WHERE login = '{login}'")
        message = "missing X-Requested-With header: required with a token cookie on POST (CSRF protection)"
        self.error("POST", "/logout", 403, message, headers=cookie)
        self.error("POST", "/stuff", 403, message, headers=cookie, data={"stuff": unique("forged")})
        self.assertEqual(self.call("GET", "/whoami", 200, headers=cookie).json, "calvin")  # not logged out
        self.error("PUT", f"/users/{uid}/password", 403, message.replace("POST", "PUT"),
                   headers=cookie, data={"password": "second-pass"})
        self.call("GET", "/whoami", 200, headers={"Authorization": basic(login, "first-pass")})  # unchanged
        self.call("PUT", f"/users/{uid}/password", 204, headers=dict(cookie, **CSRF), data={"password": "second-pass"})
        self.call("GET", "/whoami", 200, headers={"Authorization": basic(login, "second-pass")})
        self.call("POST", "/stuff", 201, headers=dict(cookie, **CSRF), data={"stuff": unique("legit")})

    def test_logout_revokes_the_cookie_token_and_clears_it(self):
        # Its own user: a token is a pure function of login and second, so logging out
        # calvin would also revoke the other tests' calvin tokens of the same second.
        login = unique("logout")
        self.call("POST", "/register", 201, data={"login": login, "pword": "first-pass"})
        cookie, token = self.login_cookie(login, "first-pass")
        r = self.call("POST", "/logout", 204, headers=dict(cookie, **CSRF))
        value, attributes = cookie_of(r)
        self.assertEqual(value, "")
        self.assertIn("Max-Age=0", attributes)
        self.error("GET", "/whoami", 401, "invalid token", headers=cookie)
        self.error("GET", "/whoami", 401, "invalid token", token=token)  # the same token, as Bearer

    def test_a_bearer_header_wins_and_bad_cookies_are_401(self):
        cookie, _ = self.login_cookie("calvin", "hobbes")
        hobbes = self.call("GET", "/login", 200, headers={"Authorization": basic("hobbes", "susie")}).json
        self.assertEqual(self.call("GET", "/whoami", 200, headers=dict(cookie, Authorization="Bearer " + hobbes)).json,
                         "hobbes")
        # A Bearer token needs no CSRF header: a browser never adds Authorization by itself.
        self.call("POST", "/stuff", 201, token=hobbes, data={"stuff": unique("bearer")})
        forged = base64.urlsafe_b64encode(b"kiva:calvin:20991231235959:" + b"0" * 64).decode().rstrip("=")
        self.error("GET", "/whoami", 401, "invalid token", headers={"Cookie": f"{NAME}={forged}"})
        self.error("GET", "/whoami", 401, "missing authorization header", headers={"Cookie": f"{NAME}=%%%"})
        self.error("GET", "/whoami", 401, "missing authorization header", headers={"Cookie": "kiva-token=abc"})

    def test_cors_allows_credentials_and_the_csrf_header_to_allowed_origins(self):
        preflight = {"Origin": APP, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "x-requested-with"}
        r = self.call("OPTIONS", "/logout", 204, headers=preflight)
        self.assertEqual(r.headers.get("access-control-allow-headers"),
                         "Authorization, Content-Type, X-Request-ID, If-Match, If-None-Match, X-Requested-With")
        self.assertEqual(r.headers.get("access-control-allow-credentials"), "true")
        r = self.call("GET", "/stuff", 200, headers={"Origin": APP})
        self.assertEqual(r.headers.get("access-control-allow-credentials"), "true")
        r = self.call("GET", "/stuff", 200, headers={"Origin": "https://evil.example"})
        self.assertNotIn("access-control-allow-credentials", r.headers)


if __name__ == "__main__":
    unittest.main()
