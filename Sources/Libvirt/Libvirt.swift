internal import CLibvirt
import UpdateEngine

#if canImport(Glibc)
import Glibc
#endif

/// Why libvirt could not answer.
public struct LibvirtError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        /// libvirt.so.0 could not be loaded.
        case notInstalled
        /// No connection to the URI (no daemon, no permission).
        case connectFailed
        /// No storage pool of that name.
        case noSuchPool
        /// The pool exists but is not running (`virsh pool-start`).
        case poolInactive
        /// Another call failed.
        case callFailed
    }
    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

/// One volume of a storage pool, as libvirt records it.
public struct StorageVolume: Sendable, Hashable {
    public var name: String
    /// The host path libvirt gives (`virStorageVolGetPath`).
    public var path: String
    /// `file`, `block`, `dir`, `network`, …: from the volume's XML.
    public var type: String
    /// The format libvirt records (`raw`, `qcow2`, `iso`, `dir`, …), when it records one.
    public var format: String?
}

/// A read-only connection to libvirt. libvirt connections may be used from any thread; every call blocks on
/// the daemon, so callers run them on a thread of their own, never on the cooperative pool.
public final class LibvirtConnection: @unchecked Sendable {
    private let api: clibvirt_api
    private let connection: virConnectPtr

    /// Opens `uri` (nil: libvirt's default, `LIBVIRT_DEFAULT_URI` or `qemu:///system` for root) read-only:
    /// imgsec never changes anything libvirt manages.
    public init(uri: String?) throws(LibvirtError) {
        api = try Self.library.get()
        guard let c = api.ConnectOpenReadOnly(uri) else {
            throw LibvirtError(.connectFailed, "cannot connect to libvirt at \(uri ?? "the default URI"): \(Self.lastError(api))")
        }
        connection = c
    }

    deinit { _ = api.ConnectClose(connection) }

    /// The URI libvirt says it connected to.
    public var uri: String {
        guard let p = api.ConnectGetURI(connection) else { return "" }
        defer { free(p) }
        return String(cString: p)
    }

    /// The names of every storage pool, active or not.
    public func poolNames() throws(LibvirtError) -> [String] {
        var pools: UnsafeMutablePointer<virStoragePoolPtr?>?
        let n = api.ConnectListAllStoragePools(connection, &pools, 0)
        guard n >= 0, let pools else { throw failure("cannot list storage pools") }
        defer { free(pools) }
        var names: [String] = []
        for i in 0..<Int(n) {
            guard let pool = pools[i] else { continue }
            if let name = api.StoragePoolGetName(pool) { names.append(String(cString: name)) }
            _ = api.StoragePoolFree(pool)
        }
        return names.sorted()
    }

    /// Every volume of the pool `name`, in libvirt's order, with path, type and format.
    public func volumes(ofPool name: String) throws(LibvirtError) -> [StorageVolume] {
        guard let pool = api.StoragePoolLookupByName(connection, name) else {
            if api.GetLastErrorCode() == clibvirt_err_no_storage_pool {
                let known = (try? poolNames()) ?? []
                throw LibvirtError(.noSuchPool, "libvirt has no storage pool \(name)" + (known.isEmpty ? "" : " (pools: \(known.joined(separator: ", ")))"))
            }
            throw failure("cannot look up storage pool \(name)")
        }
        defer { _ = api.StoragePoolFree(pool) }
        guard api.StoragePoolIsActive(pool) == 1 else {
            throw LibvirtError(.poolInactive, "storage pool \(name) is not active (virsh pool-start \(name))")
        }
        var vols: UnsafeMutablePointer<virStorageVolPtr?>?
        let n = api.StoragePoolListAllVolumes(pool, &vols, 0)
        guard n >= 0, let vols else { throw failure("cannot list the volumes of storage pool \(name)") }
        defer { free(vols) }
        var out: [StorageVolume] = []
        var firstError: LibvirtError?
        for i in 0..<Int(n) {
            guard let vol = vols[i] else { continue }
            defer { _ = api.StorageVolFree(vol) }
            let volName = api.StorageVolGetName(vol).map { String(cString: $0) } ?? "?"
            guard let p = api.StorageVolGetPath(vol) else {
                if firstError == nil { firstError = failure("cannot get the path of volume \(volName) in pool \(name)") }
                continue
            }
            let path = String(cString: p)
            free(p)
            var description = VolumeDescription(type: "file", path: path, format: nil)
            if let x = api.StorageVolGetXMLDesc(vol, 0) {
                let xml = Array(String(cString: x).utf8)
                free(x)
                if let parsed = try? LibvirtXML.volume(xml, source: "volume \(volName)") { description = parsed }
            }
            out.append(StorageVolume(name: volName, path: path, type: description.type, format: description.format))
        }
        if out.isEmpty, n > 0, let firstError { throw firstError }
        return out
    }

    private func failure(_ what: String) -> LibvirtError {
        LibvirtError(.callFailed, "\(what): \(Self.lastError(api))")
    }

    private static func lastError(_ api: clibvirt_api) -> String {
        api.GetLastErrorMessage().map { String(cString: $0) } ?? "unknown libvirt error"
    }

    /// libvirt's entry points, looked up once per process when the first connection is opened. libvirt's
    /// default error handler prints every error to stderr; a library must not, so it is replaced by one that
    /// does nothing (errors are read back with virGetLastErrorMessage).
    private static let library = Result { () throws(LibvirtError) -> clibvirt_api in
        let name = "libvirt.so.0"
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw LibvirtError(.notInstalled, "cannot load \(name) (\(reason)); install libvirt0")
        }
        func entry<F>(_ symbol: String) throws(LibvirtError) -> F {
            guard let address = dlsym(handle, symbol) else {
                throw LibvirtError(.notInstalled, "\(name) has no \(symbol) (too old a libvirt?)")
            }
            return unsafeBitCast(address, to: F.self)
        }
        let api = clibvirt_api(
            ConnectOpenReadOnly: try entry("virConnectOpenReadOnly"), ConnectClose: try entry("virConnectClose"),
            ConnectGetURI: try entry("virConnectGetURI"), ConnectListAllStoragePools: try entry("virConnectListAllStoragePools"),
            StoragePoolLookupByName: try entry("virStoragePoolLookupByName"), StoragePoolGetName: try entry("virStoragePoolGetName"),
            StoragePoolIsActive: try entry("virStoragePoolIsActive"), StoragePoolFree: try entry("virStoragePoolFree"),
            StoragePoolListAllVolumes: try entry("virStoragePoolListAllVolumes"), StorageVolGetName: try entry("virStorageVolGetName"),
            StorageVolGetPath: try entry("virStorageVolGetPath"), StorageVolGetXMLDesc: try entry("virStorageVolGetXMLDesc"),
            StorageVolFree: try entry("virStorageVolFree"), GetLastErrorMessage: try entry("virGetLastErrorMessage"),
            GetLastErrorCode: try entry("virGetLastErrorCode"), SetErrorFunc: try entry("virSetErrorFunc"))
        api.SetErrorFunc(nil) { _, _ in }
        return api
    }
}
