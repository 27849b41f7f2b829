// Why this shim exists: SQLITE_TRANSIENT is a macro casting -1 to a function pointer,
// which Swift cannot import. Everything else comes straight from <sqlite3.h>.
#pragma once
#include <sqlite3.h>

static inline sqlite3_destructor_type csqlite_transient(void) { return SQLITE_TRANSIENT; }
