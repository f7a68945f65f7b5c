// The Go peer of make bench (bench/peers/README.md): net/http + pgx v4 (pgxpool), the same
// routes and answers as kiva's demo for the benchmark's scenarios. Built offline by
// bench/peers/build.sh against Debian's Go sources (GOPATH=/usr/share/gocode, GO111MODULE=off).
// Usage: peer-go ADDR CONNINFO SECRET_FILE   (environment: POOL, the pool size, default 4)
package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v4"
	"github.com/jackc/pgx/v4/pgxpool"
)

const (
	realm      = "kiva"
	tokenDelay = 3600 // seconds, kiva's token_delay default
)

var (
	pool   *pgxpool.Pool
	secret []byte
)

type stuff struct {
	Sid   int64  `json:"sid"`
	Stuff string `json:"stuff"`
}

func reply(w http.ResponseWriter, status int, v interface{}) {
	body, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

func fail(w http.ResponseWriter, status int, msg string) {
	reply(w, status, map[string]string{"error": msg})
}

func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-ID"); id != "" {
		return id
	}
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// GET /stuff/<sid>, DELETE /stuff/<sid>
func stuffSid(w http.ResponseWriter, r *http.Request) {
	sid, err := strconv.ParseInt(strings.TrimPrefix(r.URL.Path, "/stuff/"), 10, 64)
	if err != nil {
		fail(w, 404, "not found")
		return
	}
	ctx := r.Context()
	switch r.Method {
	case "GET":
		var s stuff
		err := pool.QueryRow(ctx, "SELECT sid, stuff FROM Stuff WHERE sid = $1", sid).Scan(&s.Sid, &s.Stuff)
		if err == pgx.ErrNoRows {
			fail(w, 404, fmt.Sprintf("no such stuff: %d", sid))
		} else if err != nil {
			fail(w, 500, "database error")
		} else {
			reply(w, 200, s)
		}
	case "DELETE":
		n, err := write(ctx, r, func(tx pgx.Tx) (int64, error) {
			tag, err := tx.Exec(ctx, "DELETE FROM Stuff WHERE sid = $1", sid)
			return tag.RowsAffected(), err
		})
		if err != nil {
			fail(w, 500, "database error")
		} else if n == 0 {
			fail(w, 404, fmt.Sprintf("no such stuff: %d", sid))
		} else {
			w.WriteHeader(204)
		}
	default:
		fail(w, 405, "method not allowed")
	}
}

// write runs f in kiva's request transaction: BEGIN, the audit context, the statement, COMMIT.
func write(ctx context.Context, r *http.Request, f func(pgx.Tx) (int64, error)) (int64, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT set_config('kiva.login', $1, true), set_config('kiva.request_id', $2, true)",
		"", requestID(r)); err != nil {
		return 0, err
	}
	n, err := f(tx)
	if err != nil {
		return 0, err
	}
	return n, tx.Commit(ctx)
}

// GET /stuff?ids=..., POST /stuff
func stuffList(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	switch r.Method {
	case "GET":
		q := r.URL.Query()
		raw := q["ids"]
		var rows pgx.Rows
		var err error
		if len(raw) > 0 {
			ids := make([]int64, 0, len(raw))
			for _, s := range raw {
				id, err := strconv.ParseInt(s, 10, 64)
				if err != nil {
					fail(w, 400, "bad ids")
					return
				}
				ids = append(ids, id)
			}
			rows, err = pool.Query(ctx, "SELECT sid, stuff FROM Stuff WHERE sid = ANY($1) ORDER BY sid", ids)
		} else {
			rows, err = pool.Query(ctx, "SELECT sid, stuff FROM Stuff ORDER BY sid")
		}
		if err != nil {
			fail(w, 500, "database error")
			return
		}
		out := []stuff{}
		for rows.Next() {
			var s stuff
			if err := rows.Scan(&s.Sid, &s.Stuff); err != nil {
				rows.Close()
				fail(w, 500, "database error")
				return
			}
			out = append(out, s)
		}
		if rows.Err() != nil {
			fail(w, 500, "database error")
			return
		}
		reply(w, 200, out)
	case "POST":
		if err := r.ParseForm(); err != nil || r.PostForm.Get("stuff") == "" {
			fail(w, 400, "missing parameter: stuff")
			return
		}
		name := r.PostForm.Get("stuff")
		var sid int64
		_, err := write(ctx, r, func(tx pgx.Tx) (int64, error) {
			return 1, tx.QueryRow(ctx, "INSERT INTO Stuff(stuff) VALUES ($1) RETURNING sid", name).Scan(&sid)
		})
		if err != nil {
			fail(w, 500, "database error")
			return
		}
		reply(w, 201, map[string]int64{"sid": sid})
	default:
		fail(w, 405, "method not allowed")
	}
}

