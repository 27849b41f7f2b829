#if canImport(Glibc)
import Glibc
#endif
import Foundation
import UpdateEngine

/// Finds disk images under folders by their first bytes, not their names: what `imgsec sweep` reads.
public enum ImageDiscovery {
    /// What a walk found.
    public struct Found: Sendable, Equatable {
        /// The images, in path order (each file once, however many links lead to it).
        public var images: [String] = []
        /// Files that are not disk images and were left alone (logs, XML, backups of other kinds).
        public var ignored: [String] = []
        /// Paths that could not be walked or read.
        public var failures: [Diagnostic] = []
    }

    /// Names that say "disk image": such a file is swept even when its header says nothing, so that a blank disk
    /// or a text file called `vm.img` is reported instead of being passed over.
    public static let imageExtensions: Set<String> = ["img", "raw", "qcow2", "qcow", "vmdk", "vdi", "vhd", "vhdx", "qed", "disk"]

    /// Walks `paths`: a file is taken as an image as it is (the inspector says if it is none); a folder is
    /// walked recursively (symbolic links to files are followed, to folders not), keeping the files that
    /// ``looksLikeImage(_:)`` or whose name ends in one of ``imageExtensions``. Hidden files are skipped.
    public static func find(_ paths: [String]) -> Found {
        var found = Found()
        var seen = Set<String>()
        func add(_ path: String) {
            let key = ImageProbe.realPath(path) ?? path
            if seen.insert(key).inserted { found.images.append(path) }
        }
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                found.failures.append(Diagnostic(.imageMissing, subject: DiagnosticSubject(image: path), "no such file or folder."))
                continue
            }
            guard isDirectory.boolValue else { add(path); continue }
            guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: path), includingPropertiesForKeys: [.isRegularFileKey, .isSymbolicLinkKey],
                                                              options: [.skipsHiddenFiles], errorHandler: { url, error in
                found.failures.append(Diagnostic(.imageUnreadable, subject: DiagnosticSubject(image: url.path), "cannot be walked: \(error.localizedDescription)"))
                return true
            }) else {
                found.failures.append(Diagnostic(.imageUnreadable, subject: DiagnosticSubject(image: path), "cannot be walked."))
                continue
            }
            var files: [String] = []
            for case let url as URL in walker {
                var st = stat()
                // stat, not lstat: a link to an image counts; a link to a folder is not descended (the
                // enumerator does not follow it) and is no regular file here.
                guard stat(url.path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { continue }
                files.append(url.path)
            }
            for file in files.sorted() {
                if looksLikeImage(file) || imageExtensions.contains((file as NSString).pathExtension.lowercased()) {
                    add(file)
                } else {
                    found.ignored.append(file)
                }
            }
        }
        return found
    }

    /// Whether the regular file at `path` starts like a disk image: a qcow2, vmdk, VDI, VHD(X) or QED header,
    /// or, for a raw disk, an MBR or GPT partition table, an ext2/3/4, XFS or btrfs filesystem, a LUKS volume or
    /// an LVM physical volume. Reads at most 68 KiB; never blocks (FIFOs and devices are not opened).
    public static func looksLikeImage(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG else { return false }
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var head = [UInt8](repeating: 0, count: 0x10048)
        let n = head.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { return false }
        head.removeSubrange(n...)
        return recognizes(head)
    }

    /// The signatures ``looksLikeImage(_:)`` looks for, in the file's first bytes.
    static func recognizes(_ head: [UInt8]) -> Bool {
        func has(_ magic: [UInt8], at offset: Int) -> Bool {
            head.count >= offset + magic.count && head[offset..<offset + magic.count].elementsEqual(magic)
        }
        // The virtual-disk headers ImageProbe reads or names (compressed files are not taken: most are no disk).
        let headers = [ImageProbe.qcow2Magic, ImageProbe.vmdkSparseMagic, ImageProbe.vmdkDescriptorMagic] + ImageProbe.foreignDiskFormats.map(\.magic)
        // A raw disk's partition table, filesystem, LUKS or LVM signature.
        let raw: [([UInt8], Int)] = [
            ([0x55, 0xAA], 510), (Array("EFI PART".utf8), 512), ([0x53, 0xEF], 1080), (Array("XFSB".utf8), 0),
            (Array("_BHRfS_M".utf8), 0x10040), ([0x4C, 0x55, 0x4B, 0x53, 0xBA, 0xBE], 0), (Array("LABELONE".utf8), 512),
        ]
        return headers.contains { has($0, at: 0) } || raw.contains { has($0.0, at: $0.1) }
    }
}
