/* tests/capi/test_capi_provider.c — a provider written in C (qg_provider.h)
 * used in one graph together with SQLite: it serves a static array of items
 * and echoes the arguments it receives. */
#define _POSIX_C_SOURCE 200809L
#include <stdatomic.h>

#include "capi_test.h"
#include "qg_provider.h"

typedef struct {
  int64_t item_id;
  int64_t owner;
  const char* label;
  double price;
  int active;
} item;

static const item kItems[] = {{100, 1, "pen", 1.5, 1},
                              {101, 1, "ink", 2.25, 0},
                              {102, 3, "pad", 4.0, 1},
                              {103, 2, "cup", 3.0, 1}};

/* The payload: counters the test reads back. */
typedef struct {
  atomic_int connects;
  atomic_int disconnects;
  atomic_int executes;
  atomic_int resets;
  atomic_int destroyed;
  char last_query[256];
} static_state;

typedef struct {
  static_state* state;
  atomic_int cancelled;
} static_conn;

static int static_connect(void* payload, const char* connect, const char* user,
                          const char* password, void** conn_out, char* errbuf, size_t errlen) {
  static_state* st = (static_state*)payload;
  static_conn* c;
  (void)user, (void)password;
  if (strcmp(connect, "memory") != 0) {
    snprintf(errbuf, errlen, "static: unknown connect string \"%s\"", connect);
    return QG_UNAVAILABLE;
  }
  c = (static_conn*)calloc(1, sizeof *c);
  if (c == NULL) return QG_RESOURCE_EXHAUSTED;
  c->state = st;
  atomic_fetch_add(&st->connects, 1);
  *conn_out = c;
  return QG_OK;
}

static void static_disconnect(void* conn) {
  static_conn* c = (static_conn*)conn;
  atomic_fetch_add(&c->state->disconnects, 1);
  free(c);
}

/* "<type>:<value>" for an argument. */
static void describe_arg(const qg_value* v, char* buf, size_t size) {
  switch (v->type) {
    case QG_TYPE_NULL:
      snprintf(buf, size, "null");
      break;
    case QG_TYPE_BOOL:
      snprintf(buf, size, "bool:%d", v->b);
      break;
    case QG_TYPE_INT64:
      snprintf(buf, size, "int64:%lld", (long long)v->i);
      break;
    case QG_TYPE_DOUBLE:
      snprintf(buf, size, "double:%g", v->d);
      break;
    case QG_TYPE_STRING:
      snprintf(buf, size, "string:%.*s", (int)v->len, v->text);
      break;
    default:
      snprintf(buf, size, "type%d:%.*s", v->type, (int)v->len, v->text);
      break;
  }
}

