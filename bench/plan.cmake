# bench_plan: planning cost (1,000-node graph, 3-node execution overhead,
# 30,000 placeholders); see bench_plan.cc.
add_executable(bench_plan bench_plan.cc)
target_link_libraries(bench_plan PRIVATE qg::qg SQLite::SQLite3)
