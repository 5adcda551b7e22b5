<?php
// Driver matrix workload for PHP PDO pgsql with real (non-emulated) server-side prepares
// (Debian php-cli + php-pgsql). See README.md in this folder.
//
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Prints one line
// per result; the same output is expected directly against PostgreSQL and through shardpool.
// Exits 0 when the workload ran to its end ("done"), whatever the results were.

const APP = 'drv_pdo';
const WORKERS = 8;
const TXNS = 5;

function connect(): PDO {
    $dsn = sprintf('pgsql:host=%s;port=%s;dbname=%s;sslmode=disable;connect_timeout=10;application_name=%s',
        getenv('PGHOST'), getenv('PGPORT'), getenv('PGDATABASE'), APP);
    $pdo = new PDO($dsn, getenv('PGUSER'), getenv('PGPASSWORD'));
    $pdo->setAttribute(PDO::ATTR_ERRMODE, PDO::ERRMODE_EXCEPTION);
    $pdo->setAttribute(PDO::ATTR_EMULATE_PREPARES, false);  // PQprepare: protocol-level statements
    return $pdo;
}

function out(string $line): void {
    echo $line, "\n";
    flush();
}

function errLine(Throwable $e): string {
    return $e instanceof PDOException ? 'error ' . $e->getCode() : 'exception ' . $e->getMessage();
}

function runCase(string $label, callable $fn): void {
    try {
        $fn();
    } catch (Throwable $e) {
        out("$label: " . errLine($e));
    }
}

function scalar(PDO $c, string $sql, array $args = []) {
    $st = $c->prepare($sql);
    $st->execute($args);
    return $st->fetchColumn();
}

function setup(): void {
    $c = connect();
    foreach (['drop table if exists items, counter, shape',
              'create table items (worker int, seq int, v bigint, primary key (worker, seq))',
              'create table counter (id int primary key, n int not null)',
              'insert into counter values (1, 0)',
              'create table shape (a int, b text)',
              "insert into shape values (1, 'x'), (2, 'y')"] as $sql) {
        $c->exec($sql);
    }
    out('setup ok');
}

function concurrency(): void {
    // One process per connection (PHP has no threads), all starting their transactions together.
    $start = microtime(true) + 0.5;
    $pids = [];
    for ($w = 0; $w < WORKERS; $w++) {
        $pid = pcntl_fork();
        if ($pid === 0) {
            $code = 0;
            try {
                $c = connect();
                time_sleep_until($start);
                $ins = $c->prepare('insert into items values (?, ?, ?)');
                $upd = $c->prepare('update counter set n = n + 1 where id = 1');
                $cnt = $c->prepare('select count(*) from items where worker = ?');
                for ($i = 0; $i < TXNS; $i++) {
                    $c->beginTransaction();
                    $ins->execute([$w, $i, $w * 100 + $i]);
                    $upd->execute();
                    $cnt->execute([$w]);
                    $n = $cnt->fetchColumn();
                    if ($n != $i + 1) throw new RuntimeException("worker $w sees $n rows in txn $i");
                    $c->commit();
                }
            } catch (Throwable $e) {
                out("concurrency worker $w: " . errLine($e));
                $code = 1;
            }
            exit($code);
        }
        $pids[] = $pid;
    }
    foreach ($pids as $pid) pcntl_waitpid($pid, $status);
    $c = connect();
    foreach ($c->query('select worker, count(*), sum(v) from items group by worker order by worker') as $r) {
        out("concurrency worker=$r[0] rows=$r[1] sum=$r[2]");
    }
    out('concurrency counter=' . scalar($c, 'select n from counter where id = 1'));
}

function rollback(): void {
    $c = connect();
    $c->beginTransaction();
    $c->exec('insert into items values (99, 1, 0)');
    foreach (['duplicate' => 'insert into items values (0, 0, 0)', 'in failed transaction' => 'select 1'] as $label => $sql) {
        try {
            scalar($c, $sql);
            out("rollback $label: no error");
        } catch (PDOException $e) {
            out("rollback $label: " . errLine($e));
        }
    }
    $c->rollBack();
    out('rollback after: rows of worker 99 = ' . scalar($c, 'select count(*) from items where worker = 99'));
    try {
        scalar($c, 'select 1 / 0');
    } catch (PDOException $e) {
        out('rollback autocommit error: ' . errLine($e));
    }
    out('rollback next statement: ' . scalar($c, 'select 41 + 1'));
}

const LITERALS = "select 2147483647::int, 9223372036854775807::bigint, " .
    "12345678901234567890.123456789::numeric, 'h\u{e9}llo \u{2713}'::text, " .
    "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, " .
    "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int";
const PARAMS = "select ?::int, ?::bigint, ?::numeric, ?::text, ?::bytea, ?::bool, ?::bool, " .
    "?::timestamptz, ?::int[], ?::text[], ?::int";
const NAMES = ['int', 'bigint', 'numeric', 'text', 'bytea', 'bool_t', 'bool_f', 'timestamptz', 'int_array',
    'text_array', 'null'];

function show($v): string {
    if (is_resource($v)) return 'bytes:' . bin2hex(stream_get_contents($v));
    return gettype($v) . ':' . var_export($v, true);
}

