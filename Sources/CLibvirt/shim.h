// imgsec does not link libvirt: it opens libvirt.so.0 with dlopen when a pool is first read (see Libvirt.swift),
// so that no process pays for libvirt's start-up unless it talks to libvirt (`imgsec check` never does).
// `clibvirt_api` lists the entry points imgsec calls, each typed by the prototype in <libvirt/libvirt.h>, so
// the compiler checks what dlsym hands back. No logic here.
#pragma once
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/// The libvirt functions imgsec calls, by their names without `vir`.
struct clibvirt_api {
    __typeof__(virConnectOpenReadOnly) *_Nonnull ConnectOpenReadOnly;
    __typeof__(virConnectClose) *_Nonnull ConnectClose;
    __typeof__(virConnectGetURI) *_Nonnull ConnectGetURI;
    __typeof__(virConnectListAllStoragePools) *_Nonnull ConnectListAllStoragePools;
    __typeof__(virStoragePoolLookupByName) *_Nonnull StoragePoolLookupByName;
    __typeof__(virStoragePoolGetName) *_Nonnull StoragePoolGetName;
    __typeof__(virStoragePoolIsActive) *_Nonnull StoragePoolIsActive;
    __typeof__(virStoragePoolFree) *_Nonnull StoragePoolFree;
    __typeof__(virStoragePoolListAllVolumes) *_Nonnull StoragePoolListAllVolumes;
    __typeof__(virStorageVolGetName) *_Nonnull StorageVolGetName;
    __typeof__(virStorageVolGetPath) *_Nonnull StorageVolGetPath;
    __typeof__(virStorageVolGetXMLDesc) *_Nonnull StorageVolGetXMLDesc;
    __typeof__(virStorageVolFree) *_Nonnull StorageVolFree;
    __typeof__(virGetLastErrorMessage) *_Nonnull GetLastErrorMessage;
    __typeof__(virGetLastErrorCode) *_Nonnull GetLastErrorCode;
    __typeof__(virSetErrorFunc) *_Nonnull SetErrorFunc;
};

static const int clibvirt_err_no_storage_pool = VIR_ERR_NO_STORAGE_POOL;
