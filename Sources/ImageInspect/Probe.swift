import Foundation
import UpdateEngine

/// Partitions and LVM volumes of every drive in one appliance, read once and shared by its images.
final class DiskLayout: @unchecked Sendable {  // unchecked: used only by the batch's own thread.
    let guestfs: Guestfs
    private var partitions: [String]?
    private var volumesByDrive: [String: [String]]?

    init(guestfs: Guestfs) { self.guestfs = guestfs }

    /// `/dev/sda1`… for drive `/dev/sda` (a suffix of digits only, so `/dev/sdaa1` is not `/dev/sda`'s).
    func partitions(of drive: String) throws -> [String] {
        if partitions == nil { partitions = try guestfs.listPartitions() }
        return (partitions ?? []).filter { Self.drive(ofPartition: $0) == drive }
    }

    static func drive(ofPartition partition: String) -> String {
        var base = Substring(partition)
        while let last = base.last, last.isNumber { base.removeLast() }
        if base.hasSuffix("p"), base.dropLast().last?.isNumber == true { base.removeLast() }  // nvme0n1p1
        return String(base)
    }

    /// Logical volumes whose volume group has a physical volume on `drive`.
    func logicalVolumes(onDrive drive: String) throws -> [String] {
        if volumesByDrive == nil {
            var map: [String: [String]] = [:]
            let lvs = try guestfs.lvs()
            if !lvs.isEmpty {
                var pvDriveByUUID: [String: String] = [:]
                for pv in try guestfs.pvs() {
                    let uuid = try guestfs.pvUUID(pv)
                    pvDriveByUUID[uuid] = try partitions(ofAny: pv)
                }
                for vg in try guestfs.vgs() {
                    let drives = Set(try guestfs.vgPVUUIDs(vg).compactMap { pvDriveByUUID[$0] })
                    let volumes = lvs.filter { $0.hasPrefix("/dev/\(vg)/") }
                    for d in drives { map[d, default: []] += volumes }
                }
            }
            volumesByDrive = map
        }
        return volumesByDrive?[drive] ?? []
    }

    private func partitions(ofAny device: String) throws -> String {
        (try partitions ?? guestfs.listPartitions()).contains(device) ? Self.drive(ofPartition: device) : device
    }
}

extension Inspector {
    /// Everything one image holds: each OS root found, mounted read-only, with its files collected.
    func inspectImage(_ item: Inspector.Item, device: String, guestfs: Guestfs, layout: DiskLayout,
                      fullRoots: [String]?) throws -> [InspectedMachine] {
        let image = item.path
        // Devices as the image would see them alone (its drive is /dev/sda), not as this appliance numbers them.
        func own(_ dev: String) -> String { dev.hasPrefix(device) ? "/dev/sda" + dev.dropFirst(device.count) : dev }
        do {
            let candidates = try filesystems(on: device, layout: layout, guestfs: guestfs)
            var roots: [String] = []
            if let fullRoots {
                let mine = Set(candidates.map(\.device))
                roots = fullRoots.filter { mine.contains($0) }
            } else {
                for fs in candidates where fs.mountable {
                    if try isRoot(fs.device, guestfs: guestfs) { roots.append(fs.device) }
                }
            }
            guard !roots.isEmpty else {
                let encrypted = candidates.filter { $0.type == "crypto_LUKS" || $0.type == "BitLocker" }
                if !encrypted.isEmpty {
                    throw ImageInspectError(.encrypted, image: image,
                        "holds only encrypted volumes (\(encrypted.map { "\(own($0.device)) \($0.type)" }.joined(separator: ", "))) and no readable operating system; imgsec does not unlock volumes.")
                }
                let seen = candidates.filter { !$0.type.isEmpty }.map { "\(own($0.device)) \($0.type)" }
                throw ImageInspectError(.noOperatingSystem, image: image, seen.isEmpty
                    ? "has no operating system: the disk holds no partition table and no filesystem."
                    : "has no operating system: none of its filesystems (\(seen.joined(separator: ", "))) holds a Linux root.")
            }
            var machines: [InspectedMachine] = []
            for root in roots {
                try guestfs.unmountAll()
                var notes: [String] = []
                if roots.count > 1 { notes.append("the image holds \(roots.count) operating systems (\(roots.map(own).joined(separator: ", "))); this one has its root on \(own(root))") }
                var facts: OSFacts
                let guest = GuestMachine(guestfs: guestfs, displayName: roots.count > 1 ? "\(image) [\(own(root))]" : image)
                if fullRoots != nil {
                    // libguestfs resolves fstab's UUID=/LABEL= across every drive of the appliance; clones share
                    // them. Mount the root by its device, and other filesystems only when they are on this image.
                    let mine = Set(candidates.map(\.device))
                    let mounts = try guestfs.inspectMountpoints(root).sorted { $0.mountpoint.count < $1.mountpoint.count }
                    try guestfs.mountReadOnly(root, at: "/")
                    for (mountpoint, dev) in mounts where mountpoint != "/" {
                        guard mine.contains(dev) else {
                            notes.append("\(mountpoint) is on \(own(dev)), which is not on this image; not mounted")
                            continue
                        }
                        do { try guestfs.mountReadOnly(dev, at: mountpoint) } catch let e as GuestfsError {
                            notes.append("\(dev) could not be mounted on \(mountpoint): \(e.message)")
                        }
                    }
                    facts = OSFacts()
                    facts.type = try? guestfs.inspect("type", root)
                    facts.distro = try? guestfs.inspect("distro", root)
                    if let v = try? guestfs.inspectVersion(root) {
                        facts.majorVersion = v.major
                        facts.minorVersion = v.minor
                    }
                    facts.arch = try? guestfs.inspect("arch", root)
                    facts.hostname = try? guestfs.inspect("hostname", root)
                    facts.productName = try? guestfs.inspect("product_name", root)
                    facts.packageFormat = (try? guestfs.inspect("package_format", root)).flatMap(PackageFormat.init(rawValue:))
                    facts.packageManager = try? guestfs.inspect("package_management", root)
                    let collected = options.collector.collect(from: guest)
                    facts.version = collected.osRelease?.versionID
                    if facts.packageFormat == nil { facts.packageFormat = collected.packageFormat }
                    facts.rootDevice = own(root)
                    machines.append(InspectedMachine(image: image, format: item.header.format, facts: facts,
                                                     collected: collected, notes: notes))
                } else {
                    try guestfs.mountReadOnly(root, at: "/")
                    notes += mountFstab(guest: guest, guestfs: guestfs, candidates: candidates)
                    let collected = options.collector.collect(from: guest)
                    facts = collected.facts(arch: ELFArchitecture.ofMachine(guest))
                    facts.rootDevice = own(root)
                    machines.append(InspectedMachine(image: image, format: item.header.format, facts: facts,
                                                     collected: collected, notes: notes))
                }
            }
            try guestfs.unmountAll()
            return machines
        } catch let error as GuestfsError {
            throw ImageInspectError(.readFailed, image: image, "could not be read in the appliance: \(error.message)")
        }
    }

