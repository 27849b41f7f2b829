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
    private let api: cguestfs_api
    private let g: OpaquePointer
    private let lock = Mutex<Void>(())
    /// This handle's own temporary directory (`guestfs_set_tmpdir`), made by `mkdtemp` and removed when
    /// the handle closes. libguestfs writes the read-only drives' overlays into it, so the appliance's
    /// qemu command line names it: that is how a watchdog finds *this* handle's qemu before
    /// `guestfs_get_pid` can tell (the shared socket directory, `/tmp` as root, names every process).
    let temporaryDirectory: String

    /// Creates a handle whose temporary files live in a new private directory under `parent`.
    init(temporaryParent parent: String) throws {
        api = try Self.library.get()
        var template = Array(((parent.hasSuffix("/") ? parent : parent + "/") + "imgsec-guestfs-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw GuestfsError(call: "mkdtemp", message: "cannot create a temporary directory in \(parent)", errno: Glibc.errno)
        }
        let directory = String(cString: made)
        guard let g = cguestfs_create(api.create_flags) else {
            rmdir(directory)
            throw GuestfsError(call: "guestfs_create_flags", message: "cannot create a libguestfs handle", errno: Glibc.errno)
        }
        self.g = g
        self.temporaryDirectory = directory
        api.set_error_handler(g, nil, nil)
        if api.set_tmpdir(g, directory) == -1 {
            let error = failure("guestfs_set_tmpdir")
            api.close(g)
            rmdir(directory)
            throw error
        }
    }

    deinit {
        api.close(g)
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

    // MARK: Loading libguestfs

    /// libguestfs's entry points, looked up once per process, when the first handle is created: imgsec does not
    /// link libguestfs, so that commands which open no image do not load it and libvirt at start-up (shim.h).
    /// Immutable once initialised: a table of function addresses, safe to read from any thread.
    nonisolated(unsafe) private static let library = Result { () throws(GuestfsError) -> cguestfs_api in
        let name = "libguestfs.so.0"
        guard let handle = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw GuestfsError(call: "dlopen", message: "cannot load \(name) (\(reason)); install libguestfs0 (scripts/setup.sh does)",
                               errno: 0)
        }
        func entry<F>(_ symbol: String) throws(GuestfsError) -> F {
            guard let address = dlsym(handle, symbol) else {
                throw GuestfsError(call: "dlsym", message: "\(name) has no \(symbol) (too old a libguestfs?)", errno: 0)
            }
            return unsafeBitCast(address, to: F.self)
        }
        return cguestfs_api(
            create_flags: try entry("guestfs_create_flags"), close: try entry("guestfs_close"),
            set_error_handler: try entry("guestfs_set_error_handler"), last_error: try entry("guestfs_last_error"),
            last_errno: try entry("guestfs_last_errno"), set_backend_setting: try entry("guestfs_set_backend_setting"),
            set_backend: try entry("guestfs_set_backend"), set_cachedir: try entry("guestfs_set_cachedir"),
            set_memsize: try entry("guestfs_set_memsize"), set_network: try entry("guestfs_set_network"),
            set_verbose: try entry("guestfs_set_verbose"), add_drive_opts_argv: try entry("guestfs_add_drive_opts_argv"),
            set_tmpdir: try entry("guestfs_set_tmpdir"), launch: try entry("guestfs_launch"), get_pid: try entry("guestfs_get_pid"),
            shutdown: try entry("guestfs_shutdown"), list_devices: try entry("guestfs_list_devices"),
            list_partitions: try entry("guestfs_list_partitions"), vfs_type: try entry("guestfs_vfs_type"),
            vfs_uuid: try entry("guestfs_vfs_uuid"), vfs_label: try entry("guestfs_vfs_label"), lvs: try entry("guestfs_lvs"),
            pvs: try entry("guestfs_pvs"), pvuuid: try entry("guestfs_pvuuid"), vgs: try entry("guestfs_vgs"),
            vgpvuuids: try entry("guestfs_vgpvuuids"), mount_ro: try entry("guestfs_mount_ro"),
            umount_all: try entry("guestfs_umount_all"), lstatns: try entry("guestfs_lstatns"),
            free_statns: try entry("guestfs_free_statns"), readlink: try entry("guestfs_readlink"), ls: try entry("guestfs_ls"),
            read_file: try entry("guestfs_read_file"), inspect_os: try entry("guestfs_inspect_os"),
            inspect_get_mountpoints: try entry("guestfs_inspect_get_mountpoints"),
            inspect_get_type: try entry("guestfs_inspect_get_type"), inspect_get_distro: try entry("guestfs_inspect_get_distro"),
            inspect_get_arch: try entry("guestfs_inspect_get_arch"), inspect_get_hostname: try entry("guestfs_inspect_get_hostname"),
            inspect_get_product_name: try entry("guestfs_inspect_get_product_name"),
            inspect_get_package_format: try entry("guestfs_inspect_get_package_format"),
            inspect_get_package_management: try entry("guestfs_inspect_get_package_management"),
            inspect_get_major_version: try entry("guestfs_inspect_get_major_version"),
            inspect_get_minor_version: try entry("guestfs_inspect_get_minor_version"))
    }

    // MARK: Error plumbing

    private func failure(_ call: String) -> GuestfsError {
        let message = api.last_error(g).map { String(cString: $0) } ?? "unknown error"
        return GuestfsError(call: call, message: message, errno: api.last_errno(g))
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
        try locked { try check("guestfs_set_backend_setting", api.set_backend_setting(g, name, value)) }
    }

    /// The corresponding libguestfs call is `guestfs_set_backend`.
    func setBackend(_ backend: String) throws {
        try locked { try check("guestfs_set_backend", api.set_backend(g, backend)) }
    }

    func setCacheDirectory(_ path: String) throws {
        try locked { try check("guestfs_set_cachedir", api.set_cachedir(g, path)) }
    }

    func setMemorySize(megabytes: Int) throws {
        try locked { try check("guestfs_set_memsize", api.set_memsize(g, Int32(megabytes))) }
    }

    /// Keeps the appliance off the network. The corresponding libguestfs call is `guestfs_set_network`.
    func disableNetwork() throws {
        try locked { try check("guestfs_set_network", api.set_network(g, 0)) }
    }

    func setVerbose(_ on: Bool) throws {
        try locked { try check("guestfs_set_verbose", api.set_verbose(g, on ? 1 : 0)) }
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
                try check("guestfs_add_drive_opts", api.add_drive_opts_argv(g, path, &opts))
            }
        }
    }

    // MARK: Appliance

    /// Starts the appliance. Blocks for tens of seconds under TCG.
    /// The corresponding libguestfs call is `guestfs_launch`.
    func launch() throws {
        try locked {
            try check("guestfs_launch", api.launch(g))
            let pid = api.get_pid(g)
            if pid > 0 { qemuPID.store(pid, ordering: .relaxed) }
        }
    }

    /// The appliance's qemu process id once launched (0 before). An atomic copy, so that a watchdog can
    /// kill a stuck appliance while another thread is blocked inside a call holding the handle.
    let qemuPID = Atomic<Int32>(0)

    /// The corresponding libguestfs call is `guestfs_shutdown`.
    func shutdown() throws {
        try locked { try check("guestfs_shutdown", api.shutdown(g)) }
    }

    // MARK: Devices and filesystems

    func listDevices() throws -> [String] { try locked { try strings("guestfs_list_devices", api.list_devices(g)) } }
    func listPartitions() throws -> [String] { try locked { try strings("guestfs_list_partitions", api.list_partitions(g)) } }
    func vfsType(_ mountable: String) throws -> String { try locked { try string("guestfs_vfs_type", api.vfs_type(g, mountable)) } }
    func vfsUUID(_ mountable: String) throws -> String { try locked { try string("guestfs_vfs_uuid", api.vfs_uuid(g, mountable)) } }
    func vfsLabel(_ mountable: String) throws -> String { try locked { try string("guestfs_vfs_label", api.vfs_label(g, mountable)) } }
    func lvs() throws -> [String] { try locked { try strings("guestfs_lvs", api.lvs(g)) } }
    func pvs() throws -> [String] { try locked { try strings("guestfs_pvs", api.pvs(g)) } }
    func pvUUID(_ device: String) throws -> String { try locked { try string("guestfs_pvuuid", api.pvuuid(g, device)) } }
    func vgs() throws -> [String] { try locked { try strings("guestfs_vgs", api.vgs(g)) } }
    func vgPVUUIDs(_ vg: String) throws -> [String] { try locked { try strings("guestfs_vgpvuuids", api.vgpvuuids(g, vg)) } }

    /// The corresponding libguestfs call is `guestfs_mount_ro`.
    func mountReadOnly(_ mountable: String, at mountpoint: String) throws {
        try locked { try check("guestfs_mount_ro", api.mount_ro(g, mountable, mountpoint)) }
    }

    func unmountAll() throws { try locked { try check("guestfs_umount_all", api.umount_all(g)) } }

    // MARK: Files (of what is mounted)

    enum Kind { case file, directory, link, other }

    /// The type and size of `path` without following a final link; nil when it does not exist.
    /// The corresponding libguestfs call is `guestfs_lstatns`.
    func lstat(_ path: String) throws -> (kind: Kind, size: Int)? {
        try locked {
            guard let st = api.lstatns(g, path) else {
                let error = failure("guestfs_lstatns")
                if error.errno == ENOENT || error.errno == ENOTDIR { return nil }
                throw error
            }
            defer { api.free_statns(st) }
            let mode = Int32(truncatingIfNeeded: st.pointee.st_mode) & Int32(S_IFMT)
            let kind: Kind = mode == Int32(S_IFREG) ? .file : mode == Int32(S_IFDIR) ? .directory
                : mode == Int32(S_IFLNK) ? .link : .other
            return (kind, Int(st.pointee.st_size))
        }
    }

    func readlink(_ path: String) throws -> String { try locked { try string("guestfs_readlink", api.readlink(g, path)) } }

    func ls(_ directory: String) throws -> [String] { try locked { try strings("guestfs_ls", api.ls(g, directory)) } }

    /// Reads a whole file, NUL bytes included. The corresponding libguestfs call is `guestfs_read_file`.
    func readFile(_ path: String) throws -> [UInt8] {
        try locked {
            var size = 0
            guard let p = api.read_file(g, path, &size) else { throw failure("guestfs_read_file") }
            defer { free(p) }
            return p.withMemoryRebound(to: UInt8.self, capacity: size) { [UInt8](UnsafeBufferPointer(start: $0, count: size)) }
        }
    }

    // MARK: Inspection

    /// The corresponding libguestfs call is `guestfs_inspect_os` (10–14 s per image under TCG).
    func inspectOS() throws -> [String] { try locked { try strings("guestfs_inspect_os", api.inspect_os(g)) } }

    func inspectMountpoints(_ root: String) throws -> [(mountpoint: String, device: String)] {
        let flat = try locked { try strings("guestfs_inspect_get_mountpoints", api.inspect_get_mountpoints(g, root)) }
        return stride(from: 0, to: flat.count - 1, by: 2).map { (flat[$0], flat[$0 + 1]) }
    }

    func inspect(_ call: String, _ root: String) throws -> String {
        try locked {
            switch call {
            case "type": return try string("guestfs_inspect_get_type", api.inspect_get_type(g, root))
            case "distro": return try string("guestfs_inspect_get_distro", api.inspect_get_distro(g, root))
            case "arch": return try string("guestfs_inspect_get_arch", api.inspect_get_arch(g, root))
            case "hostname": return try string("guestfs_inspect_get_hostname", api.inspect_get_hostname(g, root))
            case "product_name": return try string("guestfs_inspect_get_product_name", api.inspect_get_product_name(g, root))
            case "package_format": return try string("guestfs_inspect_get_package_format", api.inspect_get_package_format(g, root))
            case "package_management": return try string("guestfs_inspect_get_package_management", api.inspect_get_package_management(g, root))
            default: preconditionFailure("internal: unknown inspection call \(call)")
            }
        }
    }

    func inspectVersion(_ root: String) throws -> (major: Int, minor: Int) {
        try locked {
            let major = api.inspect_get_major_version(g, root)
            if major == -1 { throw failure("guestfs_inspect_get_major_version") }
            let minor = api.inspect_get_minor_version(g, root)
            if minor == -1 { throw failure("guestfs_inspect_get_minor_version") }
            return (Int(major), Int(minor))
        }
    }
}
