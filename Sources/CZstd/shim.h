// CZstd: the system header, nothing more (no logic in C targets).
#pragma once
#include <zstd.h>