static int static_execute(void* conn, const char* query, const qg_value* args, size_t nargs,
                          qg_row_sink* sink, char* errbuf, size_t errlen) {
  static_conn* c = (static_conn*)conn;
  char echo[128];
  size_t i;
  int rc;
  atomic_fetch_add(&c->state->executes, 1);
  snprintf(c->state->last_query, sizeof c->state->last_query, "%s", query);

  if (strcmp(query, "fail") == 0) {
    snprintf(errbuf, errlen, "static: boom");
    return QG_UNAVAILABLE;
  }
  if (strcmp(query, "echo ?") == 0 && nargs == 1) {
    describe_arg(&args[0], echo, sizeof echo);
    if ((rc = qg_sink_add_column(sink, "echo", QG_TYPE_STRING)) != QG_OK) return rc;
    if ((rc = qg_sink_begin_row(sink)) != QG_OK) return rc;
    if ((rc = qg_sink_text(sink, QG_TYPE_STRING, echo, strlen(echo))) != QG_OK) return rc;
    return qg_sink_end_row(sink);
  }
  if (strcmp(query, "items WHERE owner = ?") != 0 || nargs != 1 || args[0].type != QG_TYPE_INT64) {
    snprintf(errbuf, errlen, "static: cannot run \"%s\" with %zu arguments", query, nargs);
    return QG_INVALID_ARGUMENT;
  }
  describe_arg(&args[0], echo, sizeof echo);
  if ((rc = qg_sink_add_column(sink, "item_id", QG_TYPE_INT64)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "owner", QG_TYPE_INT64)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "label", QG_TYPE_STRING)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "price", QG_TYPE_DOUBLE)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "active", QG_TYPE_BOOL)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "echo", QG_TYPE_STRING)) != QG_OK) {
    return rc;
  }
  for (i = 0; i < COUNT_OF(kItems); ++i) {
    if (atomic_load(&c->cancelled)) {
      snprintf(errbuf, errlen, "static: cancelled");
      return QG_CANCELLED;
    }
    if (kItems[i].owner != args[0].i) continue;
    if ((rc = qg_sink_begin_row(sink)) != QG_OK ||
        (rc = qg_sink_int64(sink, kItems[i].item_id)) != QG_OK ||
        (rc = qg_sink_int64(sink, kItems[i].owner)) != QG_OK ||
        (rc = qg_sink_text(sink, QG_TYPE_STRING, kItems[i].label, strlen(kItems[i].label))) !=
            QG_OK ||
        (rc = qg_sink_double(sink, kItems[i].price)) != QG_OK ||
        (rc = qg_sink_bool(sink, kItems[i].active)) != QG_OK ||
        (rc = qg_sink_text(sink, QG_TYPE_STRING, echo, strlen(echo))) != QG_OK ||
        (rc = qg_sink_end_row(sink)) != QG_OK) {
      return rc;
    }
  }
  return QG_OK;
}

static void static_cancel(void* conn) { atomic_store(&((static_conn*)conn)->cancelled, 1); }

static int static_reset(void* conn, char* errbuf, size_t errlen) {
  static_conn* c = (static_conn*)conn;
  (void)errbuf, (void)errlen;
  atomic_store(&c->cancelled, 0);
  atomic_fetch_add(&c->state->resets, 1);
  return QG_OK;
}

static void static_destroy(void* payload) {
  atomic_fetch_add(&((static_state*)payload)->destroyed, 1);
}

static void init_state(static_state* st) {
  atomic_init(&st->connects, 0);
  atomic_init(&st->disconnects, 0);
  atomic_init(&st->executes, 0);
  atomic_init(&st->resets, 0);
  atomic_init(&st->destroyed, 0);
  st->last_query[0] = '\0';
}

static void fill_vtable(qg_provider_vtable* vt) {
  CHECK_RC(QG_OK, qg_provider_vtable_init(vt, QG_PROVIDER_VTABLE_VERSION));
  vt->name = "static";
  vt->capabilities = QG_PROVIDER_CAP_CANCEL;
  vt->connect = static_connect;
  vt->disconnect = static_disconnect;
  vt->execute = static_execute;
  vt->cancel = static_cancel;
  vt->reset = static_reset;
  vt->destroy = static_destroy;
}

static const char kMixedGraph[] =
    "{\"nodes\": ["
    "{\"node_id\": \"user_data\", \"database_id\": \"db_users\","
    " \"query_string\": \"SELECT id, name, city FROM users WHERE city = :city\","
    " \"input_parameters\": [\"city\"], \"output_fields\": [\"id\", \"name\", \"city\"]},"
    "{\"node_id\": \"items\", \"database_id\": \"db_static\","
    " \"query_string\": \"items WHERE owner = :owner\","
    " \"input_parameters\": [\"owner\"],"
    " \"output_fields\": [\"item_id\", \"owner\", \"label\", \"price\", \"active\", \"echo\"]}],"
    " \"edges\": [{\"source_node\": \"user_data\", \"target_node\": \"items\","
    " \"input_mapping\": {\"user_data.id\": \"items.owner\"}}]}";

static const char kEchoGraph[] =
    "{\"nodes\": [{\"node_id\": \"e\", \"database_id\": \"db_static\","
    " \"query_string\": \"echo :word\", \"input_parameters\": [\"word\"],"
    " \"output_fields\": [\"echo\"]}], \"edges\": [],"
    " \"params\": {\"word\": \"hello\"}}";

