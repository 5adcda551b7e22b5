// Driver matrix workload for pgjdbc (Debian libpostgresql-jdbc-java). See README.md in this folder.
//
// Run: java -cp /usr/share/java/postgresql.jar matrix_pgjdbc.java   (single-file source launch),
// or javac -d DIR it and run java -cp DIR:/usr/share/java/postgresql.jar MatrixPgjdbc
// Connection settings come from PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE. Prints one line
// per result; the same output is expected directly against PostgreSQL and through shardpool.
// Exits 0 when the workload ran to its end ("done"), whatever the results were.
import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;

class MatrixPgjdbc {
  static final String APP = "drv_pgjdbc";
  static final int WORKERS = 8;
  static final int TXNS = 5;

  interface Case {
    void run() throws Exception;
  }

  static Connection connect(String extra) throws SQLException {
    String url = "jdbc:postgresql://" + System.getenv("PGHOST") + ":" + System.getenv("PGPORT") + "/"
        + System.getenv("PGDATABASE") + "?sslmode=disable&gssEncMode=disable&connectTimeout=10"
        + "&ApplicationName=" + APP + (extra.isEmpty() ? "" : "&" + extra);
    return DriverManager.getConnection(url, System.getenv("PGUSER"), System.getenv("PGPASSWORD"));
  }

  static String err(SQLException e) {
    return "error " + e.getSQLState();
  }

  static void out(String line) {
    System.out.println(line);
    System.out.flush();
  }

  static void runCase(String label, Case c) {
    try {
      c.run();
    } catch (SQLException e) {
      out(label + ": " + err(e));
    } catch (Exception e) {
      out(label + ": exception " + e);
    }
  }

