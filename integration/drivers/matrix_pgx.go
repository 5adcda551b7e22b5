// Driver matrix workload for pgx v4 (Debian golang-github-jackc-pgx-v4-dev). See README.md in
// this folder.
//
// Run (Debian's Go packages, GOPATH mode): GO111MODULE=off GOPATH=/usr/share/gocode go run matrix_pgx.go
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Prints one line
// per result; the same output is expected directly against PostgreSQL and through shardpool.
// Exits 0 when the workload ran to its end ("done"), whatever the results were.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/jackc/pgconn"
	"github.com/jackc/pgx/v4"
)

const (
	app     = "drv_pgx"
	workers = 8
	txns    = 5
)

func connect(ctx context.Context, extra string) (*pgx.Conn, error) {
	dsn := fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=%s sslmode=disable connect_timeout=10 application_name=%s %s",
		os.Getenv("PGHOST"), os.Getenv("PGPORT"), os.Getenv("PGUSER"), os.Getenv("PGPASSWORD"),
		os.Getenv("PGDATABASE"), app, extra)
	return pgx.Connect(ctx, dsn)
}

func errLine(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return "error " + pgErr.Code
	}
	return "error " + err.Error()
}

func out(format string, args ...interface{}) {
	fmt.Printf(format+"\n", args...)
}

func runCase(label string, fn func(ctx context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := fn(ctx); err != nil {
		out("%s: %s", label, errLine(err))
	}
}

func setup(ctx context.Context) error {
	c, err := connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	for _, sql := range []string{
		"drop table if exists items, counter, shape",
		"create table items (worker int, seq int, v bigint, primary key (worker, seq))",
		"create table counter (id int primary key, n int not null)",
		"insert into counter values (1, 0)",
		"create table shape (a int, b text)",
		"insert into shape values (1, 'x'), (2, 'y')",
	} {
		if _, err := c.Exec(ctx, sql); err != nil {
			return err
		}
	}
	out("setup ok")
	return nil
}

func concurrency(ctx context.Context) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	errs := map[int]string{}
	var ready sync.WaitGroup
	ready.Add(workers)
	start := make(chan struct{})
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			fail := func(err error) {
				mu.Lock()
				errs[w] = errLine(err)
				mu.Unlock()
			}
			c, err := connect(ctx, "")
			ready.Done()
			if err != nil {
				fail(err)
				return
			}
			defer c.Close(ctx)
			<-start // all connections open at once: more clients than servers
			for i := 0; i < txns; i++ {
				err := c.BeginFunc(ctx, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "insert into items values ($1, $2, $3)", w, i, w*100+i); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, "update counter set n = n + 1 where id = 1"); err != nil {
						return err
					}
					var n int
					if err := tx.QueryRow(ctx, "select count(*) from items where worker = $1", w).Scan(&n); err != nil {
						return err
					}
					if n != i+1 {
						return fmt.Errorf("worker %d sees %d rows in txn %d", w, n, i)
					}
					return nil
				})
				if err != nil {
					fail(err)
					return
				}
			}
		}(w)
	}
	ready.Wait()
	close(start)
	wg.Wait()
	keys := make([]int, 0, len(errs))
	for k := range errs {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	for _, k := range keys {
		out("concurrency worker %d: %s", k, errs[k])
	}
	c, err := connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "select worker, count(*), sum(v) from items group by worker order by worker")
	if err != nil {
		return err
	}
	for rows.Next() {
		var w, n, s int64
		if err := rows.Scan(&w, &n, &s); err != nil {
			return err
		}
		out("concurrency worker=%d rows=%d sum=%d", w, n, s)
	}
	if rows.Err() != nil {
		return rows.Err()
	}
	var n int
	if err := c.QueryRow(ctx, "select n from counter where id = 1").Scan(&n); err != nil {
		return err
	}
	out("concurrency counter=%d", n)
	return nil
}

func rollback(ctx context.Context) error {
	c, err := connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "insert into items values (99, 1, 0)"); err != nil {
		return err
	}
	for _, step := range [][2]string{{"duplicate", "insert into items values (0, 0, 0)"}, {"in failed transaction", "select 1"}} {
		if _, err := tx.Exec(ctx, step[1]); err != nil {
			out("rollback %s: %s", step[0], errLine(err))
		} else {
			out("rollback %s: no error", step[0])
		}
	}
	if err := tx.Rollback(ctx); err != nil {
		return err
	}
	var n int
	if err := c.QueryRow(ctx, "select count(*) from items where worker = 99").Scan(&n); err != nil {
		return err
	}
	out("rollback after: rows of worker 99 = %d", n)
	if _, err := c.Exec(ctx, "select 1 / 0"); err != nil {
		out("rollback autocommit error: %s", errLine(err))
	}
	if err := c.QueryRow(ctx, "select 41 + 1").Scan(&n); err != nil {
		return err
	}
	out("rollback next statement: %d", n)
	return nil
}