static const char kFailGraph[] =
    "{\"nodes\": [{\"node_id\": \"f\", \"database_id\": \"db_static\","
    " \"query_string\": \"fail\", \"input_parameters\": [], \"output_fields\": [\"x\"]}],"
    " \"edges\": []}";

static void check_items(const qg_result* r) {
  int node = qg_result_node_index(r, "items");
  int64_t row;
  int seen[4] = {0};
  CHECK(node == 1);
  CHECK(qg_result_node_status(r, node) == QG_NODE_OK);
  CHECK_STR("db_static", qg_result_node_source(r, node));
  CHECK(qg_result_column_count(r, node) == 6);
  CHECK_STR("item_id", qg_result_column_name(r, node, 0));
  CHECK_STR("echo", qg_result_column_name(r, node, 5));
  /* Paris users 1, 3, 4: items 100, 101 (owner 1) and 102 (owner 3). */
  CHECK(qg_result_row_count(r, node) == 3);
  CHECK(qg_result_binding_count(r, node) == 3);
  for (row = 0; row < 3; ++row) {
    int64_t id = 0, owner = 0, binding;
    double price = 0;
    int active = -1;
    const char* label = NULL;
    const char* echo = NULL;
    size_t len = 0;
    char expected_echo[64];
    const item* it = NULL;
    size_t i;
    qg_value bv;
    CHECK_RC(QG_OK, qg_result_get_int64(r, node, 0, row, &id));
    for (i = 0; i < COUNT_OF(kItems); ++i) {
      if (kItems[i].item_id == id) it = &kItems[i];
    }
    CHECK(it != NULL && id >= 100 && id <= 102);
    CHECK(!seen[id - 100]);
    seen[id - 100] = 1;
    CHECK_RC(QG_OK, qg_result_get_int64(r, node, 1, row, &owner));
    CHECK(owner == it->owner);
    CHECK_RC(QG_OK, qg_result_get_text(r, node, 2, row, &label, &len));
    CHECK(len == strlen(it->label) && memcmp(label, it->label, len) == 0);
    CHECK_RC(QG_OK, qg_result_get_double(r, node, 3, row, &price));
    CHECK(price == it->price);
    CHECK(qg_result_value_type(r, node, 4, row) == QG_TYPE_BOOL);
    CHECK_RC(QG_OK, qg_result_get_bool(r, node, 4, row, &active));
    CHECK(active == it->active);
    /* The provider saw the SQLite id as a bound int64 argument. */
    snprintf(expected_echo, sizeof expected_echo, "int64:%lld", (long long)owner);
    CHECK_RC(QG_OK, qg_result_get_text(r, node, 5, row, &echo, NULL));
    CHECK_STR(expected_echo, echo);
    binding = qg_result_row_binding(r, node, row);
    CHECK_RC(QG_OK, qg_result_binding_value(r, node, binding, 0, &bv));
    CHECK(bv.type == QG_TYPE_INT64 && bv.i == owner);
  }
  CHECK(seen[0] && seen[1] && seen[2]);
}

static void check_registration_errors(qg_engine* engine) {
  static_state other;
  qg_provider_vtable vt;
  init_state(&other);

  fill_vtable(&vt);
  CHECK_RC(QG_ALREADY_EXISTS, qg_engine_register_provider(engine, &vt, &other));
  CHECK_CONTAINS(qg_last_error(), "static");
  fill_vtable(&vt);
  vt.name = "other";
  vt.execute = NULL;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_register_provider(engine, &vt, &other));
  CHECK_CONTAINS(qg_last_error(), "execute");
  fill_vtable(&vt);
  vt.name = NULL;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_register_provider(engine, &vt, &other));
  fill_vtable(&vt);
  vt.version = QG_PROVIDER_VTABLE_VERSION + 1;
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_register_provider(engine, &vt, &other));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_engine_register_provider(engine, NULL, &other));
  CHECK_RC(QG_INVALID_ARGUMENT, qg_provider_vtable_init(&vt, 0));
  /* Failed registrations leave the payload to the caller. */
  CHECK(atomic_load(&other.destroyed) == 0);
}

