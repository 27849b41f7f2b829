import Foundation
import Libvirt
import UpdateEngine

/// Images named by libvirt: the volumes of a storage pool, the disks of a domain.
public enum LibvirtSources {
    /// What a pool or a domain gave to sweep or gate.
    public struct Found: Sendable {
        /// Host paths of the disk images, in libvirt's order, each once.
        public var images: [String] = []
        /// The format libvirt records for each image, when it records one.
        public var formats: [String: String] = [:]
        /// Volumes or disks left alone (an ISO, a directory), with why.
        public var ignored: [String] = []
        /// What could not be listed or read (errors), and disks the gate cannot read (errors: undecided).
        public var failures: [Diagnostic] = []
    }

    /// Formats of volumes that hold no machine: installation media and directories.
    static let notMachines: Set<String> = ["iso", "dir"]

    /// The volumes of the storage pool `pool` at `uri` (nil: libvirt's default), over a read-only connection.
    /// libvirt calls block on the daemon, so they run on a thread of their own.
    public static func pool(_ pool: String, uri: String?) async -> Found {
        await runOnOwnThread {
            var found = Found()
            let volumes: [StorageVolume]
            do {
                let connection = try LibvirtConnection(uri: uri)
                volumes = try connection.volumes(ofPool: pool)
            } catch {
                found.failures.append(Diagnostic(.libvirtFailed, subject: DiagnosticSubject(repository: uri),
                                                 "\((error as? LibvirtError)?.message ?? "\(error)")."))
                return found
            }
            var seen = Set<String>()
            for v in volumes {
                if v.type != "file" && v.type != "block" {
                    found.ignored.append("\(v.path) (a \(v.type) volume)")
                } else if let f = v.format, notMachines.contains(f) {
                    found.ignored.append("\(v.path) (\(f))")
                } else if seen.insert(v.path).inserted {
                    found.images.append(v.path)
                    if let f = v.format { found.formats[v.path] = f }
                }
            }
            return found
        }
    }

    /// The disks of a domain's XML (a libvirt hook's stdin) the gate reads: `file` and `block` disks of
    /// device `disk` or `lun`. CD-ROMs and floppies are left alone; a `volume`, `network` or other disk is a
    /// failure (the gate cannot read it, and a hook must not call back into libvirt to resolve it).
    public static func domainDisks(_ xml: [UInt8], source: String) -> (name: String?, found: Found) {
        var found = Found()
        let domain: (name: String?, disks: [DomainDisk])
        do {
            domain = try LibvirtXML.domain(xml, source: source)
        } catch {
            found.failures.append(Diagnostic(.libvirtFailed, subject: DiagnosticSubject(file: source), "cannot read the domain XML: line \(error.line): \(error.detail)."))
            return (nil, found)
        }
        var seen = Set<String>()
        for d in domain.disks {
            let target = d.target ?? "a disk"
            guard d.device == "disk" || d.device == "lun" else {
                found.ignored.append("\(target) (\(d.device)\(d.path.map { " " + $0 } ?? ""))")
                continue
            }
            guard d.type == "file" || d.type == "block", let path = d.path else {
                let what = d.sourceName.map { " (\($0))" } ?? ""
                found.failures.append(Diagnostic(.libvirtUnsupportedDisk, subject: DiagnosticSubject(device: target),
                                                 "\(target): a <disk type='\(d.type)'>\(what) is not gated: only file and block disks are read, and a libvirt hook must not call back into libvirt to resolve it."))
                continue
            }
            if seen.insert(path).inserted {
                found.images.append(path)
                if let f = d.format { found.formats[path] = f }
            }
        }
        return (domain.name, found)
    }
}
