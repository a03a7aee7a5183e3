# bench_http: batched REST lookups vs one request per binding, against an
# in-process cpp-httplib server. Included from bench/CMakeLists.txt when
# QG_WITH_HTTP is on:  if(QG_WITH_HTTP) include(http.cmake) endif()
if(QG_WITH_HTTP)
  pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
  add_executable(bench_http ${CMAKE_CURRENT_LIST_DIR}/bench_http.cc)
  target_link_libraries(bench_http PRIVATE qg::qg PkgConfig::HTTPLIB)
  target_include_directories(bench_http PRIVATE ${PROJECT_SOURCE_DIR}/lib)
endif()