function types(): void {
    $c = connect();
    $row = $c->query(LITERALS)->fetch(PDO::FETCH_NUM);
    foreach ($row as $i => $v) out('types literal ' . NAMES[$i] . '=' . show($v));
    $st = $c->prepare(PARAMS);
    $args = [2147483647, 9223372036854775807, '12345678901234567890.123456789', "h\u{e9}llo \u{2713}",
        "\x00\xff\x10'\\", true, false, '2024-02-29 23:59:59.123456+00', '{1,2,NULL}', '{a,"b c",NULL}', null];
    foreach ($args as $i => $v) {
        $type = match (true) {
            is_int($v) => PDO::PARAM_INT, is_bool($v) => PDO::PARAM_BOOL, is_null($v) => PDO::PARAM_NULL,
            $i === 4 => PDO::PARAM_LOB, default => PDO::PARAM_STR };
        $st->bindValue($i + 1, $v, $type);
    }
    $st->execute();
    foreach ($st->fetch(PDO::FETCH_NUM) as $i => $v) out('types params ' . NAMES[$i] . '=' . show($v));
    out('types done');
}

function prepared(): void {
    $c = connect();
    // One statement object executed past any threshold (PDO prepares at its first execute).
    $st = $c->prepare('select ?::int * 3');
    $total = 0;
    for ($i = 0; $i < 12; $i++) {
        $st->execute([$i]);
        $total += $st->fetchColumn();
    }
    out("prepared reused object sum=$total");
    // A new statement object each time: each is prepared, then DEALLOCATEd (in SQL) when destroyed.
    $total = 0;
    for ($i = 0; $i < 16; $i++) {
        $total += scalar($c, 'select ?::int + ' . ($i % 4), [$i]);
    }
    out("prepared new objects sum=$total");
    // Several statement objects alive at once in a transaction.
    $c->beginTransaction();
    $sts = [];
    for ($k = 0; $k < 4; $k++) $sts[] = $c->prepare("select ?::int + $k");
    $total = 0;
    for ($i = 0; $i < 16; $i++) {
        $sts[$i % 4]->execute([$i]);
        $total += $sts[$i % 4]->fetchColumn();
    }
    $c->commit();
    out("prepared in transaction sum=$total");
}

function dealloc(): void {
    $c = connect();
    $st = $c->prepare('select ?::int * 2');  // PDO names it pdo_stmt_00000001 on this connection
    $step = function (string $label, callable $fn) {
        try {
            out("dealloc $label: ok " . var_export($fn(), true));
        } catch (PDOException $e) {
            out("dealloc $label: " . errLine($e));
        }
    };
    $run = function () use ($st) {
        $st->execute([21]);
        return $st->fetchColumn();
    };
    $step('execute', $run);
    $step('execute again', $run);
    $step('sql DEALLOCATE pdo_stmt_00000001', fn () => $c->exec('DEALLOCATE pdo_stmt_00000001'));
    $step('execute after', $run);
    $step('new statement', fn () => scalar($c, 'select ?::int * 3', [21]));
    $st = null;  // destroyed: PDO sends DEALLOCATE pdo_stmt_00000001 again, its error ignored
    $step('after destruction', fn () => scalar($c, 'select ?::int * 4', [21]));
    $st2 = $c->prepare('select ?::int * 5');
    $step('prepare before ALL', function () use ($st2) { $st2->execute([1]); return $st2->fetchColumn(); });
    $step('sql DEALLOCATE ALL', fn () => $c->exec('DEALLOCATE ALL'));
    $step('execute after ALL', function () use ($st2) { $st2->execute([1]); return $st2->fetchColumn(); });
    $step('new statement after ALL', fn () => scalar($c, 'select ?::int * 6', [21]));
}

function schema(): void {
    $c = connect();
    $ddl = connect();
    $st = $c->prepare('select * from shape order by a');
    for ($i = 0; $i < 8; $i++) {
        if ($i === 4) $ddl->exec('alter table shape add column c int default 7');
        $label = "schema run $i" . ($i >= 4 ? ' after alter' : '');
        try {
            $st->execute();
            $cols = [];
            for ($k = 0; $k < $st->columnCount(); $k++) $cols[] = $st->getColumnMeta($k)['name'];
            out("$label: cols=" . implode(',', $cols) . ' rows=' . json_encode($st->fetchAll(PDO::FETCH_NUM)));
        } catch (PDOException $e) {
            out("$label: " . errLine($e));
        }
    }
    // A statement prepared after the change.
    out('schema new statement: ' . json_encode($c->query('select * from shape order by a')->fetchAll(PDO::FETCH_NUM)));
}

const SETTINGS = "select current_setting('application_name'), current_setting('TimeZone'), " .
    "current_setting('search_path'), current_setting('statement_timeout')";

function settings(): void {
    $conns = [];
    for ($k = 0; $k < 4; $k++) $conns[] = connect();
    $probe = function (string $label, int $k) use (&$conns) {
        $r = $conns[$k]->query(SETTINGS)->fetch(PDO::FETCH_NUM);
        out("settings $label P$k: app=$r[0] tz=$r[1] path=$r[2] timeout=$r[3]");
    };
    foreach (["SET application_name = 'drv_probe'", "SET TimeZone = 'Pacific/Chatham'",
              'SET search_path = drv_nowhere, public', "SET statement_timeout = '4321ms'"] as $sql) {
        $conns[0]->exec($sql);
    }
    foreach ([1, 2, 3, 0] as $k) $probe('after set', $k);
    $conns[1]->beginTransaction();  // holds one server: the next ones run on the other
    $probe('P1 in transaction', 1);
    $probe('P1 in transaction', 0);
    $probe('P1 in transaction', 2);
    $conns[1]->commit();
    foreach ([0, 3, 2, 1] as $k) $probe('end', $k);
}

foreach (['setup', 'concurrency', 'rollback', 'types', 'prepared', 'dealloc', 'schema', 'settings'] as $case) {
    runCase($case, $case);
}
out('done');
