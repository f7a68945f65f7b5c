"""Key rotation through nginx, on a stack of two worker processes restarted as a deploy
would restart them: token_secret_file with a key without id (as before ids), then that key
and a new one with an id (new tokens signed by it in the same format, old ones still verify), then the new key
alone (old tokens refused, new ones still good): nobody logged out in between."""

import json
import os
import tempfile
import unittest

import harness
from harness import Client, Stack

LEGACY = "legacy-secret-0123456789abcdef"
NEW = "k2 second-secret-0123456789abcdef"


class TestKeyRotation(unittest.TestCase):
    def setUp(self):
        fd, self.keys = tempfile.mkstemp(prefix="kiva-keys-")
        os.close(fd)
        os.chmod(self.keys, 0o644)
        self.stack = Stack(harness.STACK.build, PROCESSES="2", THREADS="2",
                           KIVA_EXTRA=f"password_cost = 4\ntoken_secret_file = {self.keys}\n")

    def tearDown(self):
        self.stack.stop()
        self.stack.cleanup()
        os.unlink(self.keys)

    def deploy(self, *lines):
        with open(self.keys, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.stack.stop()
        self.stack.start()

    def whoami(self, token, times=4):
        """The statuses of a few requests on new connections (both processes answer some)."""
        statuses = set()
        for _ in range(times):
            api = Client(self.stack.port)
            statuses.add(api.request("GET", "/whoami", token=token).status)
            api.close()
        return statuses

    def login(self):
        api = Client(self.stack.port)
        r = api.request("GET", "/login", auth=("calvin", "hobbes"))
        api.close()
        self.assertEqual(r.status, 200, r)
        return r.json

    def test_add_a_key_deploy_then_remove_the_old_one(self):
        self.deploy(LEGACY)
        old = self.login()
        self.assertRegex(old, r"^kiva:calvin:\d{14}:[0-9a-f]{64}$")
        self.deploy(LEGACY, NEW)
        self.assertEqual(self.whoami(old), {200})
        new = self.login()
        # The course's format whichever key signs (0.3.0; k2.<hex> before, still accepted).
        self.assertRegex(new, r"^kiva:calvin:\d{14}:[0-9a-f]{64}$")
        self.assertNotEqual(new, old)
        self.assertEqual(self.whoami(new), {200})
        data, signature = new.rsplit(":", 1)
        self.assertEqual(self.whoami(f"{data}:k2.{signature}"), {200})
        self.deploy(NEW)  # after token_delay, in production
        self.assertEqual(self.whoami(new), {200})
        self.assertEqual(self.whoami(old), {401})


if __name__ == "__main__":
    unittest.main()
