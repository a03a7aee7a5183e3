/* tests/capi/test_capi_seed.c — the seed's users/orders graph through the C
 * ABI: open an engine on two SQLite files, run, walk every row and binding,
 * render nested JSON and CSV, EXPLAIN, and read the pool figures. */
#define _POSIX_C_SOURCE 200809L
#include "capi_test.h"

static const test_user* find_user(int64_t id) {
  size_t i;
  for (i = 0; i < COUNT_OF(kUsers); ++i) {
    if (kUsers[i].id == id) return &kUsers[i];
  }
  return NULL;
}

static const test_order* find_order(int64_t id) {
  size_t i;
  for (i = 0; i < COUNT_OF(kOrders); ++i) {
    if (kOrders[i].order_id == id) return &kOrders[i];
  }
  return NULL;
}

static size_t count_lines(const char* s) {
  size_t n = 0;
  for (; *s; ++s) {
    if (*s == '\n') ++n;
  }
  return n;
}

static void check_users(const qg_result* r, int node) {
  int64_t row;
  int seen[5] = {0};
  CHECK(qg_result_node_status(r, node) == QG_NODE_OK);
  CHECK(qg_result_node_error(r, node) == NULL);
  CHECK(qg_result_node_error_code(r, node) == QG_OK);
  CHECK_STR("db_users", qg_result_node_source(r, node));
  CHECK(qg_result_column_count(r, node) == 3);
  CHECK_STR("id", qg_result_column_name(r, node, 0));
  CHECK_STR("name", qg_result_column_name(r, node, 1));
  CHECK_STR("city", qg_result_column_name(r, node, 2));
  CHECK(qg_result_column_index(r, node, "city") == 2);
  CHECK(qg_result_column_index(r, node, "nope") == -1);
  CHECK(qg_result_column_name(r, node, 3) == NULL);
  CHECK(qg_result_row_count(r, node) == 3); /* Ann, Cid, Dee */
  CHECK(qg_result_binding_count(r, node) == 0);
  CHECK(qg_result_binding_param_count(r, node) == 0);

  for (row = 0; row < 3; ++row) {
    int64_t id = -1;
    const char* text = NULL;
    size_t len = 0;
    const test_user* u;
    CHECK(qg_result_value_type(r, node, 0, row) == QG_TYPE_INT64);
    CHECK(qg_result_value_type(r, node, 1, row) == QG_TYPE_STRING);
    CHECK(qg_result_is_null(r, node, 1, row) == 0);
    CHECK_RC(QG_OK, qg_result_get_int64(r, node, 0, row, &id));
    u = find_user(id);
    CHECK(u != NULL);
    CHECK(!seen[id]);
    seen[id] = 1;
    CHECK_RC(QG_OK, qg_result_get_text(r, node, 1, row, &text, &len));
    CHECK(len == strlen(u->name));
    CHECK(memcmp(text, u->name, len) == 0);
    CHECK_RC(QG_OK, qg_result_get_text(r, node, 2, row, &text, NULL));
    CHECK_STR("Paris", text);
    CHECK(qg_result_row_binding(r, node, row) == -1); /* a root */
  }
  CHECK(seen[1] && seen[3] && seen[4] && !seen[2]);
}

