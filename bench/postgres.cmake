# bench_postgres: the seed graph across two PostgreSQL databases vs the
# native join, a hand-written = ANY($1) client, the naive loop and
# postgres_fdw (bench/bench_postgres.cc). Included by bench/CMakeLists.txt.
if(QG_WITH_POSTGRES)
  add_executable(bench_postgres ${CMAKE_CURRENT_LIST_DIR}/bench_postgres.cc)
  target_link_libraries(bench_postgres PRIVATE qg::qg PkgConfig::PQXX)
  if(QG_WITH_MYSQL)  # the users-on-MariaDB row
    target_link_libraries(bench_postgres PRIVATE PkgConfig::MARIADB)
    target_compile_definitions(bench_postgres PRIVATE QG_BENCH_MARIADB=1)
  endif()
  target_compile_definitions(bench_postgres PRIVATE QG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    QG_BINARY_DIR="${PROJECT_BINARY_DIR}")
endif()
