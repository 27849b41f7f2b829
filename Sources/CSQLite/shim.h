// Why this shim exists: SQLITE_TRANSIENT is a macro casting -1 to a function pointer, and
// sqlite3_db_config is variadic; Swift imports neither. Everything else comes straight from <sqlite3.h>.
#pragma once
#include <sqlite3.h>

static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }

// sqlite3_db_config with the fixed (int, int *) arguments of its boolean options (SQLITE_DBCONFIG_DEFENSIVE, …).
static inline int csqlite_db_config_bool(sqlite3 *db, int op, int value, int *result) {
    return sqlite3_db_config(db, op, value, result);
}
