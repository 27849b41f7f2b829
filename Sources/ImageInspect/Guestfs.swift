internal import CGuestfs
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

/// Why a libguestfs call failed: the call, libguestfs's own message and errno.
public struct GuestfsError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var message: String
    public var errno: Int32

    public var description: String { "libguestfs \(call) failed: \(message)" }
}

/// One libguestfs handle (`guestfs_h`) and its appliance.
///
/// Created with `GUESTFS_CREATE_NO_ENVIRONMENT` and a silent error handler; every failure becomes a
/// ``GuestfsError`` read on the calling thread right after the failing call. All calls block; they are
/// serialised by a lock so the handle may be shared, and should run on a dedicated thread, never on the
/// cooperative pool.
final class Guestfs: @unchecked Sendable {  // unchecked: every use of `g` happens under `lock`.
    private let g: OpaquePointer
    private let lock = Mutex<Void>(())
    /// This handle's own temporary directory (`guestfs_set_tmpdir`), made by `mkdtemp` and removed when
    /// the handle closes. libguestfs writes the read-only drives' overlays into it, so the appliance's
    /// qemu command line names it: that is how a watchdog finds *this* handle's qemu before
    /// `guestfs_get_pid` can tell (the shared socket directory, `/tmp` as root, names every process).
    let temporaryDirectory: String

