import UpdateEngine

/// The files of a guest whose filesystems are mounted (read-only) in a libguestfs appliance.
///
/// Links are resolved here, component by component, inside the guest (``MachinePath/resolve``): the
/// appliance's own files are never reached through a guest's absolute symlink.
struct GuestMachine: MachineFiles {
    let guestfs: Guestfs
    let displayName: String

    private func resolve(_ path: String) throws -> String? {
        try MachinePath.resolve(path, machine: displayName, lstat: { p in
            guard let st = try guestfs.lstat(p) else { return nil }
            switch st.kind {
            case .file: return .file
            case .directory: return .directory
            case .link: return .link
            case .other: return .other
            }
        }, readlink: { p in try guestfs.readlink(p) })
    }

    func read(_ path: String, limit: Int) throws -> [UInt8]? {
        do {
            guard let real = try resolve(path), let st = try guestfs.lstat(real), st.kind == .file else { return nil }
            guard st.size <= limit else { throw MachineFilesError.tooLarge(machine: displayName, path: path, limit: limit) }
            return try guestfs.readFile(real)
        } catch let error as GuestfsError {
            throw MachineFilesError(.io, machine: displayName, path: path, detail: "cannot be read: \(error.message)")
        }
    }

    func list(_ directory: String) throws -> [String]? {
        do {
            guard let real = try resolve(directory), let st = try guestfs.lstat(real), st.kind == .directory else { return nil }
            return try guestfs.ls(real).sorted()
        } catch let error as GuestfsError {
            throw MachineFilesError(.io, machine: displayName, path: directory, detail: "cannot be listed: \(error.message)")
        }
    }
}