static void check_orders(const qg_result* r, int node) {
  int64_t row;
  int64_t nbind;
  int seen[12] = {0};
  CHECK(qg_result_node_status(r, node) == QG_NODE_OK);
  CHECK_STR("db_orders", qg_result_node_source(r, node));
  CHECK(qg_result_column_count(r, node) == 3);
  CHECK_STR("order_id", qg_result_column_name(r, node, 0));
  CHECK_STR("user_id", qg_result_column_name(r, node, 1));
  CHECK_STR("amount", qg_result_column_name(r, node, 2));
  /* Orders of Paris users: 7, 8 (Ann), 9, 11 (Cid). */
  CHECK(qg_result_row_count(r, node) == 4);

  /* One binding per distinct Paris user id: 1, 3, 4 (Dee binds, no rows). */
  nbind = qg_result_binding_count(r, node);
  CHECK(nbind == 3);
  CHECK(qg_result_binding_param_count(r, node) == 1);
  CHECK_STR("user_id", qg_result_binding_param(r, node, 0));
  CHECK(qg_result_binding_param(r, node, 1) == NULL);
  {
    int bound[5] = {0};
    int64_t b;
    for (b = 0; b < nbind; ++b) {
      qg_value v;
      CHECK_RC(QG_OK, qg_result_binding_value(r, node, b, 0, &v));
      CHECK(v.type == QG_TYPE_INT64);
      CHECK(v.i >= 1 && v.i <= 4);
      bound[v.i] = 1;
    }
    CHECK(bound[1] && bound[3] && bound[4] && !bound[2]);
  }

  for (row = 0; row < 4; ++row) {
    int64_t order_id = -1, user_id = -1, binding;
    const test_order* o;
    qg_value bv, cell;
    CHECK_RC(QG_OK, qg_result_get_int64(r, node, 0, row, &order_id));
    CHECK_RC(QG_OK, qg_result_get_int64(r, node, 1, row, &user_id));
    o = find_order(order_id);
    CHECK(o != NULL);
    CHECK(!seen[order_id]);
    seen[order_id] = 1;
    CHECK(o->user_id == user_id);
    if (o->amount_is_null) {
      double d = -1;
      CHECK(qg_result_is_null(r, node, 2, row) == 1);
      CHECK(qg_result_value_type(r, node, 2, row) == QG_TYPE_NULL);
      CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_double(r, node, 2, row, &d));
      CHECK(d == -1); /* untouched on error */
    } else {
      double d = 0;
      CHECK(qg_result_value_type(r, node, 2, row) == QG_TYPE_DOUBLE);
      CHECK_RC(QG_OK, qg_result_get_double(r, node, 2, row, &d));
      CHECK(d == o->amount);
      CHECK_RC(QG_OK, qg_result_get_value(r, node, 2, row, &cell));
      CHECK(cell.type == QG_TYPE_DOUBLE && cell.d == o->amount);
    }
    /* The row remembers the binding that produced it. */
    binding = qg_result_row_binding(r, node, row);
    CHECK(binding >= 0 && binding < nbind);
    CHECK_RC(QG_OK, qg_result_binding_value(r, node, binding, 0, &bv));
    CHECK(bv.type == QG_TYPE_INT64 && bv.i == user_id);
  }
  CHECK(seen[7] && seen[8] && seen[9] && seen[11] && !seen[10]);
}

static void check_getter_errors(const qg_result* r) {
  int64_t i = 42;
  double d = 4.2;
  int b = 7;
  const char* text = "untouched";
  qg_value v;
  /* Type mismatches. */
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_int64(r, 0, 1, 0, &i));
  CHECK(i == 42);
  CHECK_CONTAINS(qg_last_error(), "string");
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_double(r, 0, 0, 0, &d));
  CHECK(d == 4.2);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_bool(r, 0, 0, 0, &b));
  CHECK(b == 7);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_text(r, 0, 0, 0, &text, NULL));
  CHECK_STR("untouched", text);
  /* Out of range. */
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_int64(r, 0, 0, 3, &i));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_int64(r, 0, 0, -1, &i));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_int64(r, 0, 9, 0, &i));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_int64(r, 2, 0, 0, &i));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_int64(r, 0, 0, 0, NULL));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_get_value(r, 0, 0, 99, &v));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_binding_value(r, 1, 99, 0, &v));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_binding_value(r, 1, 0, 5, &v));
  CHECK(qg_result_value_type(r, 0, 0, 99) == -1);
  CHECK(qg_result_is_null(r, 0, 0, 99) == -1);
  CHECK(qg_result_row_binding(r, 1, 99) == -1);
  CHECK(qg_result_node_id(r, 2) == NULL);
  CHECK(qg_result_node_id(r, -1) == NULL);
  CHECK(qg_result_node_status(r, 2) == -1);
  CHECK(qg_result_row_count(r, 2) == -1);
  CHECK(qg_result_column_count(r, -3) == -1);
}

