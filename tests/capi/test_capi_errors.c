/* tests/capi/test_capi_errors.c — the C ABI's error contract: NULL handles
 * are QG_INVALID_ARGUMENT (never a crash), bad graphs report their JSON
 * pointer, unknown sources are named, and qg_last_error() is per thread. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "capi_test.h"
#include "qg_provider.h"

static void check_null_handles(void) {
  qg_engine* engine = (qg_engine*)&engine; /* a sentinel that must be reset */
  qg_result* result = (qg_result*)&result;
  qg_cancel* cancel = (qg_cancel*)&cancel;
  char* text = (char*)"sentinel";
  int64_t i = 0;
  double d = 0;
  int b = 0;
  const char* s = NULL;
  qg_value v;
  qg_pool_stats st = QG_POOL_STATS_INIT;
  qg_provider_vtable vt = QG_PROVIDER_VTABLE_INIT;

  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_open(NULL, NULL, NULL));
  CHECK_CONTAINS(qg_last_error(), "qg_engine_open");

  CHECK_RC(QG_INVALID_ARGUMENT, qg_execute(NULL, "{}", NULL, NULL, &result));
  CHECK(result == NULL);
  CHECK_CONTAINS(qg_last_error(), "engine");
  CHECK_RC(QG_INVALID_ARGUMENT, qg_execute(NULL, NULL, NULL, NULL, NULL));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_explain(NULL, "{}", NULL, NULL, &text));
  CHECK(text == NULL);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_load_catalog(NULL, "{}"));
  CHECK(qg_engine_pool_count(NULL) == -1);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_pool_stats(NULL, 0, &st));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_register_provider(NULL, &vt, NULL));

  CHECK_RC(QG_INVALID_ARGUMENT, qg_cancel_new(NULL));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_cancel_trigger(NULL));
  CHECK(qg_cancel_is_triggered(NULL) == -1);
  CHECK_RC(QG_OK, qg_cancel_new(&cancel));
  CHECK(qg_cancel_is_triggered(cancel) == 0);
  CHECK_RC(QG_OK, qg_cancel_trigger(cancel));
  CHECK_RC(QG_OK, qg_cancel_trigger(cancel)); /* idempotent */
  CHECK(qg_cancel_is_triggered(cancel) == 1);
  qg_cancel_free(cancel);

  CHECK(qg_result_node_count(NULL) == -1);
  CHECK(qg_result_node_id(NULL, 0) == NULL);
  CHECK(qg_result_node_source(NULL, 0) == NULL);
  CHECK(qg_result_node_index(NULL, "x") == -1);
  CHECK(qg_result_node_status(NULL, 0) == -1);
  CHECK(qg_result_node_error(NULL, 0) == NULL);
  CHECK(qg_result_node_error_code(NULL, 0) == -1);
  CHECK(qg_result_column_count(NULL, 0) == -1);
  CHECK(qg_result_column_name(NULL, 0, 0) == NULL);
  CHECK(qg_result_column_index(NULL, 0, "x") == -1);
  CHECK(qg_result_row_count(NULL, 0) == -1);
  CHECK(qg_result_value_type(NULL, 0, 0, 0) == -1);
  CHECK(qg_result_is_null(NULL, 0, 0, 0) == -1);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_int64(NULL, 0, 0, 0, &i));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_double(NULL, 0, 0, 0, &d));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_bool(NULL, 0, 0, 0, &b));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_text(NULL, 0, 0, 0, &s, NULL));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_value(NULL, 0, 0, 0, &v));
  CHECK(qg_result_row_binding(NULL, 0, 0) == -1);
  CHECK(qg_result_binding_count(NULL, 0) == -1);
  CHECK(qg_result_binding_param_count(NULL, 0) == -1);
  CHECK(qg_result_binding_param(NULL, 0, 0) == NULL);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_binding_value(NULL, 0, 0, 0, &v));
  text = (char*)"sentinel";
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_to_text(NULL, NULL, NULL, &text, NULL));
  CHECK(text == NULL);
  CHECK_CONTAINS(qg_last_error(), "result");

  CHECK_RC(QG_INVALID_ARGUMENT, qg_sink_add_column(NULL, "x", QG_TYPE_INT64));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_sink_begin_row(NULL));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_sink_int64(NULL, 1));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_sink_end_row(NULL));

  /* Destroy functions are NULL-safe. */
  qg_engine_close(NULL);
  qg_result_free(NULL);
  qg_cancel_free(NULL);
  qg_free(NULL);
  (void)engine;
}

