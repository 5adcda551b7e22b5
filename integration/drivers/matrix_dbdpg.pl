#!/usr/bin/perl
# Driver matrix workload for DBD::Pg with server-side prepares (Debian libdbd-pg-perl). See
# README.md in this folder.
#
# Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Prints one line per
# result; the same output is expected directly against PostgreSQL and through shardpool. Exits 0
# when the workload ran to its end ("done"), whatever the results were. DBD::Pg names its
# statements dbdpg_p<PID>_<n>: the process id is the one thing the comparison normalises.
use strict;
use warnings;
use utf8;
use DBI;
use DBD::Pg qw(:pg_types);
use Time::HiRes qw(time sleep);

binmode(STDOUT, ':encoding(UTF-8)');
$| = 1;

use constant APP => 'drv_dbdpg';
use constant WORKERS => 8;
use constant TXNS => 5;

sub connect_db {
    my (%attrs) = @_;
    my $dsn = "dbi:Pg:host=$ENV{PGHOST};port=$ENV{PGPORT};dbname=$ENV{PGDATABASE};"
        . "sslmode=disable;connect_timeout=10;application_name=" . APP;
    return DBI->connect($dsn, $ENV{PGUSER}, $ENV{PGPASSWORD},
        {RaiseError => 1, PrintError => 0, AutoCommit => 1, pg_enable_utf8 => 1,
         pg_server_prepare => 1, %attrs});
}

