# bench_server_load (issue 6): N concurrent libcurl clients against a
# qgraph-server it starts itself (build/bin/qgraph-server). Include from
# bench/CMakeLists.txt:  include(${CMAKE_CURRENT_SOURCE_DIR}/server.cmake)
if(QG_WITH_HTTP AND TARGET qgraph-server)
  find_package(CURL REQUIRED)
  add_executable(bench_server_load ${CMAKE_CURRENT_LIST_DIR}/bench_server_load.cc)
  target_link_libraries(bench_server_load PRIVATE CURL::libcurl Threads::Threads)
  target_compile_definitions(bench_server_load PRIVATE QG_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_dependencies(bench_server_load qgraph-server)
endif()
