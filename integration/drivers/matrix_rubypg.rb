#!/usr/bin/ruby
# Driver matrix workload for ruby-pg (Debian ruby-pg). See README.md in this folder.
#
# Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE (libpq reads them).
# Prints one line per result; the same output is expected directly against PostgreSQL and through
# shardpool. Exits 0 when the workload ran to its end ("done"), whatever the results were.
require 'pg'

APP = 'drv_rubypg'
WORKERS = 8
TXNS = 5
$stdout.sync = true

def connect
  PG.connect(application_name: APP, connect_timeout: 10, sslmode: 'disable')
end

def err_line(e)
  state = e.respond_to?(:result) && e.result ? e.result.error_field(PG::PG_DIAG_SQLSTATE) : nil
  "error #{state} #{e.class.name}"
end

def run_case(label)
  yield
rescue PG::Error => e
  puts "#{label}: #{err_line(e)}"
rescue StandardError => e
  puts "#{label}: exception #{e.class}: #{e.message}"
end

def setup
  c = connect
  ['drop table if exists items, counter, shape',
   'create table items (worker int, seq int, v bigint, primary key (worker, seq))',
   'create table counter (id int primary key, n int not null)',
   'insert into counter values (1, 0)',
   'create table shape (a int, b text)',
   "insert into shape values (1, 'x'), (2, 'y')"].each { |sql| c.exec(sql) }
  c.close
  puts 'setup ok'
end

def concurrency
  conns = Array.new(WORKERS) { connect } # all open at once: more clients than servers
  errors = {}
  threads = conns.each_with_index.map do |c, w|
    Thread.new do
      c.prepare('ins', 'insert into items values ($1, $2, $3)')
      TXNS.times do |i|
        c.transaction do
          c.exec_prepared('ins', [w, i, w * 100 + i])
          c.exec_params('update counter set n = n + 1 where id = 1')
          n = c.exec_params('select count(*) from items where worker = $1', [w]).getvalue(0, 0).to_i
          raise "worker #{w} sees #{n} rows in txn #{i}" if n != i + 1
        end
      end
    rescue PG::Error => e
      errors[w] = err_line(e)
    rescue StandardError => e
      errors[w] = "#{e.class}: #{e.message}"
    end
  end
  threads.each(&:join)
  conns.each(&:close)
  errors.keys.sort.each { |w| puts "concurrency worker #{w}: #{errors[w]}" }
  c = connect
  c.exec('select worker, count(*), sum(v) from items group by worker order by worker').each_row do |r|
    puts "concurrency worker=#{r[0]} rows=#{r[1]} sum=#{r[2]}"
  end
  puts "concurrency counter=#{c.exec('select n from counter where id = 1').getvalue(0, 0)}"
  c.close
end

def rollback
  c = connect
  c.exec('begin')
  c.exec('insert into items values (99, 1, 0)')
  [['duplicate', 'insert into items values (0, 0, 0)'], ['in failed transaction', 'select 1']].each do |label, sql|
    c.exec_params(sql)
    puts "rollback #{label}: no error"
  rescue PG::Error => e
    puts "rollback #{label}: #{err_line(e)}"
  end
  c.exec('rollback')
  puts "rollback after: rows of worker 99 = #{c.exec('select count(*) from items where worker = 99').getvalue(0, 0)}"
  begin
    c.exec('select 1 / 0')
  rescue PG::Error => e
    puts "rollback autocommit error: #{err_line(e)}"
  end
  puts "rollback next statement: #{c.exec('select 41 + 1').getvalue(0, 0)}"
  c.close
end

LITERALS = "select 2147483647::int, 9223372036854775807::bigint, " \
           "12345678901234567890.123456789::numeric, 'h\u00e9llo \u2713'::text, " \
           "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, " \
           "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int"
PARAMS = 'select $1::int, $2::bigint, $3::numeric, $4::text, $5::bytea, $6::bool, $7::bool, ' \
         '$8::timestamptz, $9::int[], $10::text[], $11::int'
NAMES = %w[int bigint numeric text bytea bool_t bool_f timestamptz int_array text_array null].freeze

def types
  c = connect
  c.type_map_for_results = PG::BasicTypeMapForResults.new(c)
  encoder = PG::BasicTypeMapForQueries.new(c)
  args = [2147483647, 9223372036854775807, '12345678901234567890.123456789', "h\u00e9llo \u2713",
          '\\x00ff10275c', true, false, '2024-02-29 23:59:59.123456+00',
          [1, 2, nil], ['a', 'b c', nil], nil]
  [['literal', LITERALS, nil], ['params', PARAMS, args]].each do |label, sql, params|
    res = params ? c.exec_params(sql, params, 0, encoder) : c.exec(sql)
    res.values[0].each_with_index { |v, i| puts "types #{label} #{NAMES[i]}=#{v.class}:#{v.inspect}" }
  end
  c.close
  puts 'types done'