  static String scalar(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  static void exec(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  static void setup() throws SQLException {
    try (Connection c = connect("")) {
      exec(c, "drop table if exists items, counter, shape");
      exec(c, "create table items (worker int, seq int, v bigint, primary key (worker, seq))");
      exec(c, "create table counter (id int primary key, n int not null)");
      exec(c, "insert into counter values (1, 0)");
      exec(c, "create table shape (a int, b text)");
      exec(c, "insert into shape values (1, 'x'), (2, 'y')");
    }
    out("setup ok");
  }

  static void concurrency() throws Exception {
    CyclicBarrier barrier = new CyclicBarrier(WORKERS);
    Map<Integer, String> errors = new TreeMap<>();
    List<Thread> threads = new ArrayList<>();
    for (int w = 0; w < WORKERS; w++) {
      final int worker = w;
      Thread t = new Thread(() -> {
        try (Connection c = connect("")) {
          barrier.await(20, TimeUnit.SECONDS);  // all connections open at once
          c.setAutoCommit(false);
          try (PreparedStatement ins = c.prepareStatement("insert into items values (?, ?, ?)");
               PreparedStatement upd = c.prepareStatement("update counter set n = n + 1 where id = 1");
               PreparedStatement cnt = c.prepareStatement("select count(*) from items where worker = ?")) {
            for (int i = 0; i < TXNS; i++) {
              ins.setInt(1, worker);
              ins.setInt(2, i);
              ins.setLong(3, worker * 100L + i);
              ins.executeUpdate();
              upd.executeUpdate();
              cnt.setInt(1, worker);
              try (ResultSet rs = cnt.executeQuery()) {
                rs.next();
                if (rs.getInt(1) != i + 1) throw new IllegalStateException("worker " + worker + " sees " + rs.getInt(1));
              }
              c.commit();
            }
          }
        } catch (SQLException e) {
          synchronized (errors) { errors.put(worker, err(e)); }
        } catch (Exception e) {
          synchronized (errors) { errors.put(worker, e.toString()); }
        }
      });
      threads.add(t);
      t.start();
    }
    for (Thread t : threads) t.join();
    for (Map.Entry<Integer, String> e : errors.entrySet()) out("concurrency worker " + e.getKey() + ": " + e.getValue());
    try (Connection c = connect(""); Statement s = c.createStatement();
         ResultSet rs = s.executeQuery("select worker, count(*), sum(v) from items group by worker order by worker")) {
      while (rs.next()) out("concurrency worker=" + rs.getInt(1) + " rows=" + rs.getLong(2) + " sum=" + rs.getString(3));
      out("concurrency counter=" + scalar(c, "select n from counter where id = 1"));
    }
  }

  static void rollback() throws SQLException {
    try (Connection c = connect("")) {
      c.setAutoCommit(false);
      exec(c, "insert into items values (99, 1, 0)");
      String[][] steps = {{"duplicate", "insert into items values (0, 0, 0)"}, {"in failed transaction", "select 1"}};
      for (String[] step : steps) {
        try {
          exec(c, step[1]);
          out("rollback " + step[0] + ": no error");
        } catch (SQLException e) {
          out("rollback " + step[0] + ": " + err(e));
        }
      }
      c.rollback();
      out("rollback after: rows of worker 99 = " + scalar(c, "select count(*) from items where worker = 99"));
      c.rollback();
      c.setAutoCommit(true);
      try {
        scalar(c, "select 1 / 0");
      } catch (SQLException e) {
        out("rollback autocommit error: " + err(e));
      }
      out("rollback next statement: " + scalar(c, "select 41 + 1"));
    }
  }

  static final String LITERALS = "select 2147483647::int, 9223372036854775807::bigint, "
      + "12345678901234567890.123456789::numeric, 'h\u00e9llo \u2713'::text, "
      + "'\\x00ff10275c'::bytea, true, false, '2024-02-29 23:59:59.123456+00'::timestamptz, "
      + "array[1, 2, null]::int[], array['a', 'b c', null]::text[], null::int";
  static final String PARAMS = "select ?::int, ?::bigint, ?::numeric, ?::text, ?::bytea, ?::bool, ?::bool, "
      + "?::timestamptz, ?::int[], ?::text[], ?::int";
  static final String[] NAMES = {"int", "bigint", "numeric", "text", "bytea", "bool_t", "bool_f",
      "timestamptz", "int_array", "text_array", "null"};

  static String show(ResultSet rs, int i) throws SQLException {
    if (i == 8) {
      OffsetDateTime t = rs.getObject(i, OffsetDateTime.class);
      return String.valueOf(t);
    }
    Object o = rs.getObject(i);
    if (o == null) return "null";
    if (o instanceof byte[]) {
      StringBuilder sb = new StringBuilder("bytes:");
      for (byte b : (byte[]) o) sb.append(String.format("%02x", b));
      return sb.toString();
    }
    if (o instanceof Array) return Arrays.toString((Object[]) ((Array) o).getArray());
    return o.getClass().getSimpleName() + ":" + o;
  }

  static void types() throws SQLException {
    for (String extra : new String[] {"prepareThreshold=5", "prepareThreshold=-1"}) {
      try (Connection c = connect(extra)) {
        for (int run = 0; run < 2; run++) {
          try (PreparedStatement ps = c.prepareStatement(LITERALS); ResultSet rs = ps.executeQuery()) {
            rs.next();
            for (int i = 1; i <= NAMES.length; i++) out("types " + extra + " literal " + NAMES[i - 1] + "=" + show(rs, i));
          }
          try (PreparedStatement ps = c.prepareStatement(PARAMS)) {
            ps.setInt(1, 2147483647);
            ps.setLong(2, 9223372036854775807L);
            ps.setBigDecimal(3, new BigDecimal("12345678901234567890.123456789"));
            ps.setString(4, "h\u00e9llo \u2713");
            ps.setBytes(5, new byte[] {0, (byte) 0xff, 0x10, '\'', '\\'});
            ps.setBoolean(6, true);
            ps.setBoolean(7, false);
            ps.setObject(8, OffsetDateTime.parse("2024-02-29T23:59:59.123456Z"));
            ps.setArray(9, c.createArrayOf("int4", new Integer[] {1, 2, null}));
            ps.setArray(10, c.createArrayOf("text", new String[] {"a", "b c", null}));
            ps.setNull(11, java.sql.Types.INTEGER);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              for (int i = 1; i <= NAMES.length; i++) out("types " + extra + " params " + NAMES[i - 1] + "=" + show(rs, i));
            }
          }
        }
      }
    }
    out("types done");
  }

  static long runRepeated(Connection c, String[] statements, int kinds, int runs) throws SQLException {
    long total = 0;
    for (int i = 0; i < runs; i++) {
      try (PreparedStatement ps = c.prepareStatement(statements[i % kinds])) {
        ps.setInt(1, i);
        try (ResultSet rs = ps.executeQuery()) {
          rs.next();
          total += rs.getLong(1);
        }
      }
    }
    return total;
  }

  static void prepared() throws SQLException {
    String[] statements = {"select ?::int + 0", "select ?::int + 1", "select ?::int + 2", "select ?::int + 3"};
    // The same statement past the threshold; four statements through a cache of two, so that
    // pgjdbc evicts (Close) and prepares again.
    String[] configs = {"prepareThreshold=5", "prepareThreshold=-1",
        "prepareThreshold=1&preparedStatementCacheQueries=2"};
    for (String extra : configs) {
      try (Connection c = connect(extra)) {
        out("prepared " + extra + " one statement sum=" + runRepeated(c, statements, 1, 16));
        out("prepared " + extra + " four statements sum=" + runRepeated(c, statements, 4, 16));
        c.setAutoCommit(false);
        out("prepared " + extra + " in transaction sum=" + runRepeated(c, statements, 4, 16));
        c.commit();
      }
    }
    // One PreparedStatement object reused past the threshold.
    for (String extra : new String[] {"prepareThreshold=5", "prepareThreshold=-1"}) {
      try (Connection c = connect(extra); PreparedStatement ps = c.prepareStatement("select ?::int * 3")) {
        long total = 0;
        for (int i = 0; i < 12; i++) {
          ps.setInt(1, i);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            total += rs.getLong(1);
          }
        }
        out("prepared " + extra + " reused object sum=" + total);
      }
    }
  }