static void check_rendering(const qg_result* r) {
  char* out = NULL;
  size_t len = 0;
  char* compact;

  /* nested JSON: each Paris user with its orders; Dee with none. */
  CHECK_RC(QG_OK, qg_result_to_text(r, "nested", "json", &out, &len));
  CHECK(out != NULL && len == strlen(out));
  compact = strip_json_ws(out);
  CHECK(strncmp(compact, "{\"user_data\":[", 14) == 0);
  CHECK_CONTAINS(compact, "{\"id\":4,\"name\":\"Dee\",\"city\":\"Paris\",\"order_data\":[]}");
  CHECK_CONTAINS(compact, "{\"id\":1,\"name\":\"Ann\",\"city\":\"Paris\",\"order_data\":[{");
  CHECK_CONTAINS(compact, "\"order_id\":7,\"user_id\":1,\"amount\":9.5");
  CHECK_CONTAINS(compact, "\"order_id\":11,\"user_id\":3,\"amount\":null");
  CHECK(strstr(compact, "Bob") == NULL);
  CHECK(strstr(compact, "\"order_id\":10") == NULL);
  free(compact);
  qg_free(out);

  /* joined CSV: a header and one line per order of a Paris user. */
  out = NULL;
  CHECK_RC(QG_OK, qg_result_to_text(r, "joined", "csv", &out, &len));
  CHECK(out != NULL && len == strlen(out));
  CHECK_CONTAINS(out, "user_data.id");
  CHECK_CONTAINS(out, "order_data.amount");
  CHECK_CONTAINS(out, "Cid");
  CHECK(strstr(out, "Dee") == NULL); /* inner join */
  CHECK(count_lines(out) == 5);
  qg_free(out);

  /* Defaults (nodes, json). */
  out = NULL;
  CHECK_RC(QG_OK, qg_result_to_text(r, NULL, NULL, &out, NULL));
  compact = strip_json_ws(out);
  CHECK(strncmp(compact, "{\"nodes\":{", 10) == 0);
  CHECK_CONTAINS(compact, "\"columns\":[\"id\",\"name\",\"city\"]");
  free(compact);
  qg_free(out);

  /* CSV cannot nest; unknown names are refused; *out stays NULL. */
  out = (char*)"sentinel";
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_to_text(r, "nested", "csv", &out, &len));
  CHECK(out == NULL);
  CHECK(qg_last_error()[0] != '\0');
  out = (char*)"sentinel";
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_to_text(r, "tree", "json", &out, NULL));
  CHECK(out == NULL);
  CHECK_RC(QG_INVALID_ARGUMENT, qg_result_to_text(r, "nodes", "xml", &out, NULL));
  CHECK(out == NULL);
}

