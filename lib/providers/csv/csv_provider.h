// Internal: the built-in CSV provider ("csv"), registered explicitly by the
// engine (docs/design.md §7).
//
// Connection string: a directory (every *.csv file directly in it is a
// table) or one .csv file. A table is named by its file name without
// ".csv"; query it with SQL (SQLite's dialect): the node's query_string runs
// on an embedded in-memory SQLite database holding the tables, through the
// sqlite provider (same placeholders, batching, types and cancel).
//
// Options:
//   delimiter    one character (default ','; "\t" or "tab" for TSV)
//   quote        one character (default '"'); doubled inside a quoted field
//   header       true (default): the first row names the columns; false:
//                columns are c1, c2, ...
//   encoding     utf-8 only (the default; anything else is refused): a
//                leading BOM is skipped, invalid UTF-8 is an error
//   null_string  an UNQUOTED field equal to it is NULL (default "": an empty
//                unquoted field is NULL while a quoted "" is the empty string)
//   types        declared column types, "users.id=int;users.amount=decimal"
//                (int, double, text, decimal, bool, timestamp, json); other
//                columns are inferred: int when every value is an integer
//                (without a leading zero: "007" stays text), else double when
//                every value is a number, else text. Decimals are kept exact
//                as text (compare them numerically with CAST(x AS REAL));
//                bools are stored as 0/1.
// Quoted fields may hold delimiters, quotes and newlines (CRLF or LF). Blank
// lines are ignored. A malformed file — wrong field count, unterminated
// quote, text after a closing quote, invalid UTF-8, a value that does not fit
// its declared type — is reported with file:line ("users.csv:7: 4 fields,
// expected 3"), never silently dropped: a query that names that table fails
// with that error; other tables of the directory stay usable.
//
// Queries are read nodes on the inner database: the sqlite provider's
// authorizer refuses any change, PRAGMA that sets, ATTACH or load_extension;
// only the provider's own loading statements write. In a directory source a
// table file is read through its real path, and one that leads outside the
// directory (a symbolic link) is refused, unread, for the queries naming it.
//
// Caching and threads: each connection owns its own in-memory SQLite
// database (SQLite connections are single-threaded, and the pool hands a
// connection to one thread at a time), so queries on different connections
// never contend. Parsed files are shared by every connection through the
// provider's cache, keyed by path, options, modification time and size:
// before each query a connection checks the files and reloads a table whose
// file changed (added and removed files add and drop tables).
//
// Thread-safety: the provider is thread-safe; a connection is used by one
// thread at a time, except Cancel(), callable from any thread.
#ifndef QG_LIB_PROVIDERS_CSV_CSV_PROVIDER_H_
#define QG_LIB_PROVIDERS_CSV_CSV_PROVIDER_H_

#include <memory>

#include "qg/provider.h"

namespace qg {

std::shared_ptr<Provider> NewCsvProvider();

}  // namespace qg

#endif  // QG_LIB_PROVIDERS_CSV_CSV_PROVIDER_H_
