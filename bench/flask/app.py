"""GET /stuff/<sid> in Flask + psycopg, the way the course writes it: one connection per
process, opened at start, a commit after each request (the course's db_commit hook), the same
SQL and JSON as kiva and bench/responder.cpp. Run by mod_wsgi through flask/kiva.wsgi."""
import os

import psycopg
from flask import Flask

app = Flask(__name__)
db = psycopg.connect(os.environ["BENCH_CONNINFO"])


@app.get("/stuff/<int:sid>")
def get_stuff_sid(sid: int):
    with db.cursor() as cur:
        cur.execute("SELECT sid, stuff FROM Stuff WHERE sid = %(sid)s", {"sid": sid})
        row = cur.fetchone()
    if row is None:
        return {"error": f"no such stuff: {sid}"}, 404
    return {"sid": row[0], "stuff": row[1]}


@app.after_request
def db_commit(res):
    if res.status_code < 400:
        db.commit()
    else:
        db.rollback()
    return res
