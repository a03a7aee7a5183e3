/* tests/capi/capi_test.h — helpers shared by the C ABI tests (C11).
 *
 * A minimal assert that prints file:line and exits non-zero, a temp dir, and
 * the seed's users/orders data written to two SQLite files with the sqlite3
 * C API. Everything is static: each test is one .c file. */
#ifndef QG_TESTS_CAPI_CAPI_TEST_H_
#define QG_TESTS_CAPI_CAPI_TEST_H_

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "qg.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n  qg_last_error: %s\n", __FILE__, __LINE__, #cond, \
              qg_last_error());                                                                    \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* Checks a qg_ call's return code, printing both names on mismatch. */
#define CHECK_RC(expected, call)                                                             \
  do {                                                                                       \
    int rc_ = (call);                                                                        \
    if (rc_ != (expected)) {                                                                 \
      fprintf(stderr, "%s:%d: %s returned %s, expected %s\n  qg_last_error: %s\n", __FILE__, \
              __LINE__, #call, qg_code_name(rc_), qg_code_name(expected), qg_last_error());  \
      exit(1);                                                                               \
    }                                                                                        \
  } while (0)

#define CHECK_STR(expected, actual)                                                   \
  do {                                                                                \
    const char* e_ = (expected);                                                      \
    const char* a_ = (actual);                                                        \
    if (a_ == NULL || strcmp(e_, a_) != 0) {                                          \
      fprintf(stderr, "%s:%d: expected \"%s\", got \"%s\"\n", __FILE__, __LINE__, e_, \
              a_ == NULL ? "(null)" : a_);                                            \
      exit(1);                                                                        \
    }                                                                                 \
  } while (0)

#define CHECK_CONTAINS(haystack, needle)                                             \
  do {                                                                               \
    const char* h_ = (haystack);                                                     \
    const char* n_ = (needle);                                                       \
    if (h_ == NULL || strstr(h_, n_) == NULL) {                                      \
      fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, __LINE__, \
              h_ == NULL ? "(null)" : h_, n_);                                       \
      exit(1);                                                                       \
    }                                                                                \
  } while (0)

/* The seed's example graph (seeds/000_bee497f83ac07a5a.txt), as written. */
static const char kSeedGraph[] =
    "{\n"
    "  \"nodes\": [\n"
    "    {\n"
    "      \"node_id\": \"user_data\",\n"
    "      \"database_id\": \"db_users\",\n"
    "      \"query_string\": \"SELECT id, name, city FROM users WHERE city = :city\",\n"
    "      \"input_parameters\": [\"city\"],\n"
    "      \"output_fields\": [\"id\", \"name\", \"city\"]\n"
    "    },\n"
    "    {\n"
    "      \"node_id\": \"order_data\",\n"
    "      \"database_id\": \"db_orders\",\n"
    "      \"query_string\": \"SELECT order_id, user_id, amount FROM orders WHERE user_id = "
    ":user_id\",\n"
    "      \"input_parameters\": [\"user_id\"],\n"
    "      \"output_fields\": [\"order_id\", \"user_id\", \"amount\"]\n"
    "    }\n"
    "  ],\n"
    "  \"edges\": [\n"
    "    {\n"
    "      \"source_node\": \"user_data\",\n"
    "      \"target_node\": \"order_data\",\n"
    "      \"input_mapping\": { \"user_data.id\": \"order_data.user_id\" }\n"
    "    }\n"
    "  ]\n"
    "}\n";

/* The test data. Paris: Ann (1), Cid (3), Dee (4, no orders). */
typedef struct {
  int64_t id;
  const char* name;
  const char* city;
} test_user;
static const test_user kUsers[] = {
    {1, "Ann", "Paris"}, {2, "Bob", "Lyon"}, {3, "Cid", "Paris"}, {4, "Dee", "Paris"}};

typedef struct {
  int64_t order_id;
  int64_t user_id;
  double amount;
  int amount_is_null;
} test_order;
static const test_order kOrders[] = {
    {7, 1, 9.5, 0}, {8, 1, 20.25, 0}, {9, 3, 100.5, 0}, {10, 2, 5.0, 0}, {11, 3, 0.0, 1}};

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Makes a fresh temp dir; the path is written into `dir` (>= 64 bytes). */
static inline void make_temp_dir(char* dir, size_t size) {
  const char* base = getenv("TMPDIR");
  if (base == NULL || base[0] == '\0') base = "/tmp";
  snprintf(dir, size, "%s/qg_capi_XXXXXX", base);
  CHECK(mkdtemp(dir) != NULL);
}

