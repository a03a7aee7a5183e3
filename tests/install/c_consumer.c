/* Built with `pkg-config --cflags --libs qg` against the installed C ABI. */
#include <qg.h>
#include <stdio.h>
#include <string.h>

int main(void) {
  if (strcmp(qg_version(), QG_VERSION_STRING) != 0) {
    fprintf(stderr, "c_consumer: header %s, library %s\n", QG_VERSION_STRING, qg_version());
    return 1;
  }
  printf("c_consumer: qgraph %s\n", qg_version());
  return 0;
}