sub err_line {
    my ($dbh) = @_;
    return 'error ' . ($dbh && $dbh->state ? $dbh->state : ($DBI::state // 'none'));
}

sub run_case {
    my ($label, $fn) = @_;
    eval { $fn->(); 1 } or do {
        my $e = $@;
        $e =~ s/\n.*//s;
        print "$label: error " . ($DBI::state // '') . " ($e)\n";
    };
}

sub setup {
    my $c = connect_db();
    $c->do($_) for ('drop table if exists items, counter, shape',
                    'create table items (worker int, seq int, v bigint, primary key (worker, seq))',
                    'create table counter (id int primary key, n int not null)',
                    'insert into counter values (1, 0)',
                    'create table shape (a int, b text)',
                    "insert into shape values (1, 'x'), (2, 'y')");
    $c->disconnect;
    print "setup ok\n";
}

sub concurrency {
    # One process per connection, all starting their transactions together.
    my $start = time + 0.5;
    my @pids;
    for my $w (0 .. WORKERS - 1) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $code = 0;
            eval {
                my $c = connect_db();
                my $wait = $start - time;
                sleep($wait) if $wait > 0;
                my $ins = $c->prepare('insert into items values (?, ?, ?)');
                my $upd = $c->prepare('update counter set n = n + 1 where id = 1');
                my $cnt = $c->prepare('select count(*) from items where worker = ?');
                for my $i (0 .. TXNS - 1) {
                    $c->begin_work;
                    $ins->execute($w, $i, $w * 100 + $i);
                    $upd->execute;
                    $cnt->execute($w);
                    my ($n) = $cnt->fetchrow_array;
                    die "worker $w sees $n rows in txn $i\n" if $n != $i + 1;
                    $c->commit;
                }
                $_->finish for ($ins, $upd, $cnt);
                $c->disconnect;
                1;
            } or do {
                print "concurrency worker $w: error " . ($DBI::state // '') . "\n";
                $code = 1;
            };
            POSIX::_exit($code);
        }
        push @pids, $pid;
    }
    waitpid($_, 0) for @pids;
    my $c = connect_db();
    for my $r (@{$c->selectall_arrayref('select worker, count(*), sum(v) from items group by worker order by worker')}) {
        print "concurrency worker=$r->[0] rows=$r->[1] sum=$r->[2]\n";
    }
    print 'concurrency counter=' . $c->selectrow_array('select n from counter where id = 1') . "\n";
    $c->disconnect;
}

sub rollback {
    my $c = connect_db();
    $c->begin_work;
    $c->do('insert into items values (99, 1, 0)');
    for my $step (['duplicate', 'insert into items values (0, 0, 0)'], ['in failed transaction', 'select 1']) {
        if (eval { $c->selectrow_array($step->[1]); 1 }) {
            print "rollback $step->[0]: no error\n";
        } else {
            print "rollback $step->[0]: " . err_line($c) . "\n";
        }
    }
    $c->rollback;
    print 'rollback after: rows of worker 99 = ' . $c->selectrow_array('select count(*) from items where worker = 99') . "\n";
    eval { $c->selectrow_array('select 1 / 0'); 1 } or print 'rollback autocommit error: ' . err_line($c) . "\n";
    print 'rollback next statement: ' . $c->selectrow_array('select 41 + 1') . "\n";
    $c->disconnect;
}

use constant LITERALS => "select 2147483647::int, 9223372036854775807::bigint, "
    . "12345678901234567890.123456789::numeric, 'h\x{e9}llo \x{2713}'::text, "
    . "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, "
    . "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int";
use constant PARAMS => "select ?::int, ?::bigint, ?::numeric, ?::text, ?::bytea, ?::bool, ?::bool, "
    . "?::timestamptz, ?::int[], ?::text[], ?::int";
my @NAMES = qw(int bigint numeric text bytea bool_t bool_f timestamptz int_array text_array null);

sub show {
    my ($v, $i) = @_;
    return 'undef' unless defined $v;
    return '[' . join(',', map { defined $_ ? $_ : 'undef' } @$v) . ']' if ref $v eq 'ARRAY';
    return 'bytes:' . unpack('H*', $v) if $i == 4;
    return $v;
}

sub types {
    my $c = connect_db();
    my @row = $c->selectrow_array(LITERALS);
    print "types literal $NAMES[$_]=" . show($row[$_], $_) . "\n" for 0 .. $#row;
    my $st = $c->prepare(PARAMS);
    my @args = (2147483647, '9223372036854775807', '12345678901234567890.123456789', "h\x{e9}llo \x{2713}",
                "\x00\xff\x10'\\", 1, 0, '2024-02-29 23:59:59.123456+00', [1, 2, undef], ['a', 'b c', undef], undef);
    for my $i (0 .. $#args) {
        $st->bind_param($i + 1, $args[$i], $i == 4 ? {pg_type => PG_BYTEA} : undef);
    }
    for my $run (1 .. 3) {  # past pg_switch_prepared (2): the last runs use the named statement
        $st->execute;
        my @r = $st->fetchrow_array;
        print "types params run $run $NAMES[$_]=" . show($r[$_], $_) . "\n" for 0 .. $#r;
    }
    $c->disconnect;
    print "types done\n";
}

sub prepared {
    # pg_switch_prepared: DBD::Pg's threshold (default 2: the second execute prepares).
    for my $switch (2, 1) {
        my $c = connect_db(pg_switch_prepared => $switch);
        my $st = $c->prepare('select ?::int * 3');
        my $total = 0;
        for my $i (0 .. 11) {
            $st->execute($i);
            $total += ($st->fetchrow_array)[0];
        }
        print "prepared pg_switch_prepared=$switch reused object sum=$total\n";
        # A new statement handle each time: destroyed handles are DEALLOCATEd (in SQL) by DBD::Pg.
        $total = 0;
        for my $i (0 .. 15) {
            my $s = $c->prepare('select ?::int + ' . ($i % 4));
            $s->execute($i);
            $s->execute($i);
            $total += ($s->fetchrow_array)[0];
        }
        print "prepared pg_switch_prepared=$switch new handles sum=$total\n";
        $c->begin_work;
        my @sts = map { $c->prepare("select ?::int + $_") } 0 .. 3;
        $total = 0;
        for my $i (0 .. 15) {
            $sts[$i % 4]->execute($i);
            $total += ($sts[$i % 4]->fetchrow_array)[0];
        }
        $c->commit;
        print "prepared pg_switch_prepared=$switch in transaction sum=$total\n";
        $c->disconnect;
    }
}

sub dealloc {
    my $c = connect_db(pg_switch_prepared => 1);
    my $st = $c->prepare('select ?::int * 2');
    my $step = sub {
        my ($label, $fn) = @_;
        my $v = eval { $fn->() };
        print "dealloc $label: " . (defined $v || !$@ ? 'ok ' . ($v // 'undef') : err_line($c)) . "\n";
    };
    my $run = sub { $st->execute(21); ($st->fetchrow_array)[0] };
    $step->('execute', $run);
    my $name = $st->{pg_prepare_name};
    print 'dealloc statement name: ' . ($name // 'none') . "\n";
    $step->('sql DEALLOCATE', sub { $c->do("DEALLOCATE $name") });
    $step->('execute after', $run);
    $step->('new statement', sub { $c->selectrow_array('select ?::int * 3', undef, 21) });
    undef $st;  # destroyed: DBD::Pg sends DEALLOCATE for it
    $step->('after destruction', sub { $c->selectrow_array('select ?::int * 4', undef, 21) });
    my $st2 = $c->prepare('select ?::int * 5');
    $step->('prepare before ALL', sub { $st2->execute(1); ($st2->fetchrow_array)[0] });
    $step->('sql DEALLOCATE ALL', sub { $c->do('DEALLOCATE ALL') });
    $step->('execute after ALL', sub { $st2->execute(1); ($st2->fetchrow_array)[0] });
    $step->('new statement after ALL', sub { $c->selectrow_array('select ?::int * 6', undef, 21) });
    undef $st2;
    $c->disconnect;
}

sub schema {
    my $c = connect_db(pg_switch_prepared => 1);
    my $ddl = connect_db();
    my $st = $c->prepare('select * from shape where a > ? order by a');  # a placeholder: server-side prepared
    for my $i (0 .. 7) {
        $ddl->do('alter table shape add column c int default 7') if $i == 4;
        my $label = "schema run $i" . ($i >= 4 ? ' after alter' : '');
        if (eval { $st->execute(0); 1 }) {
            # DBD::Pg 3.16 crashes (SIGSEGV) fetching a row that has more columns than the
            # statement had at its first execute, directly against PostgreSQL as well: after
            # the change only the shape of the result is printed, not its rows.
            if ($i < 4) {
                my $rows = $st->fetchall_arrayref;
                print "$label: cols=" . join(',', @{$st->{NAME}}) . ' rows='
                    . join('', map { '(' . join(',', @$_) . ')' } @$rows) . "\n";
            } else {
                print "$label: fields=$st->{NUM_OF_FIELDS} rows=" . $st->rows . "\n";
                $st->finish;
            }
        } else {
            print "$label: " . err_line($c) . "\n";
        }
    }
    undef $st;
    $c->disconnect;
    $ddl->disconnect;
}

use constant SETTINGS => "select current_setting('application_name'), current_setting('TimeZone'), "
    . "current_setting('search_path'), current_setting('statement_timeout')";

sub settings {
    my @conns = map { connect_db() } 1 .. 4;
    my $probe = sub {
        my ($label, $k) = @_;
        my @r = $conns[$k]->selectrow_array(SETTINGS);
        print "settings $label P$k: app=$r[0] tz=$r[1] path=$r[2] timeout=$r[3]\n";
    };
    $conns[0]->do($_) for ("SET application_name = 'drv_probe'", "SET TimeZone = 'Pacific/Chatham'",
                           'SET search_path = drv_nowhere, public', "SET statement_timeout = '4321ms'");
    $probe->('after set', $_) for (1, 2, 3, 0);
    $conns[1]->begin_work;  # holds one server: the next ones run on the other
    $probe->('P1 in transaction', $_) for (1, 0, 2);
    $conns[1]->commit;
    $probe->('end', $_) for (0, 3, 2, 1);
    $_->disconnect for @conns;
}

require POSIX;
run_case('setup', \&setup);
run_case('concurrency', \&concurrency);
run_case('rollback', \&rollback);
run_case('types', \&types);
run_case('prepared', \&prepared);
run_case('dealloc', \&dealloc);
run_case('schema', \&schema);
run_case('settings', \&settings);
print "done\n";
