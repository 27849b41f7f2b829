// CCrypto: the system header, nothing more (no logic in C targets).
#pragma once
#include <openssl/evp.h>
