// CCrypto: the system header, nothing more (no logic in C targets).
// SHA-256 goes through the low-level SHA256_* functions, not EVP: a process's first EVP digest loads OpenSSL's
// configuration and default provider, ~1.5 ms that a cached `imgsec check` (which hashes a few short strings)
// spent on little else. They are deprecated in OpenSSL 3 but still provided, on the same assembly as EVP's SHA-256.
#pragma once
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