static void check_codes_and_versions(void) {
  qg_engine_options eo = QG_ENGINE_OPTIONS_INIT;
  qg_execute_options xo;
  qg_engine* engine = NULL;

  CHECK_STR("OK", qg_code_name(QG_OK));
  CHECK_STR("CANCELLED", qg_code_name(QG_CANCELLED));
  CHECK_STR("INVALID_ARGUMENT", qg_code_name(QG_INVALID_ARGUMENT));
  CHECK_STR("UNAVAILABLE", qg_code_name(QG_UNAVAILABLE));
  CHECK_STR("UNAUTHENTICATED", qg_code_name(QG_UNAUTHENTICATED));
  CHECK_STR("UNKNOWN_CODE", qg_code_name(17));
  CHECK_STR("UNKNOWN_CODE", qg_code_name(-1));

  CHECK_RC(QG_INVALID_ARGUMENT, qg_execute_options_init(&xo, 0));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_execute_options_init(&xo, QG_EXECUTE_OPTIONS_VERSION + 1));
  CHECK_RC(QG_OK, qg_execute_options_init(&xo, QG_EXECUTE_OPTIONS_VERSION));
  CHECK(xo.version == QG_EXECUTE_OPTIONS_VERSION && xo.cancel == NULL && xo.timeout_ms == 0);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_options_init(NULL, QG_ENGINE_OPTIONS_VERSION));

  eo.version = 99;
  engine = (qg_engine*)&engine;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_open(&engine, NULL, &eo));
  CHECK(engine == NULL);
  CHECK_CONTAINS(qg_last_error(), "version");
  eo.version = QG_ENGINE_OPTIONS_VERSION;
  eo.workers = -2;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_open(&engine, NULL, &eo));
  CHECK(engine == NULL);
}

/* qg_last_error() belongs to the calling thread. */
static void* other_thread(void* arg) {
  const char** seen = (const char**)arg;
  static char copy[64];
  snprintf(copy, sizeof copy, "%s", qg_last_error());
  *seen = copy;
  return NULL;
}

static void check_thread_local(void) {
  pthread_t t;
  const char* seen = NULL;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_cancel_trigger(NULL));
  CHECK(qg_last_error()[0] != '\0');
  CHECK(pthread_create(&t, NULL, other_thread, &seen) == 0);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_STR("", seen);
  CHECK_CONTAINS(qg_last_error(), "qg_cancel_trigger");
}

static const char kBadMapping[] =
    "{\"nodes\": ["
    "{\"node_id\": \"user_data\", \"database_id\": \"db_users\","
    " \"query_string\": \"SELECT id, name, city FROM users WHERE city = :city\","
    " \"input_parameters\": [\"city\"], \"output_fields\": [\"id\", \"name\", \"city\"]},"
    "{\"node_id\": \"order_data\", \"database_id\": \"db_orders\","
    " \"query_string\": \"SELECT order_id FROM orders WHERE user_id = :user_id\","
    " \"input_parameters\": [\"user_id\"], \"output_fields\": [\"order_id\"]}],"
    " \"edges\": [{\"source_node\": \"user_data\", \"target_node\": \"order_data\","
    " \"input_mapping\": {\"user_data.idx\": \"order_data.user_id\"}}]}";

static const char kUnknownSource[] =
    "{\"nodes\": [{\"node_id\": \"n\", \"database_id\": \"db_nope\","
    " \"query_string\": \"SELECT 1 AS x\", \"input_parameters\": [], \"output_fields\": [\"x\"]}],"
    " \"edges\": []}";

static const char kMissingTable[] =
    "{\"nodes\": [{\"node_id\": \"lost\", \"database_id\": \"db_users\","
    " \"query_string\": \"SELECT x FROM no_such_table\", \"input_parameters\": [],"
    " \"output_fields\": [\"x\"]}], \"edges\": []}";

