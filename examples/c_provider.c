/* examples/c_provider.c — a data source written in C (qg_provider.h).
 *
 * The "weather" provider answers two queries from an in-memory table:
 *   cities                 -> name, country
 *   forecast for ?         -> city, day, temp_c, sunny
 * A graph lists the cities and, through an edge, asks the forecast of each
 * one (the provider runs once per city: it declares no batching). The result
 * is printed as nested JSON.
 *
 * Build by hand (after `make install`, or with -Icapi -Lbuild/lib):
 *   cc -std=c11 -o c_provider examples/c_provider.c -lqg
 *   ./c_provider
 */
#include <qg.h>
#include <qg_provider.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char* city;
  const char* country;
  int day;
  double temp_c;
  int sunny;
} forecast_row;

static const forecast_row kForecast[] = {
    {"Paris", "FR", 1, 18.5, 1}, {"Paris", "FR", 2, 16.0, 0}, {"Lyon", "FR", 1, 21.0, 1},
    {"Oslo", "NO", 1, 9.5, 0},   {"Oslo", "NO", 2, 11.0, 1},
};
#define FORECAST_ROWS (sizeof(kForecast) / sizeof(kForecast[0]))

/* A connection needs no state here beyond a cancel flag; a real provider
 * would keep its client handle in it. */
typedef struct {
  volatile int cancelled;
} weather_conn;

static int weather_connect(void* payload, const char* connect, const char* user,
                           const char* password, void** conn_out, char* errbuf, size_t errlen) {
  weather_conn* c = (weather_conn*)calloc(1, sizeof *c);
  (void)payload, (void)connect, (void)user, (void)password;
  if (c == NULL) {
    snprintf(errbuf, errlen, "weather: out of memory");
    return QG_RESOURCE_EXHAUSTED;
  }
  *conn_out = c;
  return QG_OK;
}

static void weather_disconnect(void* conn) { free(conn); }

static void weather_cancel(void* conn) { ((weather_conn*)conn)->cancelled = 1; }

static int weather_reset(void* conn, char* errbuf, size_t errlen) {
  (void)errbuf, (void)errlen;
  ((weather_conn*)conn)->cancelled = 0;
  return QG_OK;
}

/* Emits the cities, each once. */
static int run_cities(qg_row_sink* sink) {
  size_t i, j;
  int rc;
  if ((rc = qg_sink_add_column(sink, "name", QG_TYPE_STRING)) != QG_OK) return rc;
  if ((rc = qg_sink_add_column(sink, "country", QG_TYPE_STRING)) != QG_OK) return rc;
  for (i = 0; i < FORECAST_ROWS; ++i) {
    int seen = 0;
    for (j = 0; j < i; ++j) seen |= strcmp(kForecast[j].city, kForecast[i].city) == 0;
    if (seen) continue;
    if ((rc = qg_sink_begin_row(sink)) != QG_OK) return rc;
    qg_sink_text(sink, QG_TYPE_STRING, kForecast[i].city, strlen(kForecast[i].city));
    qg_sink_text(sink, QG_TYPE_STRING, kForecast[i].country, strlen(kForecast[i].country));
    if ((rc = qg_sink_end_row(sink)) != QG_OK) return rc;
  }
  return QG_OK;
}

/* Emits the forecast of one city (args[0], a string). */
static int run_forecast(weather_conn* c, const qg_value* city, qg_row_sink* sink, char* errbuf,
                        size_t errlen) {
  size_t i;
  int rc;
  if (city->type != QG_TYPE_STRING) {
    snprintf(errbuf, errlen, "weather: forecast wants a city name");
    return QG_INVALID_ARGUMENT;
  }
  if ((rc = qg_sink_add_column(sink, "city", QG_TYPE_STRING)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "day", QG_TYPE_INT64)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "temp_c", QG_TYPE_DOUBLE)) != QG_OK ||
      (rc = qg_sink_add_column(sink, "sunny", QG_TYPE_BOOL)) != QG_OK) {
    return rc;
  }
  for (i = 0; i < FORECAST_ROWS; ++i) {
    const forecast_row* f = &kForecast[i];
    if (c->cancelled) {
      snprintf(errbuf, errlen, "weather: cancelled");
      return QG_CANCELLED;
    }
    if (strlen(f->city) != city->len || memcmp(f->city, city->text, city->len) != 0) continue;
    qg_sink_begin_row(sink);
    qg_sink_text(sink, QG_TYPE_STRING, f->city, strlen(f->city));
    qg_sink_int64(sink, f->day);
    qg_sink_double(sink, f->temp_c);
    qg_sink_bool(sink, f->sunny);
    /* The sink refuses further calls after a failure and end_row reports it. */
    if ((rc = qg_sink_end_row(sink)) != QG_OK) return rc;
  }
  return QG_OK;
}

static int weather_execute(void* conn, const char* query, const qg_value* args, size_t nargs,
                           qg_row_sink* sink, char* errbuf, size_t errlen) {
  if (strcmp(query, "cities") == 0 && nargs == 0) return run_cities(sink);
  if (strcmp(query, "forecast for ?") == 0 && nargs == 1) {
    return run_forecast((weather_conn*)conn, &args[0], sink, errbuf, errlen);
  }
  snprintf(errbuf, errlen, "weather: unknown query \"%s\"", query);
  return QG_INVALID_ARGUMENT;
}

static const char kCatalog[] =
    "{\"sources\": [{\"name\": \"wx\", \"provider\": \"weather\", \"connect\": \"builtin\"}]}";

static const char kGraph[] =
    "{\"nodes\": ["
    " {\"node_id\": \"cities\", \"database_id\": \"wx\", \"query_string\": \"cities\","
    "  \"input_parameters\": [], \"output_fields\": [\"name\", \"country\"]},"
    " {\"node_id\": \"forecast\", \"database_id\": \"wx\","
    "  \"query_string\": \"forecast for :city\", \"input_parameters\": [\"city\"],"
    "  \"output_fields\": [\"city\", \"day\", \"temp_c\", \"sunny\"]}],"
    " \"edges\": [{\"source_node\": \"cities\", \"target_node\": \"forecast\","
    "  \"input_mapping\": {\"cities.name\": \"forecast.city\"}}]}";

int main(void) {
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  qg_provider_vtable vt = QG_PROVIDER_VTABLE_INIT;
  char* json = NULL;
  int rc, status = 1;

  vt.name = "weather";
  vt.capabilities = QG_PROVIDER_CAP_CANCEL;
  vt.connect = weather_connect;
  vt.disconnect = weather_disconnect;
  vt.execute = weather_execute;
  vt.cancel = weather_cancel;
  vt.reset = weather_reset;

  /* Register the provider before loading sources that name it. */
  if ((rc = qg_engine_open(&engine, NULL, NULL)) != QG_OK ||
      (rc = qg_engine_register_provider(engine, &vt, NULL)) != QG_OK ||
      (rc = qg_engine_load_catalog(engine, kCatalog)) != QG_OK ||
      (rc = qg_execute(engine, kGraph, NULL, NULL, &result)) != QG_OK ||
      (rc = qg_result_to_text(result, "nested", "json", &json, NULL)) != QG_OK) {
    fprintf(stderr, "%s: %s\n", qg_code_name(rc), qg_last_error());
  } else {
    printf("%s\n", json);
    status = 0;
  }
  qg_free(json);
  qg_result_free(result);
  qg_engine_close(engine);
  return status;
}
