/* examples/c_host.c — a C program embedding qgraph through its C ABI.
 *
 * Runs a QGDL graph against the sources of a JSON catalog and prints the
 * result as nested JSON (each user with an array of their orders).
 *
 * Build by hand (after `make install`, or point -I/-L at the source and
 * build trees: -Icapi -Lbuild/lib):
 *   cc -std=c11 -o c_host examples/c_host.c -lqg
 * Run from the repository root (the catalog's paths are relative to it):
 *   ./c_host [GRAPH.json] [CATALOG.json] [PARAMS_JSON]
 *   ./c_host examples/graphs/seed.json examples/catalog.json '{"city": "Paris"}'
 */
#include <qg.h>
#include <stdio.h>
#include <stdlib.h>

/* Reads a whole file into a NUL-terminated malloc'ed buffer, or NULL. */
static char* read_file(const char* path) {
  FILE* f = fopen(path, "rb");
  char* buf = NULL;
  long size;
  if (f == NULL) return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    buf = (char*)malloc((size_t)size + 1);
    if (buf != NULL && fread(buf, 1, (size_t)size, f) == (size_t)size) {
      buf[size] = '\0';
    } else {
      free(buf);
      buf = NULL;
    }
  }
  fclose(f);
  return buf;
}

int main(int argc, char** argv) {
  const char* graph_path = argc > 1 ? argv[1] : "examples/graphs/seed.json";
  const char* catalog_path = argc > 2 ? argv[2] : "examples/catalog.json";
  const char* params = argc > 3 ? argv[3] : "{\"city\": \"Paris\"}";
  char* graph = read_file(graph_path);
  char* catalog = read_file(catalog_path);
  qg_engine* engine = NULL;
  qg_result* result = NULL;
  char* json = NULL;
  int rc, status = 1;

  if (graph == NULL || catalog == NULL) {
    fprintf(stderr, "cannot read %s\n", graph == NULL ? graph_path : catalog_path);
    goto done;
  }

  /* One engine per process is typical; it is thread-safe. */
  rc = qg_engine_open(&engine, catalog, NULL);
  if (rc != QG_OK) {
    fprintf(stderr, "qg_engine_open: %s: %s\n", qg_code_name(rc), qg_last_error());
    goto done;
  }

  /* Parameters travel as bound values, never spliced into SQL. */
  rc = qg_execute(engine, graph, params, NULL, &result);
  if (rc != QG_OK) {
    fprintf(stderr, "qg_execute: %s: %s\n", qg_code_name(rc), qg_last_error());
    goto done;
  }

  /* Walk the result: one line per node. */
  {
    int n, count = qg_result_node_count(result);
    for (n = 0; n < count; ++n) {
      const char* error = qg_result_node_error(result, n);
      fprintf(stderr, "node %s on %s: %lld rows%s%s\n", qg_result_node_id(result, n),
              qg_result_node_source(result, n), (long long)qg_result_row_count(result, n),
              error ? ", error: " : "", error ? error : "");
    }
  }

  rc = qg_result_to_text(result, "nested", "json", &json, NULL);
  if (rc != QG_OK) {
    fprintf(stderr, "qg_result_to_text: %s: %s\n", qg_code_name(rc), qg_last_error());
    goto done;
  }
  printf("%s\n", json);
  status = 0;

done:
  qg_free(json);
  qg_result_free(result);
  qg_engine_close(engine);
  free(graph);
  free(catalog);
  return status;
}
