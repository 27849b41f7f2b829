// Why this shim exists: imgsec opens libcrypto (OpenSSL 3) with dlopen on its first SHA-256 instead of linking
// it. Linked, libcrypto took ~0.9 ms of every process's start-up, and `imgsec check` answering from the result
// cache hashes nothing. So no OpenSSL development package is needed: these are the declarations of <openssl/sha.h>
// imgsec uses, from libcrypto's stable ABI (libcrypto.so.3). SHA-256 goes through the low-level SHA256_*
// functions, not EVP: a process's first EVP digest loads OpenSSL's configuration and default provider (~1.5 ms).
// They are deprecated in OpenSSL 3 but still exported, on the same assembly as EVP's SHA-256.
#pragma once
#include <stddef.h>

/// SHA256_CTX (SHA_LONG is unsigned int).
struct csha256_ctx {
    unsigned int h[8];
    unsigned int Nl, Nh;
    unsigned int data[16];
    unsigned int num, md_len;
};

/// The libcrypto functions imgsec calls.
struct ccrypto_api {
    int (*_Nonnull sha256_init)(struct csha256_ctx *_Nonnull context);
    int (*_Nonnull sha256_update)(struct csha256_ctx *_Nonnull context, const void *_Nullable data, size_t count);
    int (*_Nonnull sha256_final)(unsigned char *_Nonnull digest, struct csha256_ctx *_Nonnull context);
};
