/* qg_catalog_exec: catalog statements and EXECUTE STATEMENT through the C
 * ABI, with the catalog persisted through qg_engine_options.catalog_path. */
#include "capi_test.h"

static char dir[] = "/tmp/qg_capi_catalog_XXXXXX";
static char db_path[256];
static char catalog_path[256];

static void make_db(void) {
  sqlite3* db = NULL;
  CHECK(sqlite3_open(db_path, &db) == SQLITE_OK);
  CHECK(sqlite3_exec(db, "CREATE TABLE t(x INTEGER); INSERT INTO t VALUES (1), (2);", NULL, NULL,
                     NULL) == SQLITE_OK);
  sqlite3_close(db);
}

static qg_engine* open_engine(void) {
  qg_engine_options eo;
  qg_engine* engine = NULL;
  CHECK_RC(QG_OK, qg_engine_options_init(&eo, QG_ENGINE_OPTIONS_VERSION));
  CHECK(eo.catalog_path == NULL);
  eo.catalog_path = catalog_path;
  CHECK_RC(QG_OK, qg_engine_open(&engine, NULL, &eo));
  return engine;
}

int main(void) {
  char create[1024];
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  qg_execute_options xo = QG_EXECUTE_OPTIONS_INIT;
  int64_t v = 0;

  CHECK(mkdtemp(dir) != NULL);
  snprintf(db_path, sizeof db_path, "%s/a.sqlite", dir);
  snprintf(catalog_path, sizeof catalog_path, "%s/catalog.db", dir);
  make_db();

  engine = open_engine();
  snprintf(create, sizeof create,
           "CREATE EXTERNAL DATA SOURCE s PROVIDER sqlite CONNECT '%s';\n"
           "CREATE EXTERNAL USER ON s AS 'ext' FOR ALL;",
           db_path);
  CHECK_RC(QG_OK, qg_catalog_exec(engine, create, NULL, &result));
  CHECK(result != NULL && qg_result_node_count(result) == 0);
  qg_result_free(result);
  result = NULL;
  qg_engine_close(engine);

  /* Reopened: the persisted source is there. */
  engine = open_engine();
  xo.user = "alice";
  CHECK_RC(QG_OK, qg_catalog_exec(engine,
                                  "EXECUTE STATEMENT 'SELECT max(x) AS m FROM t WHERE x < :lim' "
                                  "(lim := 10) ON EXTERNAL DATA SOURCE s",
                                  &xo, &result));
  CHECK(qg_result_node_count(result) == 1);
  CHECK_STR("statement", qg_result_node_id(result, 0));
  CHECK(qg_result_row_count(result, 0) == 1);
  CHECK_RC(QG_OK, qg_result_get_int64(result, 0, 0, 0, &v));
  CHECK(v == 2);
  qg_result_free(result);
  result = NULL;

  /* Errors: a parse error, then a dropped source. */
  result = (qg_result*)&result;
  CHECK(qg_catalog_exec(engine, "CREATE NONSENSE", NULL, &result) != QG_OK);
  CHECK(result == NULL);
  CHECK_RC(QG_OK, qg_catalog_exec(engine, "DROP EXTERNAL DATA SOURCE s", NULL, &result));
  qg_result_free(result);
  result = NULL;
  CHECK_RC(QG_NOT_FOUND, qg_catalog_exec(engine,
                                         "EXECUTE STATEMENT 'SELECT 1' ON EXTERNAL DATA "
                                         "SOURCE s",
                                         NULL, &result));
  CHECK_CONTAINS(qg_last_error(), "\"s\"");
  CHECK_RC(QG_INVALID_ARGUMENT, qg_catalog_exec(engine, NULL, NULL, &result));
  CHECK_RC(QG_INVALID_ARGUMENT,
           qg_catalog_exec(NULL, "DROP EXTERNAL DATA SOURCE s", NULL, &result));
  qg_engine_close(engine);

  unlink(db_path);
  unlink(catalog_path);
  rmdir(dir);
  puts("ok");
  return 0;
}