int main(void) {
  char dir[256];
  char* catalog;
  qg_engine* engine = NULL;
  qg_engine_options eopts;
  qg_execute_options xopts = QG_EXECUTE_OPTIONS_INIT;
  qg_result* result = NULL;
  char* plan = NULL;
  int users, orders;

  CHECK_STR(QG_VERSION_STRING, qg_version());
  CHECK(QG_VERSION_MAJOR == 0 && QG_VERSION_MINOR == 1 && QG_VERSION_PATCH == 0);

  make_temp_dir(dir, sizeof dir);
  write_seed_databases(dir);
  catalog = seed_catalog_json(dir);

  CHECK_RC(QG_OK, qg_engine_options_init(&eopts, QG_ENGINE_OPTIONS_VERSION));
  CHECK(eopts.register_builtin_providers == 1);
  eopts.workers = 4;
  CHECK_RC(QG_OK, qg_engine_open(&engine, catalog, &eopts));
  CHECK(engine != NULL);

  xopts.user = "alice";
  CHECK_RC(QG_OK, qg_execute(engine, kSeedGraph, "{\"city\": \"Paris\"}", &xopts, &result));
  CHECK(result != NULL);

  CHECK(qg_result_node_count(result) == 2);
  CHECK_STR("user_data", qg_result_node_id(result, 0));
  CHECK_STR("order_data", qg_result_node_id(result, 1));
  users = qg_result_node_index(result, "user_data");
  orders = qg_result_node_index(result, "order_data");
  CHECK(users == 0 && orders == 1);
  CHECK(qg_result_node_index(result, "nope") == -1);

  check_users(result, users);
  check_orders(result, orders);
  check_getter_errors(result);
  check_rendering(result);
  qg_result_free(result);

  /* A city with no users: the dependent node is skipped with zero rows. */
  result = NULL;
  CHECK_RC(QG_OK, qg_execute(engine, kSeedGraph, "{\"city\": \"Oslo\"}", NULL, &result));
  CHECK(qg_result_row_count(result, 0) == 0);
  CHECK(qg_result_node_status(result, 1) == QG_NODE_SKIPPED);
  CHECK(qg_result_row_count(result, 1) == 0);
  qg_result_free(result);

  /* EXPLAIN in the three formats. */
  CHECK_RC(QG_OK, qg_explain(engine, kSeedGraph, "{\"city\": \"Paris\"}", NULL, &plan));
  CHECK_CONTAINS(plan, "order_data");
  qg_free(plan);
  plan = NULL;
  CHECK_RC(QG_OK, qg_explain(engine, kSeedGraph, "{\"city\": \"Paris\"}", "dot", &plan));
  CHECK_CONTAINS(plan, "digraph");
  qg_free(plan);
  plan = NULL;
  CHECK_RC(QG_OK, qg_explain(engine, kSeedGraph, "{\"city\": \"Paris\"}", "json", &plan));
  CHECK(plan[0] == '{' || plan[0] == '[');
  qg_free(plan);
  plan = NULL;

  /* EXPLAIN ANALYZE: the sources' estimates beside the actuals. */
  CHECK_RC(QG_OK, qg_explain_analyze(engine, kSeedGraph, "{\"city\": \"Paris\"}", NULL, &plan));
  CHECK_CONTAINS(plan, "actual:");
  CHECK_CONTAINS(plan, "origin=sqlite");
  CHECK_CONTAINS(plan, "expected:");
  qg_free(plan);
  plan = NULL;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_explain_analyze(NULL, kSeedGraph, NULL, NULL, &plan));
  CHECK(plan == NULL);

  /* Both sources were used: at least two pools, nothing left in use. */
  CHECK(qg_engine_pool_count(engine) >= 2);
  check_pools_idle(engine);
  {
    qg_pool_stats st = QG_POOL_STATS_INIT;
    int i, found_users = 0;
    for (i = 0; i < qg_engine_pool_count(engine); ++i) {
      CHECK_RC(QG_OK, qg_engine_pool_stats(engine, i, &st));
      if (strncmp(st.name, "db_users", 8) == 0) {
        found_users = 1;
        CHECK(st.created >= 1);
        CHECK(st.idle >= 1 || st.closed >= 1);
      }
    }
    CHECK(found_users);
    CHECK_RC(QG_OUT_OF_RANGE, qg_engine_pool_stats(engine, 1000, &st));
    CHECK_RC(QG_OUT_OF_RANGE, qg_engine_pool_stats(engine, -1, &st));
    st.version = 0;
    CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_pool_stats(engine, 0, &st));
  }

  qg_engine_close(engine);
  free(catalog);
  remove_seed_databases(dir);
  printf("test_capi_seed: OK\n");
  return 0;
}
