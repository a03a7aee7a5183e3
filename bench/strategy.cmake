# bench_strategy: forced batched / per_binding / fetch_once against what
# auto picks, on SQLite (a 1M-row inner table; many keys and few keys).
add_executable(bench_strategy bench_strategy.cc)
target_link_libraries(bench_strategy PRIVATE qg::qg SQLite::SQLite3)
