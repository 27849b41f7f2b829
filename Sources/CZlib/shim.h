// CZlib: the system header, nothing more (no logic in C targets).
#pragma once
#include <zlib.h>