const literals = "select 2147483647::int, 9223372036854775807::bigint, " +
	"12345678901234567890.123456789::numeric, 'h\u00e9llo \u2713'::text, " +
	"'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, " +
	"array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int"
const params = "select $1::int, $2::bigint, $3::numeric, $4::text, $5::bytea, $6::bool, $7::bool, " +
	"$8::timestamptz, $9::int[], $10::text[], $11::int"

var names = []string{"int", "bigint", "numeric", "text", "bytea", "bool_t", "bool_f", "timestamptz",
	"int_array", "text_array", "null"}

func types(ctx context.Context) error {
	ts := time.Date(2024, 2, 29, 23, 59, 59, 123456000, time.UTC)
	args := []interface{}{int32(2147483647), int64(9223372036854775807), "12345678901234567890.123456789",
		"h\u00e9llo \u2713", []byte{0, 0xff, 0x10, '\'', '\\'}, true, false, ts,
		[]*int32{ptr(int32(1)), ptr(int32(2)), nil}, []*string{ptr("a"), ptr("b c"), nil}, nil}
	for _, mode := range []string{"", "prefer_simple_protocol=true"} {
		c, err := connect(ctx, mode)
		if err != nil {
			return err
		}
		for _, q := range []struct {
			label string
			sql   string
			args  []interface{}
		}{{"literal", literals, nil}, {"params", params, args}} {
			rows, err := c.Query(ctx, q.sql, q.args...)
			if err != nil {
				c.Close(ctx)
				return err
			}
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					c.Close(ctx)
					return err
				}
				for i, v := range vals {
					out("types %s %s %s=%s", mode, q.label, names[i], show(v))
				}
			}
			if rows.Err() != nil {
				c.Close(ctx)
				return rows.Err()
			}
		}
		c.Close(ctx)
	}
	out("types done")
	return nil
}

func ptr[T any](v T) *T { return &v }

func show(v interface{}) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	default:
		return fmt.Sprintf("%T:%v", v, v)
	}
}

func prepared(ctx context.Context) error {
	statements := []string{"select $1::int + 0", "select $1::int + 1", "select $1::int + 2", "select $1::int + 3"}
	// The default statement cache (prepare mode, 512), a cache of 2 for 4 statements (evictions
	// send SQL "deallocate"), describe mode (unnamed statements) and no cache at all.
	for _, extra := range []string{"", "statement_cache_capacity=2", "statement_cache_mode=describe",
		"statement_cache_capacity=0"} {
		c, err := connect(ctx, extra)
		if err != nil {
			return err
		}
		for _, kinds := range []int{1, 4} {
			total := 0
			for i := 0; i < 16; i++ {
				var v int
				if err := c.QueryRow(ctx, statements[i%kinds], i).Scan(&v); err != nil {
					out("prepared %q statements=%d run %d: %s", extra, kinds, i, errLine(err))
					continue
				}
				total += v
			}
			out("prepared %q statements=%d sum=%d", extra, kinds, total)
		}
		c.Close(ctx)
	}
	return nil
}

