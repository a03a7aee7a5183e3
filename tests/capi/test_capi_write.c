/* tests/capi/test_capi_write.c — qg_result_write streams what
 * qg_result_to_text renders, chunk by chunk; a callback that fails stops it;
 * both apply the graph's own "output" settings. */
#include "capi_test.h"

/* 3000 rows of ~60 bytes: well over one 64 KiB chunk in every format. */
static const char kBigGraph[] =
    "{\"nodes\": [{\"node_id\": \"big\", \"database_id\": \"db_users\","
    " \"query_string\": \"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
    " WHERE x < 3000) SELECT x, 'padding padding padding padding padding' AS pad FROM c\","
    " \"output_fields\": [\"x\", \"pad\"]}], \"edges\": []}";

typedef struct {
  char* data;
  size_t len;
  int calls;
  size_t largest;
  int fail_with; /* non-zero: return it from the first call */
} collector;

static int collect(const char* data, size_t len, void* payload) {
  collector* c = (collector*)payload;
  c->calls++;
  if (len > c->largest) c->largest = len;
  if (c->fail_with != 0) return c->fail_with;
  c->data = (char*)realloc(c->data, c->len + len + 1);
  CHECK(c->data != NULL);
  memcpy(c->data + c->len, data, len);
  c->len += len;
  c->data[c->len] = '\0';
  return 0;
}

/* The streamed text equals qg_result_to_text's, in one shape and format. */
static void check_same(const qg_result* r, const char* shape, const char* format) {
  collector c = {NULL, 0, 0, 0, 0};
  char* text = NULL;
  size_t len = 0;
  CHECK_RC(QG_OK, qg_result_to_text(r, shape, format, &text, &len));
  CHECK_RC(QG_OK, qg_result_write(r, shape, format, collect, &c));
  CHECK(len > 64 * 1024 && c.len == len && memcmp(c.data, text, len) == 0);
  CHECK(c.calls >= 2 && c.largest <= 64 * 1024);
  CHECK(strlen(text) == len);
  qg_free(text);
  free(c.data);
}

/* The seed graph with an "output" object spliced in before "nodes". */
static char* seed_with_output(const char* output) {
  size_t n = strlen(kSeedGraph) + strlen(output) + 32;
  char* graph = (char*)malloc(n);
  CHECK(graph != NULL);
  snprintf(graph, n, "{\"output\": %s, %s", output, strchr(kSeedGraph, '{') + 1);
  return graph;
}

/* The graph's own "output" settings apply as in the CLI's `run`. */
static void check_graph_output(qg_engine* engine) {
  qg_result* result = NULL;
  char* text = NULL;
  collector c = {NULL, 0, 0, 0, 0};
  char* graph = seed_with_output("{\"shape\": \"joined\", \"format\": \"csv\", \"max_rows\": 4}");
  CHECK_RC(QG_OK, qg_execute(engine, graph, "{\"city\": \"Paris\"}", NULL, &result));
  /* NULL shape and format: the graph's (joined csv: a header, 4 rows). */
  CHECK_RC(QG_OK, qg_result_to_text(result, NULL, NULL, &text, NULL));
  CHECK(strncmp(text, "user_data.id,user_data.name,", 28) == 0);
  qg_free(text);
  text = NULL;
  /* An explicit shape overrides the graph's; its max_rows still applies. */
  CHECK_RC(QG_RESOURCE_EXHAUSTED, qg_result_to_text(result, "nodes", "json", &text, NULL));
  CHECK(text == NULL);
  CHECK_CONTAINS(qg_last_error(), "max_rows=4");
  CHECK_RC(QG_RESOURCE_EXHAUSTED, qg_result_write(result, "nodes", "ndjson", collect, &c));
  CHECK_CONTAINS(qg_last_error(), "max_rows=4");
  free(c.data);
  qg_result_free(result);
  free(graph);

  graph = seed_with_output("{\"max_rows\": 1}");
  CHECK_RC(QG_OK, qg_execute(engine, graph, "{\"city\": \"Paris\"}", NULL, &result));
  CHECK_RC(QG_RESOURCE_EXHAUSTED, qg_result_to_text(result, NULL, NULL, &text, NULL));
  CHECK_CONTAINS(qg_last_error(), "max_rows=1");
  qg_result_free(result);
  free(graph);
}

int main(void) {
  char dir[256];
  char* catalog;
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  collector c = {NULL, 0, 0, 0, 7};

  make_temp_dir(dir, sizeof dir);
  write_seed_databases(dir);
  catalog = seed_catalog_json(dir);
  CHECK_RC(QG_OK, qg_engine_open(&engine, catalog, NULL));
  CHECK_RC(QG_OK, qg_execute(engine, kBigGraph, NULL, NULL, &result));
  CHECK(qg_result_row_count(result, 0) == 3000);

  check_same(result, NULL, NULL);
  check_same(result, "nodes", "ndjson");
  check_same(result, "joined", "csv");
  check_same(result, "nested", "json");

  /* A failing callback: called once, the writer stops, QG_CANCELLED. */
  CHECK_RC(QG_CANCELLED, qg_result_write(result, NULL, NULL, collect, &c));
  CHECK(c.calls == 1 && c.len == 0);
  CHECK_CONTAINS(qg_last_error(), "callback returned 7");

  /* Bad arguments. */
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_write(NULL, NULL, NULL, collect, &c));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_write(result, NULL, NULL, NULL, &c));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_write(result, "rows", NULL, collect, &c));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_write(result, "nested", "csv", collect, &c));
  CHECK(c.calls == 1);

  qg_result_free(result);
  check_graph_output(engine);
  qg_engine_close(engine);
  free(catalog);
  remove_seed_databases(dir);
  printf("test_capi_write: ok\n");
  return 0;
}
