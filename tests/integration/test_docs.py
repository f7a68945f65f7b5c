"""GET /docs: Swagger UI (swagger-ui-dist from npm, served by the worker, no CDN) in headless
chromium, through nginx: the page lists every route of the OpenAPI document, and "try it out"
on GET /stuff gets 200 from the live API. The screenshot stays in tests/artefacts/docs.png."""

import os
import unittest

import harness
from harness import ApiTest, ROOT
from cdp import Browser

ARTEFACTS = os.path.join(ROOT, "tests", "artefacts")


class TestDocsPage(ApiTest):
    def test_files_are_served_and_nothing_else(self):
        page = self.api.request("GET", "/docs")
        self.assertEqual(page.status, 200)
        self.assertTrue(page.headers["content-type"].startswith("text/html"))
        self.assertIn(b'data-spec="/api/openapi.json"', page.body)
        self.assertNotIn(b"https://", page.body)  # nothing from the internet
        js = self.api.request("GET", "/docs/swagger-ui-bundle.js")
        self.assertEqual(js.status, 200)
        self.assertTrue(js.headers["content-type"].startswith("application/javascript"))
        self.error("GET", "/docs/package.json", 404)
        self.error("GET", "/docs/..%2Fpackage.json", 404)

    def test_the_page_lists_every_route_and_try_it_out_works(self):
        doc = self.call("GET", "/openapi.json", 200).json
        expected = sorted((m.upper(), p) for p, ops in doc["paths"].items() for m in ops)
        browser = Browser()
        try:
            browser.call("Page.enable")
            browser.call("Page.navigate", url=f"http://127.0.0.1:{harness.STACK.port}/api/docs")
            count = browser.wait_for(
                f"document.querySelectorAll('.opblock').length >= {len(expected)} && "
                "document.querySelectorAll('.opblock').length")
            listed = browser.evaluate(
                "Array.from(document.querySelectorAll('.opblock')).map(b => ["
                "b.querySelector('.opblock-summary-method').textContent,"
                "b.querySelector('.opblock-summary-path').getAttribute('data-path')])")
            self.assertEqual(count, len(expected))
            self.assertEqual(sorted(tuple(x) for x in listed), expected)

            # Try it out: GET /stuff, through the same nginx
            block = "document.getElementById('operations-default-get_stuff')"
            browser.evaluate(f"{block}.querySelector('.opblock-summary-control').click()")
            self.assertTrue(browser.wait_for(f"!!{block}.querySelector('.try-out__btn')"))
            browser.evaluate(f"{block}.querySelector('.try-out__btn').click()")
            self.assertTrue(browser.wait_for(f"!!{block}.querySelector('.execute')"))
            browser.evaluate(f"{block}.querySelector('.execute').click()")
            status = browser.wait_for(
                f"(e => e && e.textContent.trim())({block}.querySelector("
                "'.live-responses-table tr.response .response-col_status'))")
            self.assertEqual(status, "200")
            body = browser.evaluate(f"{block}.querySelector('.live-responses-table .microlight, "
                                    ".live-responses-table pre').textContent")
            self.assertIn('"stuff"', body)
            os.makedirs(ARTEFACTS, exist_ok=True)
            browser.screenshot(os.path.join(ARTEFACTS, "docs.png"))
        finally:
            browser.stop()
        self.assertGreater(os.path.getsize(os.path.join(ARTEFACTS, "docs.png")), 10000)


if __name__ == "__main__":
    unittest.main()
