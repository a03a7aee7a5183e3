/* tests/capi/test_capi_limits.c — limits set through qg_engine_options
 * (version 3) are enforced: each limit just below what the seed graph needs
 * fails with the limit's code and a message naming it, and the same graph
 * passes with the limit at what it needs. */
#include "capi_test.h"

/* Opens an engine on the seed catalog with `eo`. */
static qg_engine* open_with(const char* catalog, const qg_engine_options* eo) {
  qg_engine* engine = NULL;
  CHECK_RC(QG_OK, qg_engine_open(&engine, catalog, eo));
  return engine;
}

/* Runs the seed graph for Paris; expects `code`, and `needle` in the error. */
static void run_seed(const char* catalog, const qg_engine_options* eo, int code,
                     const char* needle) {
  qg_engine* engine = open_with(catalog, eo);
  qg_result* result = NULL;
  CHECK_RC(code, qg_execute(engine, kSeedGraph, "{\"city\": \"Paris\"}", NULL, &result));
  if (code == QG_OK) {
    CHECK(qg_result_row_count(result, 0) == 3 && qg_result_row_count(result, 1) == 4);
  } else {
    CHECK(result == NULL);
    CHECK_CONTAINS(qg_last_error(), needle);
  }
  qg_result_free(result);
  qg_engine_close(engine);
}

/* Paris: 3 users, 4 orders (7 rows in all), 3 bindings of order_data. */
static void check_execution_limits(const char* catalog) {
  qg_engine_options eo;
  CHECK_RC(QG_OK, qg_engine_options_init(&eo, QG_ENGINE_OPTIONS_VERSION));
  CHECK(eo.max_result_rows == 0 && eo.max_bindings == 0 && eo.max_document_bytes == 0);
  run_seed(catalog, &eo, QG_OK, NULL);

  eo.max_result_rows = 1;
  run_seed(catalog, &eo, QG_RESOURCE_EXHAUSTED, "max_result_rows (1)");
  eo.max_result_rows = 7;
  run_seed(catalog, &eo, QG_OK, NULL);
  eo.max_result_rows = 0;

  eo.max_result_bytes = 16;
  run_seed(catalog, &eo, QG_RESOURCE_EXHAUSTED, "max_result_bytes (16)");
  eo.max_result_bytes = 0;

  eo.max_bindings = 2;
  run_seed(catalog, &eo, QG_RESOURCE_EXHAUSTED, "max_bindings (2)");
  eo.max_bindings = 3;
  run_seed(catalog, &eo, QG_OK, NULL);
  eo.max_bindings = 0;

  eo.max_result_rows = -1;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_open(&(qg_engine*){NULL}, catalog, &eo));
  CHECK_CONTAINS(qg_last_error(), "max_result_rows is negative");
}

/* The graph limits: the seed graph has 2 nodes, 1 edge, queries of 51 and
 * 63 bytes and is nested 5 deep. */
static void check_graph_limits(const char* catalog) {
  qg_engine_options eo;
  CHECK_RC(QG_OK, qg_engine_options_init(&eo, QG_ENGINE_OPTIONS_VERSION));
  eo.max_nodes = 1;
  run_seed(catalog, &eo, QG_INVALID_ARGUMENT, "more than max_nodes (1)");
  eo.max_nodes = 2;
  run_seed(catalog, &eo, QG_OK, NULL);
  eo.max_nodes = 0;

  eo.max_query_length = 60;
  run_seed(catalog, &eo, QG_INVALID_ARGUMENT, "more than max_query_length (60)");
  eo.max_query_length = 0;

  eo.max_depth = 2;
  run_seed(catalog, &eo, QG_INVALID_ARGUMENT, "deeper than max_depth (2)");
  eo.max_depth = 0;

  eo.max_document_bytes = 100;
  run_seed(catalog, &eo, QG_INVALID_ARGUMENT, "more than max_document_bytes (100)");
  eo.max_document_bytes = (int64_t)strlen(kSeedGraph);
  run_seed(catalog, &eo, QG_OK, NULL);
}

/* default_batch_size reaches the planner: EXPLAIN shows it. */
static void check_batch_size(const char* catalog) {
  qg_engine_options eo;
  qg_engine* engine;
  char* plan = NULL;
  CHECK_RC(QG_OK, qg_engine_options_init(&eo, QG_ENGINE_OPTIONS_VERSION));
  eo.default_batch_size = 2;
  engine = open_with(catalog, &eo);
  CHECK_RC(QG_OK, qg_explain(engine, kSeedGraph, "{\"city\": \"Paris\"}", "json", &plan));
  CHECK_CONTAINS(plan, "\"batch_size\":2,");
  qg_free(plan);
  qg_engine_close(engine);
}

int main(void) {
  char dir[256];
  char* catalog;
  make_temp_dir(dir, sizeof dir);
  write_seed_databases(dir);
  catalog = seed_catalog_json(dir);
  check_execution_limits(catalog);
  check_graph_limits(catalog);
  check_batch_size(catalog);
  free(catalog);
  remove_seed_databases(dir);
  printf("test_capi_limits: ok\n");
  return 0;
}
