// Why this shim exists: libguestfs's optional-argument bitmasks are macros built on UINT64_C,
// which Swift does not import, and its `*_opts` entry points are variadic. Swift calls the
// `*_argv` variants with these constants instead (as libguestfs's own language bindings do).
#pragma once
#include <guestfs.h>
#include <stdint.h>

static const uint64_t cguestfs_add_drive_opts_readonly_bitmask = GUESTFS_ADD_DRIVE_OPTS_READONLY_BITMASK;
static const uint64_t cguestfs_add_drive_opts_format_bitmask = GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK;
static const uint64_t cguestfs_add_drive_opts_name_bitmask = GUESTFS_ADD_DRIVE_OPTS_NAME_BITMASK;
static const uint64_t cguestfs_add_drive_opts_label_bitmask = GUESTFS_ADD_DRIVE_OPTS_LABEL_BITMASK;
static const uint64_t cguestfs_add_drive_opts_cachemode_bitmask = GUESTFS_ADD_DRIVE_OPTS_CACHEMODE_BITMASK;


// guestfs_create_flags is variadic: this is the one call imgsec makes of it. No environment variables
// (LIBGUESTFS_*) are read by the handle; imgsec sets what it needs explicitly.
static inline guestfs_h *cguestfs_create(void) {
    return guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
}
