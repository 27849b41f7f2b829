// Why this shim exists: libguestfs's optional-argument bitmasks are macros built on UINT64_C,
// which Swift does not import, and its `*_opts` entry points are variadic. Swift calls the
// `*_argv` variants with these constants instead (as libguestfs's own language bindings do).
//
// imgsec does not link libguestfs: it opens it with dlopen when the first handle is created (see Guestfs.swift).
// Linked, libguestfs and libvirt with their ~50 dependencies took ~11 ms of every process's start-up, `imgsec
// check` of a registered machine included, which never opens an image. `cguestfs_api` lists the entry points
// imgsec calls, each typed by the prototype in <guestfs.h>, so the compiler checks what dlsym hands back.
#pragma once
#include <guestfs.h>
#include <stdint.h>

static const uint64_t cguestfs_add_drive_opts_readonly_bitmask = GUESTFS_ADD_DRIVE_OPTS_READONLY_BITMASK;
static const uint64_t cguestfs_add_drive_opts_format_bitmask = GUESTFS_ADD_DRIVE_OPTS_FORMAT_BITMASK;
static const uint64_t cguestfs_add_drive_opts_name_bitmask = GUESTFS_ADD_DRIVE_OPTS_NAME_BITMASK;
static const uint64_t cguestfs_add_drive_opts_label_bitmask = GUESTFS_ADD_DRIVE_OPTS_LABEL_BITMASK;
static const uint64_t cguestfs_add_drive_opts_cachemode_bitmask = GUESTFS_ADD_DRIVE_OPTS_CACHEMODE_BITMASK;

/// The libguestfs functions imgsec calls, by their names without `guestfs_`.
struct cguestfs_api {
    // Variadic, so Swift cannot hold it: kept untyped and called through cguestfs_create.
    void *_Nonnull create_flags;
    __typeof__(guestfs_close) *_Nonnull close;
    __typeof__(guestfs_set_error_handler) *_Nonnull set_error_handler;
    __typeof__(guestfs_last_error) *_Nonnull last_error;
    __typeof__(guestfs_last_errno) *_Nonnull last_errno;
    __typeof__(guestfs_set_backend_setting) *_Nonnull set_backend_setting;
    __typeof__(guestfs_set_backend) *_Nonnull set_backend;
    __typeof__(guestfs_set_cachedir) *_Nonnull set_cachedir;
    __typeof__(guestfs_set_memsize) *_Nonnull set_memsize;
    __typeof__(guestfs_set_network) *_Nonnull set_network;
    __typeof__(guestfs_set_verbose) *_Nonnull set_verbose;
    __typeof__(guestfs_add_drive_opts_argv) *_Nonnull add_drive_opts_argv;
    __typeof__(guestfs_set_tmpdir) *_Nonnull set_tmpdir;
    __typeof__(guestfs_launch) *_Nonnull launch;
    __typeof__(guestfs_get_pid) *_Nonnull get_pid;
    __typeof__(guestfs_shutdown) *_Nonnull shutdown;
    __typeof__(guestfs_list_devices) *_Nonnull list_devices;
    __typeof__(guestfs_list_partitions) *_Nonnull list_partitions;
    __typeof__(guestfs_vfs_type) *_Nonnull vfs_type;
    __typeof__(guestfs_vfs_uuid) *_Nonnull vfs_uuid;
    __typeof__(guestfs_vfs_label) *_Nonnull vfs_label;
    __typeof__(guestfs_lvs) *_Nonnull lvs;
    __typeof__(guestfs_pvs) *_Nonnull pvs;
    __typeof__(guestfs_pvuuid) *_Nonnull pvuuid;
    __typeof__(guestfs_vgs) *_Nonnull vgs;
    __typeof__(guestfs_vgpvuuids) *_Nonnull vgpvuuids;
    __typeof__(guestfs_mount_ro) *_Nonnull mount_ro;
    __typeof__(guestfs_umount_all) *_Nonnull umount_all;
    __typeof__(guestfs_lstatns) *_Nonnull lstatns;
    __typeof__(guestfs_free_statns) *_Nonnull free_statns;
    __typeof__(guestfs_readlink) *_Nonnull readlink;
    __typeof__(guestfs_ls) *_Nonnull ls;
    __typeof__(guestfs_read_file) *_Nonnull read_file;
    __typeof__(guestfs_inspect_os) *_Nonnull inspect_os;
    __typeof__(guestfs_inspect_get_mountpoints) *_Nonnull inspect_get_mountpoints;
    __typeof__(guestfs_inspect_get_type) *_Nonnull inspect_get_type;
    __typeof__(guestfs_inspect_get_distro) *_Nonnull inspect_get_distro;
    __typeof__(guestfs_inspect_get_arch) *_Nonnull inspect_get_arch;
    __typeof__(guestfs_inspect_get_hostname) *_Nonnull inspect_get_hostname;
    __typeof__(guestfs_inspect_get_product_name) *_Nonnull inspect_get_product_name;
    __typeof__(guestfs_inspect_get_package_format) *_Nonnull inspect_get_package_format;
    __typeof__(guestfs_inspect_get_package_management) *_Nonnull inspect_get_package_management;
    __typeof__(guestfs_inspect_get_major_version) *_Nonnull inspect_get_major_version;
    __typeof__(guestfs_inspect_get_minor_version) *_Nonnull inspect_get_minor_version;
};

// guestfs_create_flags is variadic: this is the one call imgsec makes of it. No environment variables
// (LIBGUESTFS_*) are read by the handle; imgsec sets what it needs explicitly.
static inline guestfs_h *cguestfs_create(void *create_flags) {
    return ((__typeof__(guestfs_create_flags) *)create_flags)(GUESTFS_CREATE_NO_ENVIRONMENT);
}
