#!/usr/bin/env python3
"""Runs the integration tests against one stack started for the run; prints
`integration: N passed, M failed` last and exits non-zero on any failure."""

import argparse
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build", help="build directory holding kiva")
    parser.add_argument("--keep", action="store_true", help="keep the state directory")
    parser.add_argument("pattern", nargs="?", default="test_*.py")
    args = parser.parse_args()

    # A small worker body limit, under nginx's, so that both 413s can be tested.
    # No jobs worker of the stack's: test_jobs.py starts its own (and kills them on purpose).
    stack = harness.Stack(args.build, BODY_LIMIT="64K", NGINX_BODY_LIMIT="1M", THREADS="4", JOBS="0",
                          KIVA_EXTRA="password_cost = 4\npassword_cache_ttl = 60s\n"
                          # Tests fail passwords on purpose, all from 127.0.0.1: throttling is
                          # tested on its own stack (test_throttle.py), not tripped here.
                          "auth_max_failures = 1000000\nauth_max_address_failures = 1000000\n"
                          # Short passwords keep the tests short; the default rule (8) is
                          # tested in test_auth_state.py.
                          "password_min_length = 4\n"
                          "cors_origins = https://app.example, http://localhost:3000\n"
                          # Both carriers: test_token_cookie.py; Bearer-only (the default)
                          # is the stack of test_auth_state.py.
                          "token_carrier = bearer, cookie\n")
    harness.STACK = stack
    ok = False
    try:
        stack.start()
        suite = unittest.defaultTestLoader.discover(os.path.dirname(os.path.abspath(__file__)),
                                                    pattern=args.pattern)
        result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
        ok = result.wasSuccessful()
        bad = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
        good = result.testsRun - bad - len(result.skipped)
    except Exception as e:  # the stack itself failed
        print(f"ERROR: {e}")
        good, bad = 0, 1
    finally:
        stack.stop()
    # The worker must never have crashed nor tripped a sanitizer.
    log = stack.output()
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "exited unexpectedly"):
        if marker in log:
            print(f"ERROR: the stack log shows {marker!r}:")
            print("\n".join(line for line in log.splitlines() if marker in line or "#" in line[:6])[:4000])
            bad += 1
            ok = False
    if ok and not args.keep:
        stack.cleanup()
    else:
        print(f"state kept in {stack.state} (stack log: {stack.log_path})")
    print(f"integration: {good} passed, {bad} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