    /// Creates a handle whose temporary files live in a new private directory under `parent`.
    init(temporaryParent parent: String) throws {
        var template = Array(((parent.hasSuffix("/") ? parent : parent + "/") + "imgsec-guestfs-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw GuestfsError(call: "mkdtemp", message: "cannot create a temporary directory in \(parent)", errno: Glibc.errno)
        }
        let directory = String(cString: made)
        guard let g = cguestfs_create() else {
            rmdir(directory)
            throw GuestfsError(call: "guestfs_create_flags", message: "cannot create a libguestfs handle", errno: Glibc.errno)
        }
        self.g = g
        self.temporaryDirectory = directory
        guestfs_set_error_handler(g, nil, nil)
        if guestfs_set_tmpdir(g, directory) == -1 {
            let error = failure("guestfs_set_tmpdir")
            guestfs_close(g)
            rmdir(directory)
            throw error
        }
    }

    deinit {
        guestfs_close(g)
        Self.removeTree(temporaryDirectory)
    }

    /// Removes what libguestfs left in the handle's directory (it cleans up after itself on close; this
    /// catches a killed appliance's overlays). Does not follow links.
    private static func removeTree(_ path: String) {
        if let names = try? FileManager.default.contentsOfDirectory(atPath: path) {
            for name in names {
                let child = path + "/" + name
                var st = stat()
                if Glibc.lstat(child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { unlink(child) }
            }
        }
        rmdir(path)
    }

    // MARK: Error plumbing

    private func failure(_ call: String) -> GuestfsError {
        let message = guestfs_last_error(g).map { String(cString: $0) } ?? "unknown error"
        return GuestfsError(call: call, message: message, errno: guestfs_last_errno(g))
    }

    private func check(_ call: String, _ rc: Int32) throws {
        if rc == -1 { throw failure(call) }
    }

    private func string(_ call: String, _ p: UnsafeMutablePointer<CChar>?) throws -> String {
        guard let p else { throw failure(call) }
        defer { free(p) }
        return String(cString: p)
    }

    private func strings(_ call: String, _ list: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) throws -> [String] {
        guard let list else { throw failure(call) }
        defer {
            var i = 0
            while let s = list[i] { free(s); i += 1 }
            free(list)
        }
        var out: [String] = []
        var i = 0
        while let s = list[i] { out.append(String(cString: s)); i += 1 }
        return out
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        try lock.withLock { _ in try body() }
    }

    // MARK: Configuration (before launch)

    /// The corresponding libguestfs call is `guestfs_set_backend_setting`.
    func setBackendSetting(_ name: String, _ value: String) throws {
        try locked { try check("guestfs_set_backend_setting", guestfs_set_backend_setting(g, name, value)) }
    }

    /// The corresponding libguestfs call is `guestfs_set_backend`.
    func setBackend(_ backend: String) throws {
        try locked { try check("guestfs_set_backend", guestfs_set_backend(g, backend)) }
    }

    func setCacheDirectory(_ path: String) throws {
        try locked { try check("guestfs_set_cachedir", guestfs_set_cachedir(g, path)) }
    }

    func setMemorySize(megabytes: Int) throws {
        try locked { try check("guestfs_set_memsize", guestfs_set_memsize(g, Int32(megabytes))) }
    }

    /// Keeps the appliance off the network. The corresponding libguestfs call is `guestfs_set_network`.
    func disableNetwork() throws {
        try locked { try check("guestfs_set_network", guestfs_set_network(g, 0)) }
    }

    func setVerbose(_ on: Bool) throws {
        try locked { try check("guestfs_set_verbose", guestfs_set_verbose(g, on ? 1 : 0)) }
    }

    /// Adds a disk image read-only with an explicit format (never probed).
    /// The corresponding libguestfs call is `guestfs_add_drive_opts_argv`.
    func addDriveReadOnly(_ path: String, format: String) throws {
        try locked {
            try format.withCString { fmt in
                var opts = guestfs_add_drive_opts_argv()
                opts.bitmask = cguestfs_add_drive_opts_readonly_bitmask | cguestfs_add_drive_opts_format_bitmask
                opts.readonly = 1
                opts.format = fmt
                try check("guestfs_add_drive_opts", guestfs_add_drive_opts_argv(g, path, &opts))
            }
        }
    }

    // MARK: Appliance

    /// Starts the appliance. Blocks for tens of seconds under TCG.
    /// The corresponding libguestfs call is `guestfs_launch`.
    func launch() throws {
        try locked {
            try check("guestfs_launch", guestfs_launch(g))
            let pid = guestfs_get_pid(g)
            if pid > 0 { qemuPID.store(pid, ordering: .relaxed) }
        }
    }

    /// The appliance's qemu process id once launched (0 before). An atomic copy, so that a watchdog can
    /// kill a stuck appliance while another thread is blocked inside a call holding the handle.
    let qemuPID = Atomic<Int32>(0)

    /// The corresponding libguestfs call is `guestfs_shutdown`.
    func shutdown() throws {
        try locked { try check("guestfs_shutdown", guestfs_shutdown(g)) }
    }

    // MARK: Devices and filesystems

    func listDevices() throws -> [String] { try locked { try strings("guestfs_list_devices", guestfs_list_devices(g)) } }
    func listPartitions() throws -> [String] { try locked { try strings("guestfs_list_partitions", guestfs_list_partitions(g)) } }
    func vfsType(_ mountable: String) throws -> String { try locked { try string("guestfs_vfs_type", guestfs_vfs_type(g, mountable)) } }
    func vfsUUID(_ mountable: String) throws -> String { try locked { try string("guestfs_vfs_uuid", guestfs_vfs_uuid(g, mountable)) } }
    func vfsLabel(_ mountable: String) throws -> String { try locked { try string("guestfs_vfs_label", guestfs_vfs_label(g, mountable)) } }
    func lvs() throws -> [String] { try locked { try strings("guestfs_lvs", guestfs_lvs(g)) } }
    func pvs() throws -> [String] { try locked { try strings("guestfs_pvs", guestfs_pvs(g)) } }
    func pvUUID(_ device: String) throws -> String { try locked { try string("guestfs_pvuuid", guestfs_pvuuid(g, device)) } }
    func vgs() throws -> [String] { try locked { try strings("guestfs_vgs", guestfs_vgs(g)) } }
    func vgPVUUIDs(_ vg: String) throws -> [String] { try locked { try strings("guestfs_vgpvuuids", guestfs_vgpvuuids(g, vg)) } }

    /// The corresponding libguestfs call is `guestfs_mount_ro`.
    func mountReadOnly(_ mountable: String, at mountpoint: String) throws {
        try locked { try check("guestfs_mount_ro", guestfs_mount_ro(g, mountable, mountpoint)) }
    }

    func unmountAll() throws { try locked { try check("guestfs_umount_all", guestfs_umount_all(g)) } }

    // MARK: Files (of what is mounted)

    enum Kind { case file, directory, link, other }

    /// The type and size of `path` without following a final link; nil when it does not exist.
    /// The corresponding libguestfs call is `guestfs_lstatns`.
    func lstat(_ path: String) throws -> (kind: Kind, size: Int)? {
        try locked {
            guard let st = guestfs_lstatns(g, path) else {
                let error = failure("guestfs_lstatns")
                if error.errno == ENOENT || error.errno == ENOTDIR { return nil }
                throw error
            }
            defer { guestfs_free_statns(st) }
            let mode = Int32(truncatingIfNeeded: st.pointee.st_mode) & Int32(S_IFMT)
            let kind: Kind = mode == Int32(S_IFREG) ? .file : mode == Int32(S_IFDIR) ? .directory
                : mode == Int32(S_IFLNK) ? .link : .other
            return (kind, Int(st.pointee.st_size))
        }
    }

    func readlink(_ path: String) throws -> String { try locked { try string("guestfs_readlink", guestfs_readlink(g, path)) } }

    func ls(_ directory: String) throws -> [String] { try locked { try strings("guestfs_ls", guestfs_ls(g, directory)) } }

    /// Reads a whole file, NUL bytes included. The corresponding libguestfs call is `guestfs_read_file`.
    func readFile(_ path: String) throws -> [UInt8] {
        try locked {
            var size = 0
            guard let p = guestfs_read_file(g, path, &size) else { throw failure("guestfs_read_file") }
            defer { free(p) }
            return p.withMemoryRebound(to: UInt8.self, capacity: size) { [UInt8](UnsafeBufferPointer(start: $0, count: size)) }
        }
    }

    // MARK: Inspection

    /// The corresponding libguestfs call is `guestfs_inspect_os` (10–14 s per image under TCG).
    func inspectOS() throws -> [String] { try locked { try strings("guestfs_inspect_os", guestfs_inspect_os(g)) } }

    func inspectMountpoints(_ root: String) throws -> [(mountpoint: String, device: String)] {
        let flat = try locked { try strings("guestfs_inspect_get_mountpoints", guestfs_inspect_get_mountpoints(g, root)) }
        return stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }
    }

    func inspect(_ call: String, _ root: String) throws -> String {
        try locked {
            switch call {
            case "type": return try string("guestfs_inspect_get_type", guestfs_inspect_get_type(g, root))
            case "distro": return try string("guestfs_inspect_get_distro", guestfs_inspect_get_distro(g, root))
            case "arch": return try string("guestfs_inspect_get_arch", guestfs_inspect_get_arch(g, root))
            case "hostname": return try string("guestfs_inspect_get_hostname", guestfs_inspect_get_hostname(g, root))
            case "product_name": return try string("guestfs_inspect_get_product_name", guestfs_inspect_get_product_name(g, root))
            case "package_format": return try string("guestfs_inspect_get_package_format", guestfs_inspect_get_package_format(g, root))
            case "package_management": return try string("guestfs_inspect_get_package_management", guestfs_inspect_get_package_management(g, root))
            default: preconditionFailure("internal: unknown inspection call \(call)")
            }
        }
    }

    func inspectVersion(_ root: String) throws -> (major: Int, minor: Int) {
        try locked {
            let major = guestfs_inspect_get_major_version(g, root)
            if major == -1 { throw failure("guestfs_inspect_get_major_version") }
            let minor = guestfs_inspect_get_minor_version(g, root)
            if minor == -1 { throw failure("guestfs_inspect_get_minor_version") }
            return (Int(major), Int(minor))
        }
    }
}
