// CLZMA: the system header, plus the one flag Swift cannot import (a macro with a UINT32_C cast).
#pragma once
#include <lzma.h>

static const uint32_t clzma_concatenated = LZMA_CONCATENATED;