func dealloc(ctx context.Context) error {
	c, err := connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	step := func(label string, fn func() (int, error)) {
		if v, err := fn(); err != nil {
			out("dealloc %s: %s", label, errLine(err))
		} else {
			out("dealloc %s: ok %d", label, v)
		}
	}
	query := func() (int, error) {
		var v int
		err := c.QueryRow(ctx, "drv_stmt", 21).Scan(&v)
		return v, err
	}
	prepare := func(sql string) func() (int, error) {
		return func() (int, error) { _, err := c.Prepare(ctx, "drv_stmt", sql); return 0, err }
	}
	// A protocol-level statement of our own name, then pgx's Deallocate: SQL "deallocate drv_stmt".
	step("prepare", prepare("select $1::int * 2"))
	step("execute", query)
	step("Deallocate", func() (int, error) { return 0, c.Deallocate(ctx, "drv_stmt") })
	step("prepare again", prepare("select $1::int * 3"))
	step("execute again", query)
	step("sql DEALLOCATE", func() (int, error) { _, err := c.Exec(ctx, "DEALLOCATE drv_stmt"); return 0, err })
	step("prepare after sql DEALLOCATE", prepare("select $1::int * 4"))
	step("execute after sql DEALLOCATE", query)
	step("sql DEALLOCATE ALL", func() (int, error) { _, err := c.Exec(ctx, "DEALLOCATE ALL"); return 0, err })
	// pgx still thinks drv_stmt exists: Prepare of the same SQL is answered from its own map.
	step("raw execute after ALL", func() (int, error) {
		res := c.PgConn().ExecPrepared(ctx, "drv_stmt", [][]byte{[]byte("21")}, nil, nil).Read()
		if res.Err != nil {
			return 0, res.Err
		}
		return len(res.Rows), nil
	})
	return nil
}

func schema(ctx context.Context) error {
	for _, extra := range []string{"", "statement_cache_mode=describe"} {
		c, err := connect(ctx, extra)
		if err != nil {
			return err
		}
		ddl, err := connect(ctx, "")
		if err != nil {
			c.Close(ctx)
			return err
		}
		if _, err := ddl.Exec(ctx, "alter table shape drop column if exists c"); err != nil {
			return err
		}
		for i := 0; i < 8; i++ {
			if i == 4 {
				if _, err := ddl.Exec(ctx, "alter table shape add column c int default 7"); err != nil {
					return err
				}
			}
			label := fmt.Sprintf("schema %q run %d", extra, i)
			if i >= 4 {
				label += " after alter"
			}
			rows, err := c.Query(ctx, "select * from shape order by a")
			if err != nil {
				out("%s: %s", label, errLine(err))
				continue
			}
			cols := ""
			for k, f := range rows.FieldDescriptions() {
				if k > 0 {
					cols += ","
				}
				cols += string(f.Name)
			}
			var all [][]interface{}
			for rows.Next() {
				v, _ := rows.Values()
				all = append(all, v)
			}
			if rows.Err() != nil {
				out("%s: %s", label, errLine(rows.Err()))
				continue
			}
			out("%s: cols=%s rows=%v", label, cols, all)
		}
		c.Close(ctx)
		ddl.Close(ctx)
	}
	return nil
}

const settingsQuery = "select current_setting('application_name'), current_setting('TimeZone'), " +
	"current_setting('search_path'), current_setting('statement_timeout')"

func settings(ctx context.Context) error {
	conns := make([]*pgx.Conn, 4)
	for k := range conns {
		c, err := connect(ctx, "")
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		conns[k] = c
	}
	probe := func(q interface {
		QueryRow(context.Context, string, ...interface{}) pgx.Row
	}, label string, k int) error {
		var app, tz, path, timeout string
		if err := q.QueryRow(ctx, settingsQuery).Scan(&app, &tz, &path, &timeout); err != nil {
			return err
		}
		out("settings %s P%d: app=%s tz=%s path=%s timeout=%s", label, k, app, tz, path, timeout)
		return nil
	}
	for _, sql := range []string{"SET application_name = 'drv_probe'", "SET TimeZone = 'Pacific/Chatham'",
		"SET search_path = drv_nowhere, public", "SET statement_timeout = '4321ms'"} {
		if _, err := conns[0].Exec(ctx, sql); err != nil {
			return err
		}
	}
	for _, k := range []int{1, 2, 3, 0} {
		if err := probe(conns[k], "after set", k); err != nil {
			return err
		}
	}
	tx, err := conns[1].Begin(ctx) // holds one server: the next ones run on the other
	if err != nil {
		return err
	}
	if err := probe(tx, "P1 in transaction", 1); err != nil {
		return err
	}
	for _, k := range []int{0, 2} {
		if err := probe(conns[k], "P1 in transaction", k); err != nil {
			return err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	for _, k := range []int{0, 3, 2, 1} {
		if err := probe(conns[k], "end", k); err != nil {
			return err
		}
	}
	return nil
}

func main() {
	runCase("setup", setup)
	runCase("concurrency", concurrency)
	runCase("rollback", rollback)
	runCase("types", types)
	runCase("prepared", prepared)
	runCase("dealloc", dealloc)
	runCase("schema", schema)
	runCase("settings", settings)
	out("done")
}
