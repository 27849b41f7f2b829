#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The files of a machine whose root filesystem is a directory on the host (`--root DIR`):
/// a debootstrap tree, an unpacked container, a mounted filesystem.
///
/// Links are resolved component by component as the machine itself would see them: an absolute
/// target restarts at the machine's root, never at the host's, so no link can reach host files.
public struct DirectoryMachine: MachineFiles {
    /// The host directory that is the machine's `/`.
    public let root: String
    public var displayName: String { root }

    public init(root: String) {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    /// Resolves a machine path to a host path with every link followed inside the machine.
    /// Returns nil when some component does not exist.
    func resolve(_ path: String) throws -> String? {
        guard let inside = try MachinePath.resolve(path, machine: displayName, lstat: { p in
            var st = stat()
            guard lstat(hostPath(MachinePath.components(p)), &st) == 0 else { return nil }
            switch st.st_mode & S_IFMT {
            case S_IFLNK: return .link
            case S_IFDIR: return .directory
            case S_IFREG: return .file
            default: return .other
            }
        }, readlink: { p in readLink(hostPath(MachinePath.components(p))) }) else { return nil }
        return hostPath(MachinePath.components(inside))
    }

    private func hostPath(_ parts: [String]) -> String {
        parts.isEmpty ? root : root + "/" + parts.joined(separator: "/")
    }

    private func readLink(_ host: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4097)
        let n = readlink(host, &buffer, 4096)
        guard n > 0 else { return nil }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func read(_ path: String, limit: Int) throws -> [UInt8]? {
        guard let host = try resolve(path) else { return nil }
        // O_NONBLOCK: opening a FIFO the guest left in place of a file would otherwise wait for a writer forever.
        let fd = open(host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ELOOP { return nil }
            throw MachineFilesError(.io, machine: displayName, path: path, detail: "cannot be opened: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            throw MachineFilesError(.io, machine: displayName, path: path, detail: "cannot be examined: \(String(cString: strerror(errno)))")
        }
        switch st.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return nil
        case S_IFIFO: throw MachineFilesError(.io, machine: displayName, path: path, detail: "is a FIFO (named pipe), not a regular file, and is not read")
        case S_IFCHR, S_IFBLK: throw MachineFilesError(.io, machine: displayName, path: path, detail: "is a device, not a regular file, and is not read")
        default: throw MachineFilesError(.io, machine: displayName, path: path, detail: "is not a regular file and is not read")
        }
        guard Int(st.st_size) <= limit else { throw MachineFilesError.tooLarge(machine: displayName, path: path, limit: limit) }
        var out = [UInt8]()
        out.reserveCapacity(Int(st.st_size))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MachineFilesError(.io, machine: displayName, path: path, detail: "cannot be read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
            if out.count > limit { throw MachineFilesError.tooLarge(machine: displayName, path: path, limit: limit) }
        }
        return out
    }

    public func list(_ directory: String) throws -> [String]? {
        guard let host = try resolve(directory), let dir = opendir(host) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }
}