static inline void sql_exec(sqlite3* db, const char* sql) {
  char* err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "sqlite: %s: %s\n", sql, err ? err : "?");
    exit(1);
  }
}

/* Writes users.sqlite and orders.sqlite into `dir`. */
static inline void write_seed_databases(const char* dir) {
  char path[512];
  sqlite3* db = NULL;
  sqlite3_stmt* st = NULL;
  size_t i;

  snprintf(path, sizeof path, "%s/users.sqlite", dir);
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  sql_exec(db, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, city TEXT)");
  CHECK(sqlite3_prepare_v2(db, "INSERT INTO users VALUES (?, ?, ?)", -1, &st, NULL) == SQLITE_OK);
  for (i = 0; i < COUNT_OF(kUsers); ++i) {
    sqlite3_bind_int64(st, 1, kUsers[i].id);
    sqlite3_bind_text(st, 2, kUsers[i].name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, kUsers[i].city, -1, SQLITE_STATIC);
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);

  snprintf(path, sizeof path, "%s/orders.sqlite", dir);
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  sql_exec(db,
           "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, "
           "amount REAL)");
  CHECK(sqlite3_prepare_v2(db, "INSERT INTO orders VALUES (?, ?, ?)", -1, &st, NULL) == SQLITE_OK);
  for (i = 0; i < COUNT_OF(kOrders); ++i) {
    sqlite3_bind_int64(st, 1, kOrders[i].order_id);
    sqlite3_bind_int64(st, 2, kOrders[i].user_id);
    if (kOrders[i].amount_is_null) {
      sqlite3_bind_null(st, 3);
    } else {
      sqlite3_bind_double(st, 3, kOrders[i].amount);
    }
    CHECK(sqlite3_step(st) == SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
}

/* A JSON catalog with db_users and db_orders on the files in `dir`. The
 * result is malloc'ed. */
static inline char* seed_catalog_json(const char* dir) {
  size_t n = strlen(dir) * 2 + 256;
  char* json = (char*)malloc(n);
  CHECK(json != NULL);
  snprintf(json, n,
           "{\"sources\": ["
           "{\"name\": \"db_users\", \"provider\": \"sqlite\", \"connect\": \"%s/users.sqlite\"},"
           "{\"name\": \"db_orders\", \"provider\": \"sqlite\", \"connect\": \"%s/orders.sqlite\"}"
           "]}",
           dir, dir);
  return json;
}

static inline void remove_seed_databases(const char* dir) {
  char path[512];
  snprintf(path, sizeof path, "%s/users.sqlite", dir);
  unlink(path);
  snprintf(path, sizeof path, "%s/orders.sqlite", dir);
  unlink(path);
  rmdir(dir);
}

/* Copies `s` without whitespace outside JSON strings (malloc'ed), so tests
 * need not depend on the writer's spacing. */
static inline char* strip_json_ws(const char* s) {
  char* out = (char*)malloc(strlen(s) + 1);
  char* o = out;
  int in_str = 0;
  CHECK(out != NULL);
  for (; *s; ++s) {
    if (in_str) {
      *o++ = *s;
      if (*s == '\\' && s[1]) {
        *o++ = *++s;
      } else if (*s == '"') {
        in_str = 0;
      }
    } else if (*s == '"') {
      in_str = 1;
      *o++ = *s;
    } else if (*s != ' ' && *s != '\n' && *s != '\t' && *s != '\r') {
      *o++ = *s;
    }
  }
  *o = '\0';
  return out;
}

static inline void sleep_ms(long ms) {
  struct timespec ts;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  nanosleep(&ts, NULL);
}

/* Every pool of `engine` has no connection in use. */
static inline void check_pools_idle(qg_engine* engine) {
  int n = qg_engine_pool_count(engine);
  int i;
  CHECK(n >= 0);
  for (i = 0; i < n; ++i) {
    qg_pool_stats st = QG_POOL_STATS_INIT;
    CHECK_RC(QG_OK, qg_engine_pool_stats(engine, i, &st));
    CHECK(st.name != NULL && st.name[0] != '\0');
    if (st.in_use != 0) {
      fprintf(stderr, "pool %s: in_use %d\n", st.name, st.in_use);
    }
    CHECK(st.in_use == 0);
    CHECK(st.waiting == 0);
  }
}

#endif /* QG_TESTS_CAPI_CAPI_TEST_H_ */