// GET /whoami with a kiva native token: realm:login:YYYYMMDDHHMMSS:hex(hmac-sha256), then the
// same revocation state kiva reads (token_state in framework/sql/queries.sql).
func whoami(w http.ResponseWriter, r *http.Request) {
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "Bearer ") {
		fail(w, 401, "authentication required")
		return
	}
	token := auth[len("Bearer "):]
	last := strings.LastIndexByte(token, ':')
	first := strings.IndexByte(token, ':')
	if first < 0 || last <= first {
		fail(w, 401, "invalid token")
		return
	}
	middle := strings.LastIndexByte(token[:last], ':')
	if middle <= first || token[:first] != realm {
		fail(w, 401, "invalid token")
		return
	}
	login, stamp, sig := token[first+1:middle], token[middle+1:last], token[last+1:]
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(token[:last]))
	want := hex.EncodeToString(mac.Sum(nil))
	if subtle.ConstantTimeCompare([]byte(sig), []byte(want)) != 1 {
		fail(w, 401, "invalid token")
		return
	}
	expiry, err := time.Parse("20060102150405", stamp)
	if err != nil || !time.Now().Before(expiry) {
		fail(w, 401, "expired token")
		return
	}
	digest := sha256.Sum256([]byte(token))
	var revoked bool
	var changed *int64
	err = pool.QueryRow(r.Context(), `SELECT EXISTS (SELECT 1 FROM RevokedToken WHERE digest = $1) AS revoked,
       (SELECT (extract(epoch FROM changed_at) * 1000000)::bigint FROM CredentialChange
        WHERE login = $2) AS changed_us`, hex.EncodeToString(digest[:]), login).Scan(&revoked, &changed)
	if err != nil {
		fail(w, 500, "database error")
		return
	}
	issued := expiry.Unix() - tokenDelay
	if revoked || (changed != nil && issued*1000000 < *changed) {
		fail(w, 401, "invalid token")
		return
	}
	reply(w, 200, login)
}

func main() {
	if len(os.Args) != 4 {
		log.Fatal("usage: peer-go ADDR CONNINFO SECRET_FILE")
	}
	s, err := os.ReadFile(os.Args[3])
	if err != nil {
		log.Fatal(err)
	}
	secret = s
	size := 4
	if n, err := strconv.Atoi(os.Getenv("POOL")); err == nil && n > 0 {
		size = n
	}
	cfg, err := pgxpool.ParseConfig(os.Args[2])
	if err != nil {
		log.Fatal(err)
	}
	cfg.MaxConns, cfg.MinConns = int32(size), int32(size)
	// pgx prepares and caches each statement on each connection (its default statement cache).
	pool, err = pgxpool.ConnectConfig(context.Background(), cfg)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/stuff/", stuffSid)
	mux.HandleFunc("/stuff", stuffList)
	mux.HandleFunc("/whoami", whoami)
	srv := &http.Server{Addr: os.Args[1], Handler: mux}
	log.Printf("peer-go listening on %s, pool %d", os.Args[1], size)
	log.Fatal(srv.ListenAndServe())
}
