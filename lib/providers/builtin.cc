#include "providers/builtin.h"

#include "common/status_macros.h"
#include "providers/sqlite/sqlite_provider.h"
#if QG_WITH_POSTGRES
#include "providers/postgres/postgres_provider.h"
#endif
#if QG_WITH_MYSQL
#include "providers/mysql/mysql_provider.h"
#endif
#if QG_WITH_CSV
#include "providers/csv/csv_provider.h"
#endif
#if QG_WITH_HTTP
#include "providers/http/http_provider.h"
#endif

namespace qg {

absl::Status RegisterBuiltinProviders(Engine& engine) {
  QG_RETURN_IF_ERROR(engine.RegisterProvider(NewSqliteProvider()));
#if QG_WITH_POSTGRES
  QG_RETURN_IF_ERROR(engine.RegisterProvider(NewPostgresProvider()));
#endif
#if QG_WITH_MYSQL
  QG_RETURN_IF_ERROR(engine.RegisterProvider(NewMysqlProvider()));
#endif
#if QG_WITH_CSV
  QG_RETURN_IF_ERROR(engine.RegisterProvider(NewCsvProvider()));
#endif
#if QG_WITH_HTTP
  QG_RETURN_IF_ERROR(engine.RegisterProvider(NewHttpProvider()));
#endif
  return absl::OkStatus();
}

}  // namespace qg
