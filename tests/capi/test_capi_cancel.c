/* tests/capi/test_capi_cancel.c — cancelling a slow SQLite query from
 * another thread (QG_CANCELLED), a host timeout (QG_DEADLINE_EXCEEDED), and
 * every connection back in its pool afterwards. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>

#include "capi_test.h"

/* Counts to 1e9 in a recursive CTE: minutes of work unless interrupted. */
static const char kSlowGraph[] =
    "{\"nodes\": [{\"node_id\": \"slow\", \"database_id\": \"db_users\","
    " \"query_string\": \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
    " WHERE x < 1000000000) SELECT count(*) AS n FROM c\","
    " \"input_parameters\": [], \"output_fields\": [\"n\"]}], \"edges\": []}";

typedef struct {
  qg_cancel* cancel;
  long delay_ms;
  int rc;
} trigger_args;

static void* trigger_later(void* p) {
  trigger_args* a = (trigger_args*)p;
  sleep_ms(a->delay_ms);
  a->rc = qg_cancel_trigger(a->cancel);
  return NULL;
}

int main(void) {
  char dir[256];
  char* catalog;
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  qg_execute_options xo = QG_EXECUTE_OPTIONS_INIT;
  trigger_args args;
  pthread_t t;
  int rc;

  make_temp_dir(dir, sizeof dir);
  write_seed_databases(dir);
  catalog = seed_catalog_json(dir);
  CHECK_RC(QG_OK, qg_engine_open(&engine, catalog, NULL));

  /* Cancel from another thread while the query runs. */
  CHECK_RC(QG_OK, qg_cancel_new(&args.cancel));
  args.delay_ms = 300;
  args.rc = -1;
  xo.cancel = args.cancel;
  CHECK(pthread_create(&t, NULL, trigger_later, &args) == 0);
  result = (qg_result*)&result;
  rc = qg_execute(engine, kSlowGraph, NULL, &xo, &result);
  CHECK(pthread_join(t, NULL) == 0);
  CHECK_RC(QG_OK, args.rc);
  if (rc != QG_CANCELLED) {
    fprintf(stderr, "expected CANCELLED, got %s: %s\n", qg_code_name(rc), qg_last_error());
  }
  CHECK(rc == QG_CANCELLED);
  CHECK(result == NULL);
  CHECK(qg_last_error()[0] != '\0');
  CHECK(qg_cancel_is_triggered(args.cancel) == 1);
  CHECK(qg_engine_pool_count(engine) >= 1);
  check_pools_idle(engine);

  /* A token that is already triggered stops the graph before it starts. */
  rc = qg_execute(engine, kSlowGraph, NULL, &xo, &result);
  CHECK(rc == QG_CANCELLED);
  CHECK(result == NULL);
  qg_cancel_free(args.cancel);
  check_pools_idle(engine);

  /* The host's timeout. */
  xo.cancel = NULL;
  xo.timeout_ms = 300;
  rc = qg_execute(engine, kSlowGraph, NULL, &xo, &result);
  if (rc != QG_DEADLINE_EXCEEDED) {
    fprintf(stderr, "expected DEADLINE_EXCEEDED, got %s: %s\n", qg_code_name(rc), qg_last_error());
  }
  CHECK(rc == QG_DEADLINE_EXCEEDED);
  CHECK(result == NULL);
  check_pools_idle(engine);

  /* The interrupted connections were reset: the engine still answers. */
  CHECK_RC(QG_OK, qg_execute(engine, kSeedGraph, "{\"city\": \"Paris\"}", NULL, &result));
  CHECK(qg_result_row_count(result, 1) == 4);
  qg_result_free(result);
  check_pools_idle(engine);

  qg_engine_close(engine);
  free(catalog);
  remove_seed_databases(dir);
  printf("test_capi_cancel: OK\n");
  return 0;
}
