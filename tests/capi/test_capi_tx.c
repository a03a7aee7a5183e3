/* Transactions through the C ABI: the mode from the graph and from
 * qg_execute_options.transaction, the coordinator log from
 * qg_engine_options, qg_result_transaction and qg_engine_recover. */
#include "capi_test.h"

static char dir[] = "/tmp/qg_capi_tx_XXXXXX";
static char a_path[256];
static char b_path[256];
static char log_path[256];

static void make_db(const char* path) {
  sqlite3* db = NULL;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY)", NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
}

static int count_rows(const char* path) {
  sqlite3* db = NULL;
  sqlite3_stmt* s = NULL;
  int n = -1;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "SELECT count(*) FROM t", -1, &s, NULL) == SQLITE_OK);
  if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

/* Two writes (a then b), the second inserting `b_id`. */
static void graph(char* out, size_t size, const char* mode, int b_id) {
  snprintf(out, size,
           "{\"transaction\": \"%s\", \"nodes\": ["
           "{\"node_id\": \"wa\", \"database_id\": \"a\", \"mode\": \"write\","
           " \"query_string\": \"INSERT INTO t VALUES (1)\"},"
           "{\"node_id\": \"wb\", \"database_id\": \"b\", \"mode\": \"write\","
           " \"query_string\": \"INSERT INTO t VALUES (%d)\"}],"
           " \"edges\": [{\"source_node\": \"wa\", \"target_node\": \"wb\"}]}",
           mode, b_id);
}

int main(void) {
  char sources[1024];
  char g[1024];
  qg_engine_options eo;
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  qg_execute_options xo;
  char* json = NULL;

  CHECK(mkdtemp(dir) != NULL);
  snprintf(a_path, sizeof a_path, "%s/a.sqlite", dir);
  snprintf(b_path, sizeof b_path, "%s/b.sqlite", dir);
  snprintf(log_path, sizeof log_path, "%s/tx.log", dir);
  make_db(a_path);
  make_db(b_path);
  /* b already holds id 7, so inserting 7 fails. */
  {
    sqlite3* db = NULL;
    CHECK(sqlite3_open(b_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "INSERT INTO t VALUES (7)", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
  }
  snprintf(sources, sizeof sources,
           "{\"sources\": [{\"name\": \"a\", \"provider\": \"sqlite\", \"connect\": \"%s\"},"
           " {\"name\": \"b\", \"provider\": \"sqlite\", \"connect\": \"%s\"}]}",
           a_path, b_path);

  CHECK_RC(QG_OK, qg_engine_options_init(&eo, QG_ENGINE_OPTIONS_VERSION));
  CHECK(eo.coordinator_log == NULL && eo.transaction_prefix == NULL);
  eo.coordinator_log = log_path;
  eo.transaction_prefix = "capi";
  CHECK_RC(QG_OK, qg_engine_open(&engine, sources, &eo));

  /* common: the failing second write undoes the first. */
  graph(g, sizeof g, "common", 7);
  CHECK(qg_execute(engine, g, NULL, NULL, &result) == QG_ALREADY_EXISTS);
  CHECK(result == NULL);
  CHECK(strstr(qg_last_error(), "node \"wb\"") != NULL);
  CHECK(strstr(qg_last_error(), "rolled back on every source") != NULL);
  CHECK(count_rows(a_path) == 0);
  CHECK(count_rows(b_path) == 1);

  /* autonomous through the execute option: the first write stays. */
  CHECK_RC(QG_OK, qg_execute_options_init(&xo, QG_EXECUTE_OPTIONS_VERSION));
  CHECK(xo.transaction == NULL);
  xo.transaction = "autonomous";
  CHECK(qg_execute(engine, g, NULL, &xo, &result) == QG_ALREADY_EXISTS);
  CHECK(count_rows(a_path) == 1);

  /* common, succeeding: both committed, reported per participant. */
  {
    sqlite3* db = NULL;
    CHECK(sqlite3_open(a_path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DELETE FROM t", NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
  }
  xo.transaction = "common";
  graph(g, sizeof g, "autonomous", 8);
  CHECK_RC(QG_OK, qg_execute(engine, g, NULL, &xo, &result));
  CHECK_RC(QG_OK, qg_result_transaction(result, &json));
  CHECK(strstr(json, "\"mode\":\"common\"") != NULL);
  CHECK(strstr(json, "\"source\":\"a\"") != NULL);
  CHECK(strstr(json, "\"state\":\"committed\"") != NULL);
  CHECK(strstr(json, "rolled_back") == NULL);
  qg_free(json);
  qg_result_free(result);
  result = NULL;
  CHECK(count_rows(a_path) == 1);
  CHECK(count_rows(b_path) == 2);

  /* 2pc: two SQLite sources cannot both be the last resource. */
  xo.transaction = "2pc";
  graph(g, sizeof g, "autonomous", 9);
  CHECK(qg_execute(engine, g, NULL, &xo, &result) == QG_INVALID_ARGUMENT);
  CHECK(strstr(qg_last_error(), "at most one") != NULL);
  CHECK(count_rows(b_path) == 2);

  /* A bad mode is refused. */
  xo.transaction = "sometimes";
  CHECK(qg_execute(engine, g, NULL, &xo, &result) == QG_INVALID_ARGUMENT);
  CHECK(strstr(qg_last_error(), "sometimes") != NULL);

  /* Recovery: nothing of ours is in doubt. */
  CHECK_RC(QG_OK, qg_engine_recover(engine, &json));
  CHECK(strstr(json, "\"committed\":0") != NULL);
  CHECK(strstr(json, "\"unresolved\":[]") != NULL);
  qg_free(json);
  CHECK_RC(QG_OK, qg_engine_recover(engine, NULL));
  CHECK(qg_engine_recover(NULL, NULL) == QG_INVALID_ARGUMENT);
  qg_engine_close(engine);

  {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    CHECK(system(cmd) == 0);
  }
  printf("test_capi_tx: ok\n");
  return 0;
}