int main(void) {
  char dir[256];
  char* catalog;
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  qg_provider_vtable vt;
  static_state state;
  int rc;

  init_state(&state);
  make_temp_dir(dir, sizeof dir);
  write_seed_databases(dir);
  catalog = seed_catalog_json(dir);

  CHECK_RC(QG_OK, qg_engine_open(&engine, catalog, NULL));
  fill_vtable(&vt);
  CHECK_RC(QG_OK, qg_engine_register_provider(engine, &vt, &state));
  vt.name = "clobbered"; /* the engine copied the vtable */
  check_registration_errors(engine);
  CHECK_RC(QG_OK, qg_engine_load_catalog(
                      engine,
                      "{\"sources\": [{\"name\": \"db_static\", \"provider\": \"static\","
                      " \"connect\": \"memory\"}]}"));

  /* SQLite feeds the C provider. */
  CHECK_RC(QG_OK, qg_execute(engine, kMixedGraph, "{\"city\": \"Paris\"}", NULL, &result));
  check_items(result);
  /* Placeholders reached the provider as `?`, never as spliced values. */
  CHECK_STR("items WHERE owner = ?", state.last_query);
  /* No batching declared: one execution per binding. */
  CHECK(atomic_load(&state.executes) == 3);
  CHECK(atomic_load(&state.connects) >= 1);
  qg_result_free(result);

  /* A graph parameter as a string argument. */
  CHECK_RC(QG_OK, qg_execute(engine, kEchoGraph, NULL, NULL, &result));
  {
    const char* echo = NULL;
    CHECK(qg_result_row_count(result, 0) == 1);
    CHECK_RC(QG_OK, qg_result_get_text(result, 0, 0, 0, &echo, NULL));
    CHECK_STR("string:hello", echo);
  }
  qg_result_free(result);
  CHECK_RC(QG_OK, qg_execute(engine, kEchoGraph, "{\"word\": 42}", NULL, &result));
  {
    const char* echo = NULL;
    CHECK_RC(QG_OK, qg_result_get_text(result, 0, 0, 0, &echo, NULL));
    CHECK_STR("int64:42", echo);
  }
  qg_result_free(result);

  /* The provider's error code and message come through. */
  result = (qg_result*)&result;
  rc = qg_execute(engine, kFailGraph, NULL, NULL, &result);
  CHECK(rc == QG_UNAVAILABLE);
  CHECK(result == NULL);
  CHECK_CONTAINS(qg_last_error(), "boom");
  check_pools_idle(engine);

  /* A source with a connect string the provider refuses. */
  CHECK_RC(QG_OK, qg_engine_load_catalog(
                      engine,
                      "{\"sources\": [{\"name\": \"db_static2\", \"provider\": \"static\","
                      " \"connect\": \"elsewhere\"}]}"));
  rc = qg_execute(engine,
                  "{\"nodes\": [{\"node_id\": \"e\", \"database_id\": \"db_static2\","
                  " \"query_string\": \"echo :w\", \"input_parameters\": [\"w\"],"
                  " \"output_fields\": [\"echo\"]}], \"edges\": []}",
                  "{\"w\": 1}", NULL, &result);
  CHECK(rc == QG_UNAVAILABLE);
  CHECK_CONTAINS(qg_last_error(), "elsewhere");

  CHECK(atomic_load(&state.destroyed) == 0);
  qg_engine_close(engine);
  /* Every connection closed, then the payload released exactly once. */
  CHECK(atomic_load(&state.connects) == atomic_load(&state.disconnects));
  CHECK(atomic_load(&state.destroyed) == 1);

  free(catalog);
  remove_seed_databases(dir);
  printf("test_capi_provider: OK\n");
  return 0;
}
