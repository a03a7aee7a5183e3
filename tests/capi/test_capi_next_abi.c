/* tests/capi/test_capi_next_abi.c — version-1 callers of a newer library.
 *
 * This program is compiled against the real (version-1) headers but linked
 * to a copy of the C ABI layer built against simulated next headers, where
 * qg_provider_vtable and qg_pool_stats have grown a member (version 2; see
 * tests/capi/CMakeLists.txt). Every versioned struct it passes ends exactly
 * at an inaccessible page, so a library that reads or writes past what a
 * version-1 caller owns crashes here (and ASan reports it). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* MAP_ANONYMOUS */
#endif
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

#include "capi_test.h"
#include "qg_provider.h"

/* `size` bytes that end where an unmapped (PROT_NONE) page begins, less
 * the padding that keeps the struct 8-byte aligned (a member past `size`
 * starts at or after the page's end: reading it still crashes). */
static void* at_page_end(size_t size) {
  const size_t page = (size_t)sysconf(_SC_PAGESIZE);
  unsigned char* base =
      mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  CHECK(base != MAP_FAILED);
  CHECK(mprotect(base + page, page, PROT_NONE) == 0);
  CHECK(size <= page);
  return (void*)((uintptr_t)(base + page - size) & ~(uintptr_t)7);
}

static int one_connect(void* payload, const char* connect, const char* user, const char* password,
                       void** conn_out, char* errbuf, size_t errlen) {
  (void)payload, (void)connect, (void)user, (void)password, (void)errbuf, (void)errlen;
  *conn_out = malloc(1);
  return *conn_out == NULL ? QG_RESOURCE_EXHAUSTED : QG_OK;
}

static void one_disconnect(void* conn) { free(conn); }

static int one_execute(void* conn, const char* query, const qg_value* args, size_t nargs,
                       qg_row_sink* sink, char* errbuf, size_t errlen) {
  int rc;
  (void)conn, (void)query, (void)args, (void)nargs, (void)errbuf, (void)errlen;
  if ((rc = qg_sink_add_column(sink, "answer", QG_TYPE_INT64)) != QG_OK) return rc;
  if ((rc = qg_sink_begin_row(sink)) != QG_OK) return rc;
  if ((rc = qg_sink_int64(sink, 42)) != QG_OK) return rc;
  return qg_sink_end_row(sink);
}

int main(void) {
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  int64_t answer = 0;
  /* A version-1 vtable ends after `destroy`, a version-1 pool-stats struct
   * after `wait_seconds` (the headers this file sees are version 1). */
  const size_t vtable_v1 = offsetof(qg_provider_vtable, destroy) + sizeof(void (*)(void*));
  const size_t stats_v1 = offsetof(qg_pool_stats, wait_seconds) + sizeof(double);
  /* qg_execute_options version 1 ended before `transaction`. */
  const size_t exec_v1 = offsetof(qg_execute_options, transaction);
  qg_provider_vtable* vt = at_page_end(vtable_v1);
  qg_pool_stats* stats = at_page_end(stats_v1);
  qg_execute_options* exec = at_page_end(exec_v1);
  /* qg_engine_options version 1 ended after register_builtin_providers,
   * version 2 after transaction_prefix (the limits came in version 3). */
  const size_t engine_v1 = offsetof(qg_engine_options, register_builtin_providers) + sizeof(int);
  const size_t engine_v2 = offsetof(qg_engine_options, transaction_prefix) + sizeof(const char*);
  qg_engine_options* eo1 = at_page_end(engine_v1);
  qg_engine_options* eo2 = at_page_end(engine_v2);

  CHECK(QG_PROVIDER_VTABLE_VERSION == 1 && QG_POOL_STATS_VERSION == 1);

  /* init writes only the caller's version. */
  CHECK_RC(QG_OK, qg_provider_vtable_init(vt, 1));
  CHECK(vt->version == 1 && vt->connect == NULL);
  vt->name = "one";
  vt->connect = one_connect;
  vt->disconnect = one_disconnect;
  vt->execute = one_execute;

  /* Older engine options: init and open touch only the caller's version. */
  CHECK_RC(QG_OK, qg_engine_options_init(eo1, 1));
  CHECK(eo1->version == 1 && eo1->register_builtin_providers == 1);
  CHECK_RC(QG_OK, qg_engine_open(&engine, "{\"sources\": []}", eo1));
  qg_engine_close(engine);
  CHECK_RC(QG_OK, qg_engine_options_init(eo2, 2));
  CHECK(eo2->version == 2 && eo2->transaction_prefix == NULL);
  eo2->transaction_prefix = "v2";
  CHECK_RC(QG_OK, qg_engine_open(&engine, "{\"sources\": []}", eo2));
  qg_engine_close(engine);
  engine = NULL;

  CHECK_RC(QG_OK, qg_engine_open(&engine, "{\"sources\": []}", NULL));
  /* Registration copies only the caller's version. */
  CHECK_RC(QG_OK, qg_engine_register_provider(engine, vt, NULL));
  CHECK_RC(QG_OK, qg_engine_load_catalog(engine,
                                         "{\"sources\": [{\"name\": \"db_one\", \"provider\": "
                                         "\"one\", \"connect\": \"x\"}]}"));

  CHECK_RC(QG_OK, qg_execute_options_init(exec, 1));
  CHECK_RC(QG_OK, qg_execute(engine,
                             "{\"nodes\": [{\"node_id\": \"a\", \"database_id\": \"db_one\","
                             " \"query_string\": \"answer\", \"output_fields\": [\"answer\"]}],"
                             " \"edges\": []}",
                             NULL, exec, &result));
  CHECK_RC(QG_OK, qg_result_get_int64(result, 0, 0, 0, &answer));
  CHECK(answer == 42);
  qg_result_free(result);

  /* Pool figures: init and fill write only the caller's version. */
  CHECK_RC(QG_OK, qg_pool_stats_init(stats, 1));
  CHECK(stats->version == 1);
  CHECK(qg_engine_pool_count(engine) == 1);
  CHECK_RC(QG_OK, qg_engine_pool_stats(engine, 0, stats));
  CHECK_STR("db_one/default", stats->name);
  CHECK(stats->created == 1 && stats->idle == 1);

  qg_engine_close(engine);
  printf("test_capi_next_abi: ok\n");
  return 0;
}