  static void dealloc() throws SQLException {
    for (String extra : new String[] {"prepareThreshold=1", "prepareThreshold=-1"}) {
      // preparedStatementCacheQueries=0: closing a PreparedStatement Closes its server statement.
      try (Connection c = connect(extra + "&preparedStatementCacheQueries=0")) {
        for (int round = 0; round < 3; round++) {
          try (PreparedStatement ps = c.prepareStatement("select ?::int * 2")) {
            ps.setInt(1, 21 + round);
            try (ResultSet rs = ps.executeQuery()) {
              rs.next();
              out("dealloc " + extra + " closed statement round " + round + ": " + rs.getInt(1));
            }
          }
        }
      }
      // pgjdbc names its server statements S_1, S_2, ... per connection: DEALLOCATE one in SQL.
      try (Connection c = connect(extra); PreparedStatement ps = c.prepareStatement("select ?::int * 5")) {
        for (int round = 0; round < 4; round++) {
          if (round == 2) {
            try {
              exec(c, "DEALLOCATE \"S_1\"");
              out("dealloc " + extra + " sql DEALLOCATE S_1: ok");
            } catch (SQLException e) {
              out("dealloc " + extra + " sql DEALLOCATE S_1: " + err(e));
            }
          }
          ps.setInt(1, round);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            out("dealloc " + extra + " named round " + round + ": " + rs.getInt(1));
          } catch (SQLException e) {
            out("dealloc " + extra + " named round " + round + ": " + err(e));
          }
        }
        // pgjdbc sees the DEALLOCATE ALL command tag and prepares its statements again.
        exec(c, "DEALLOCATE ALL");
        out("dealloc " + extra + " sql DEALLOCATE ALL: ok");
        for (int round = 0; round < 2; round++) {
          ps.setInt(1, round);
          try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            out("dealloc " + extra + " after ALL round " + round + ": " + rs.getInt(1));
          } catch (SQLException e) {
            out("dealloc " + extra + " after ALL round " + round + ": " + err(e));
          }
        }
      }
    }
  }

  static void schema() throws SQLException {
    for (String extra : new String[] {"prepareThreshold=5", "prepareThreshold=-1"}) {
      try (Connection c = connect(extra); Connection ddl = connect("");
           PreparedStatement ps = c.prepareStatement("select * from shape order by a")) {
        exec(ddl, "alter table shape drop column if exists c");
        for (int i = 0; i < 12; i++) {
          if (i == 6) exec(ddl, "alter table shape add column c int default 7");
          String label = "schema " + extra + " run " + i + (i >= 6 ? " after alter" : "");
          try (ResultSet rs = ps.executeQuery()) {
            ResultSetMetaData md = rs.getMetaData();
            StringBuilder cols = new StringBuilder();
            for (int k = 1; k <= md.getColumnCount(); k++) cols.append(k > 1 ? "," : "").append(md.getColumnName(k));
            StringBuilder rows = new StringBuilder();
            while (rs.next()) {
              rows.append("(");
              for (int k = 1; k <= md.getColumnCount(); k++) rows.append(k > 1 ? "," : "").append(rs.getString(k));
              rows.append(")");
            }
            out(label + ": cols=" + cols + " rows=" + rows);
          } catch (SQLException e) {
            out(label + ": " + err(e));
          }
        }
      }
    }
  }

  static final String SETTINGS = "select current_setting('application_name'), current_setting('TimeZone'), "
      + "current_setting('search_path'), current_setting('statement_timeout')";

  static void probe(Connection[] conns, String label, int k) throws SQLException {
    try (Statement s = conns[k].createStatement(); ResultSet rs = s.executeQuery(SETTINGS)) {
      rs.next();
      out("settings " + label + " P" + k + ": app=" + rs.getString(1) + " tz=" + rs.getString(2) + " path="
          + rs.getString(3) + " timeout=" + rs.getString(4));
    }
  }

  static void settings() throws SQLException {
    Connection[] conns = new Connection[4];
    try {
      for (int k = 0; k < conns.length; k++) conns[k] = connect("");
      exec(conns[0], "SET application_name = 'drv_probe'");
      exec(conns[0], "SET TimeZone = 'Pacific/Chatham'");
      exec(conns[0], "SET search_path = drv_nowhere, public");
      exec(conns[0], "SET statement_timeout = '4321ms'");
      for (int k : new int[] {1, 2, 3, 0}) probe(conns, "after set", k);
      conns[1].setAutoCommit(false);  // holds one server: the next ones run on the other
      probe(conns, "P1 in transaction", 1);
      probe(conns, "P1 in transaction", 0);
      probe(conns, "P1 in transaction", 2);
      conns[1].commit();
      conns[1].setAutoCommit(true);
      for (int k : new int[] {0, 3, 2, 1}) probe(conns, "end", k);
    } finally {
      for (Connection c : conns) {
        if (c != null) c.close();
      }
    }
  }

  public static void main(String[] args) {
    runCase("setup", MatrixPgjdbc::setup);
    runCase("concurrency", MatrixPgjdbc::concurrency);
    runCase("rollback", MatrixPgjdbc::rollback);
    runCase("types", MatrixPgjdbc::types);
    runCase("prepared", MatrixPgjdbc::prepared);
    runCase("dealloc", MatrixPgjdbc::dealloc);
    runCase("schema", MatrixPgjdbc::schema);
    runCase("settings", MatrixPgjdbc::settings);
    out("done");
  }
}
