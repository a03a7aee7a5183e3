// qg/export.h — symbol visibility for the shared library. The library is
// built with -fvisibility=hidden; only what carries QG_EXPORT is public.
#ifndef QG_EXPORT_H_
#define QG_EXPORT_H_

#if defined(_WIN32)
#define QG_EXPORT
#else
#define QG_EXPORT __attribute__((visibility("default")))
#endif

#endif  // QG_EXPORT_H_
