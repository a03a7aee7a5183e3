# bench_soak: mixed graphs (seed joins on SQLite, PostgreSQL and MariaDB,
# common and 2pc writes, cancels, timeouts) from several threads on one
# engine for --seconds N (default 600), sampling server sessions and RSS
# (bench/bench_soak.cc). Included by bench/CMakeLists.txt.
if(QG_WITH_POSTGRES AND QG_WITH_MYSQL)
  add_executable(bench_soak ${CMAKE_CURRENT_LIST_DIR}/bench_soak.cc)
  target_link_libraries(bench_soak PRIVATE qg::qg)
  target_compile_definitions(bench_soak PRIVATE QG_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    QG_BINARY_DIR="${PROJECT_BINARY_DIR}")
endif()