end

def prepared
  c = connect
  # The same protocol-level statement executed many times, and four of them in a transaction.
  c.prepare('times3', 'select $1::int * 3')
  total = (0...12).sum { |i| c.exec_prepared('times3', [i]).getvalue(0, 0).to_i }
  puts "prepared reused sum=#{total}"
  4.times { |k| c.prepare("plus#{k}", "select $1::int + #{k}") }
  c.transaction do
    total = (0...16).sum { |i| c.exec_prepared("plus#{i % 4}", [i]).getvalue(0, 0).to_i }
  end
  puts "prepared in transaction sum=#{total}"
  c.close
end

def dealloc
  c = connect
  step = lambda do |label, &blk|
    res = blk.call
    puts "dealloc #{label}: ok#{res.ntuples.positive? ? " #{res.getvalue(0, 0)}" : ''}"
  rescue PG::Error => e
    puts "dealloc #{label}: #{err_line(e)}"
  end
  step.call('prepare') { c.prepare('drv_stmt', 'select $1::int * 2') }
  step.call('execute') { c.exec_prepared('drv_stmt', [21]) }
  step.call('prepare same name') { c.prepare('drv_stmt', 'select $1::int * 2') }
  step.call('sql DEALLOCATE') { c.exec('DEALLOCATE drv_stmt') }
  step.call('execute after') { c.exec_prepared('drv_stmt', [21]) }
  step.call('prepare again') { c.prepare('drv_stmt', 'select $1::int * 3') }
  step.call('execute again') { c.exec_prepared('drv_stmt', [21]) }
  step.call('sql DEALLOCATE ALL') { c.exec('DEALLOCATE ALL') }
  step.call('execute after ALL') { c.exec_prepared('drv_stmt', [21]) }
  step.call('prepare after ALL') { c.prepare('drv_stmt', 'select $1::int * 4') }
  step.call('execute after ALL prepare') { c.exec_prepared('drv_stmt', [21]) }
  c.close
end

UNNAMED = ['select $1::int * 2', 'select $1::text || $2::text', 'select $1::int + $2::int + $3::int',
           'select $1::text || $2::text || $3::text || $4::text'].freeze

# The unnamed statement is per connection: another client's Parse must not replace it. Four
# connections (more than shardpool's worker threads, so that two share one) each Parse a statement
# with a different number of parameters in its own round trip, then each Binds its own; a few
# rounds, since which server each round trip gets is up to the pool.
def unnamed
  conns = UNNAMED.map { connect }
  show = lambda do |label, &blk|
    res = blk.call
    puts "unnamed #{label}: ok#{res.ntuples.positive? ? " #{res.getvalue(0, 0)}" : ''}"
  rescue PG::Error => e
    puts "unnamed #{label}: #{err_line(e)}"
  end
  3.times do |r|
    conns.each_with_index { |c, k| show.call("#{r} C#{k} prepare") { c.prepare('', UNNAMED[k]) } }
    conns.each_with_index do |c, k|
      show.call("#{r} C#{k} execute") { c.exec_prepared('', (0..k).map { |i| (k + i).to_s }) }
    end
  end
ensure
  conns&.each(&:close)
end

def schema
  c = connect
  ddl = connect
  c.prepare('shape_all', 'select * from shape order by a')
  8.times do |i|
    ddl.exec('alter table shape add column c int default 7') if i == 4
    label = "schema run #{i}#{i >= 4 ? ' after alter' : ''}"
    begin
      res = c.exec_prepared('shape_all')
      puts "#{label}: cols=#{res.fields.join(',')} rows=#{res.values.inspect}"
    rescue PG::Error => e
      puts "#{label}: #{err_line(e)}"
    end
  end
  c.close
  ddl.close
end

SETTINGS = "select current_setting('application_name'), current_setting('TimeZone'), " \
           "current_setting('search_path'), current_setting('statement_timeout')"

def settings
  conns = Array.new(4) { connect }
  probe = lambda do |label, k|
    r = conns[k].exec(SETTINGS).values[0]
    puts "settings #{label} P#{k}: app=#{r[0]} tz=#{r[1]} path=#{r[2]} timeout=#{r[3]}"
  end
  ["SET application_name = 'drv_probe'", "SET TimeZone = 'Pacific/Chatham'",
   'SET search_path = drv_nowhere, public', "SET statement_timeout = '4321ms'"].each { |sql| conns[0].exec(sql) }
  [1, 2, 3, 0].each { |k| probe.call('after set', k) }
  conns[1].transaction do # holds one server: the next ones run on the other
    [1, 0, 2].each { |k| probe.call('P1 in transaction', k) }
  end
  [0, 3, 2, 1].each { |k| probe.call('end', k) }
ensure
  conns&.each(&:close)
end

%w[setup concurrency rollback types prepared dealloc unnamed schema settings].each do |name|
  run_case(name) { send(name) }
end
puts 'done'