static void check_graph_errors(qg_engine* engine) {
  qg_result* result = NULL;
  char* text = NULL;
  int rc;

  /* Malformed JSON. */
  result = (qg_result*)&result;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_execute(engine, "{\"nodes\": [", NULL, NULL, &result));
  CHECK(result == NULL);
  CHECK(qg_last_error()[0] != '\0');

  /* Wrong type: the message names the JSON pointer. */
  CHECK_RC(QG_INVALID_ARGUMENT, qg_execute(engine, "{\"nodes\": [{\"node_id\": 5}], \"edges\": []}",
                                           NULL, NULL, &result));
  CHECK(result == NULL);
  CHECK_CONTAINS(qg_last_error(), "/nodes/0");

  /* A mapping from a field the source does not output. */
  CHECK_RC(QG_INVALID_ARGUMENT,
           qg_execute(engine, kBadMapping, "{\"city\": \"Paris\"}", NULL, &result));
  CHECK(result == NULL);
  CHECK_CONTAINS(qg_last_error(), "/edges/0/input_mapping");
  CHECK_CONTAINS(qg_last_error(), "user_data.idx");

  /* The same through EXPLAIN. */
  text = (char*)"sentinel";
  CHECK_RC(QG_INVALID_ARGUMENT, qg_explain(engine, kBadMapping, NULL, "text", &text));
  CHECK(text == NULL);
  CHECK_CONTAINS(qg_last_error(), "/edges/0/input_mapping");
  CHECK_RC(QG_INVALID_ARGUMENT,
           qg_explain(engine, kSeedGraph, "{\"city\": \"Paris\"}", "xml", &text));
  CHECK(text == NULL);

  /* An unknown source is named. */
  rc = qg_execute(engine, kUnknownSource, NULL, NULL, &result);
  CHECK(rc == QG_INVALID_ARGUMENT || rc == QG_NOT_FOUND);
  CHECK(result == NULL);
  CHECK_CONTAINS(qg_last_error(), "db_nope");

  /* Bad params JSON. */
  CHECK_RC(QG_INVALID_ARGUMENT, qg_execute(engine, kSeedGraph, "[1", NULL, &result));
  CHECK(result == NULL);
  CHECK_CONTAINS(qg_last_error(), "params");

  /* A negative timeout. */
  {
    qg_execute_options xo = QG_EXECUTE_OPTIONS_INIT;
    xo.timeout_ms = -5;
    CHECK_RC(QG_INVALID_ARGUMENT,
             qg_execute(engine, kSeedGraph, "{\"city\": \"Paris\"}", &xo, &result));
    CHECK(result == NULL);
    xo.timeout_ms = 0;
    xo.version = 0;
    CHECK_RC(QG_INVALID_ARGUMENT,
             qg_execute(engine, kSeedGraph, "{\"city\": \"Paris\"}", &xo, &result));
  }

  /* A failing query: the error names the node and the source. */
  rc = qg_execute(engine, kMissingTable, NULL, NULL, &result);
  CHECK(rc != QG_OK);
  CHECK(result == NULL);
  CHECK_CONTAINS(qg_last_error(), "lost");
  CHECK_CONTAINS(qg_last_error(), "db_users");

  /* The engine still works after all that. */
  CHECK_RC(QG_OK, qg_execute(engine, kSeedGraph, "{\"city\": \"Lyon\"}", NULL, &result));
  CHECK(qg_result_row_count(result, 0) == 1);
  CHECK(qg_result_row_count(result, 1) == 1);
  qg_result_free(result);
  check_pools_idle(engine);
}

static void check_catalog_errors(const char* dir) {
  qg_engine* engine = (qg_engine*)&engine;
  int rc;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_open(&engine, "{\"sources\": [", NULL));
  CHECK(engine == NULL);
  CHECK(qg_last_error()[0] != '\0');

  engine = (qg_engine*)&engine;
  rc = qg_engine_open(&engine,
                      "{\"sources\": [{\"name\": \"x\", \"provider\": \"no_such_provider\","
                      " \"connect\": \"\"}]}",
                      NULL);
  CHECK(rc == QG_INVALID_ARGUMENT || rc == QG_NOT_FOUND);
  CHECK(engine == NULL);
  CHECK_CONTAINS(qg_last_error(), "no_such_provider");

  /* Without built-in providers, "sqlite" is unknown. */
  {
    qg_engine_options eo = QG_ENGINE_OPTIONS_INIT;
    char* catalog = seed_catalog_json(dir);
    eo.register_builtin_providers = 0;
    CHECK_RC(QG_OK, qg_engine_open(&engine, NULL, &eo));
    rc = qg_engine_load_catalog(engine, catalog);
    CHECK(rc == QG_INVALID_ARGUMENT || rc == QG_NOT_FOUND);
    CHECK_CONTAINS(qg_last_error(), "sqlite");
    CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_load_catalog(engine, NULL));
    qg_engine_close(engine);
    free(catalog);
  }
}

int main(void) {
  char dir[256];
  char* catalog;
  qg_engine* engine = NULL;

  check_null_handles();
  check_codes_and_versions();
  check_thread_local();

  make_temp_dir(dir, sizeof dir);
  write_seed_databases(dir);
  catalog = seed_catalog_json(dir);
  CHECK_RC(QG_OK, qg_engine_open(&engine, catalog, NULL));
  check_graph_errors(engine);
  qg_engine_close(engine);
  check_catalog_errors(dir);

  free(catalog);
  remove_seed_databases(dir);
  printf("test_capi_errors: OK\n");
  return 0;
}
