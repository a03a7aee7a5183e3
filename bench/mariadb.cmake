# bench_mariadb: the seed graph with users and orders in two MariaDB
# databases vs the native join inside one, a hand-written IN-list client and
# the naive per-user loop (bench/bench_mariadb.cc). Included by
# bench/CMakeLists.txt.
if(QG_WITH_MYSQL)
  add_executable(bench_mariadb ${CMAKE_CURRENT_LIST_DIR}/bench_mariadb.cc)
  target_link_libraries(bench_mariadb PRIVATE qg::qg PkgConfig::MARIADB)
  target_compile_definitions(bench_mariadb PRIVATE QG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    QG_BINARY_DIR="${PROJECT_BINARY_DIR}")
endif()
