"""Concurrent requests: 64 POSTs at once all get 201 and distinct ids."""

import threading
import uuid

from harness import ApiTest, Client, STACK


class TestConcurrency(ApiTest):
    def test_64_concurrent_posts(self):
        results, errors = [], []
        barrier = threading.Barrier(64)
        tag = uuid.uuid4().hex[:8]

        def post(i):
            client = Client(STACK.port)
            try:
                barrier.wait()
                r = client.request("POST", "/stuff", data={"stuff": f"concurrent-{tag}-{i}"})
                results.append((r.status, r.json))
            except Exception as e:  # reported below
                errors.append(repr(e))
            finally:
                client.close()

        threads = [threading.Thread(target=post, args=(i,)) for i in range(64)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])
        self.assertEqual(len(results), 64)
        self.assertEqual({s for s, _ in results}, {201}, results)
        sids = [body["sid"] for _, body in results]
        self.assertEqual(len(set(sids)), 64)
        rows = self.call("GET", "/stuff", 200, data=f"filter=concurrent-{tag}-%").json
        self.assertEqual(sorted(r["sid"] for r in rows), sorted(sids))