    struct Filesystem {
        var device: String
        var type: String
        var mountable: Bool { !["", "swap", "crypto_LUKS", "BitLocker", "LVM2_member", "linux_raid_member"].contains(type) }
    }

    /// The drive's partitions (or the whole drive), and the LVM logical volumes that live on it,
    /// each with its filesystem type.
    func filesystems(on drive: String, layout: DiskLayout, guestfs: Guestfs) throws -> [Filesystem] {
        let parts = try layout.partitions(of: drive)
        var out: [Filesystem] = []
        var lvmSeen = false
        for device in parts.isEmpty ? [drive] : parts {
            let type = (try? guestfs.vfsType(device)) ?? ""
            out.append(Filesystem(device: device, type: type))
            if type == "LVM2_member" && !lvmSeen {
                lvmSeen = true
                for lv in try layout.logicalVolumes(onDrive: drive) {
                    out.append(Filesystem(device: lv, type: (try? guestfs.vfsType(lv)) ?? ""))
                }
            }
        }
        return out
    }

    /// Mounts `device` on `/` and looks for what identifies a Linux root; unmounts again.
    func isRoot(_ device: String, guestfs: Guestfs) throws -> Bool {
        do { try guestfs.mountReadOnly(device, at: "/") } catch { return false }
        defer { try? guestfs.unmountAll() }
        guard let etc = try guestfs.lstat("/etc"), etc.kind == .directory else { return false }
        for marker in ["/etc/os-release", "/usr/lib/os-release", "/var/lib/dpkg/status", "/var/lib/rpm",
                       "/usr/lib/sysimage/rpm", "/etc/redhat-release", "/etc/debian_version"] {
            if try guestfs.lstat(marker) != nil { return true }
        }
        return false
    }

    /// Mounts what the guest's /etc/fstab puts under `/usr`, `/var` and `/opt`, matching UUID= and
    /// LABEL= against this drive's own filesystems (clones share UUIDs: never mount by UUID globally).
    func mountFstab(guest: GuestMachine, guestfs: Guestfs, candidates: [Filesystem]) -> [String] {
        guard let bytes = try? guest.read("/etc/fstab", limit: 1 << 20) else { return [] }
        var notes: [String] = []
        let wanted = FstabEntry.parse(bytes).filter { e in
            e.mountpoint != "/" && ["/usr", "/var", "/opt"].contains { e.mountpoint == $0 || e.mountpoint.hasPrefix($0 + "/") }
        }
        for entry in wanted.sorted(by: { $0.mountpoint.count < $1.mountpoint.count }) {
            let device: String?
            if let uuid = entry.uuid {
                device = candidates.first { (try? guestfs.vfsUUID($0.device)) == uuid }?.device
            } else if let label = entry.label {
                device = candidates.first { (try? guestfs.vfsLabel($0.device)) == label }?.device
            } else if let lv = entry.logicalVolume {
                device = candidates.first { $0.device == lv }?.device
            } else if let n = entry.partitionNumber {
                device = candidates.first { DiskLayout.drive(ofPartition: $0.device) + "\(n)" == $0.device }?.device
            } else {
                device = nil
            }
            guard let device else {
                notes.append("/etc/fstab: \(entry.spec) for \(entry.mountpoint) is not on this image; not mounted")
                continue
            }
            do { try guestfs.mountReadOnly(device, at: entry.mountpoint) } catch {
                notes.append("/etc/fstab: \(device) could not be mounted on \(entry.mountpoint): \(error)")
            }
        }
        return notes
    }
}
