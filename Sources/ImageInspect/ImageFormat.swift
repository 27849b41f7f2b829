#if canImport(Glibc)
import Glibc
#endif
import UpdateEngine

/// The disk formats imgsec passes to libguestfs. The format is always decided here, from the header,
/// and given explicitly: qemu never probes (CVE-2010-3851).
public enum DiskFormat: String, Sendable, Codable {
    case qcow2, raw, vmdk
}

/// What an image's header says, read on the host before any appliance starts.
public struct ImageHeader: Sendable, Equatable {
    public var format: DiskFormat
    /// qcow2: the backing file named in the header; vmdk: a parent or extent file outside the image.
    public var backingFile: String?
    /// qcow2: the backing file's format, when the header records it.
    public var backingFormat: String?
    /// The size of the file on the host.
    public var fileSize: Int
}

/// Why an image was refused or could not be inspected. Its `description` names the image.
public struct ImageInspectError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Codable {
        case missing, unreadable, notAnImage, unsupportedFormat, backingFile, noOperatingSystem,
             encrypted, applianceFailed, timeout, readFailed
    }
    public var code: Code
    public var image: String
    public var detail: String

    public init(_ code: Code, image: String, _ detail: String) {
        self.code = code
        self.image = image
        self.detail = detail
    }

    public var description: String { "\(image): \(detail)" }
}

/// Reads image headers: qcow2 magic, vmdk sparse/descriptor magic, else raw; refuses what is no disk.
public enum ImageProbe {
    /// Reads the header of `path` and decides its format.
    public static func header(of path: String) throws -> ImageHeader {
        var st = stat()
        guard stat(path, &st) == 0 else {
            let why = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
            throw ImageInspectError(.missing, image: path, "cannot be opened: \(why).")
        }
        guard (st.st_mode & S_IFMT) == S_IFREG || (st.st_mode & S_IFMT) == S_IFBLK else {
            throw ImageInspectError(.notAnImage, image: path, "is not a regular file or block device.")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw ImageInspectError(.unreadable, image: path, "cannot be opened for reading: \(String(cString: strerror(errno))).")
        }
        defer { close(fd) }
        let size = Int(st.st_size)
        let head = try readAt(fd, offset: 0, count: 65536, image: path)
        return try classify(head: head, fileSize: size, image: path) { offset, count in
            try readAt(fd, offset: offset, count: count, image: path)
        }
    }

    static let qcow2Magic: [UInt8] = [0x51, 0x46, 0x49, 0xFB]
    static let vmdkSparseMagic = Array("KDMV".utf8)
    static let vmdkDescriptorMagic = Array("# Disk DescriptorFile".utf8)
    /// Virtual-disk formats imgsec names but does not read, by their magic at offset 0.
    static let foreignDiskFormats: [(name: String, magic: [UInt8])] = [
        ("VDI (VirtualBox)", Array("<<< ".utf8)), ("VHDX", Array("vhdxfile".utf8)), ("VHD", Array("conectix".utf8)), ("QED", Array("QED\0".utf8)),
    ]
    /// Compressed files (an image to decompress first, or any other archive), by their magic at offset 0.
    static let compressedFormats: [(name: String, magic: [UInt8])] = [
        ("xz-compressed", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]), ("gzip-compressed", [0x1F, 0x8B]),
        ("zstd-compressed", [0x28, 0xB5, 0x2F, 0xFD]), ("bzip2-compressed", Array("BZh".utf8)),
    ]

    /// Decides the format from the first bytes; `more` reads elsewhere in the file (backing file names).
    static func classify(head: [UInt8], fileSize: Int, image: String,
                         more: (Int, Int) throws -> [UInt8]) throws -> ImageHeader {
        func has(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            head.count >= offset + magic.count && Array(head[offset..<offset + magic.count]) == magic
        }
        if fileSize == 0 {
            throw ImageInspectError(.notAnImage, image: image, "is empty (0 bytes), not a disk image.")
        }
        if has(qcow2Magic) { return try qcow2(head: head, fileSize: fileSize, image: image, more: more) }
        if has(vmdkSparseMagic) { return try vmdkSparse(head: head, fileSize: fileSize, image: image, more: more) }
        if has(vmdkDescriptorMagic) {
            throw ImageInspectError(.unsupportedFormat, image: image,
                "is a VMDK descriptor whose data lives in separate extent files; convert it with `qemu-img convert -O qcow2` first.")
        }
        for (name, magic) in foreignDiskFormats + compressedFormats where has(magic) {
            throw ImageInspectError(.unsupportedFormat, image: image,
                "is a \(name) file; imgsec reads qcow2, vmdk (monolithic sparse) and raw images — convert or decompress it first.")
        }
        // Raw: anything else, but a raw disk is whole sectors and not a text file.
        if fileSize % 512 != 0 {
            throw ImageInspectError(.notAnImage, image: image,
                "is not a disk image: no qcow2/vmdk header and its size (\(fileSize) bytes) is not a whole number of 512-byte sectors.")
        }
        let sample = head.prefix(4096)
        if !sample.isEmpty, sample.allSatisfy({ $0 == 9 || $0 == 10 || $0 == 13 || (32...126).contains($0) }) {
            throw ImageInspectError(.notAnImage, image: image, "is not a disk image: it starts with plain text.")
        }
        return ImageHeader(format: .raw, backingFile: nil, backingFormat: nil, fileSize: fileSize)
    }

    private static func be32(_ b: [UInt8], _ o: Int) -> UInt32 {
        guard b.count >= o + 4 else { return 0 }
        return b[o..<o + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }
    private static func be64(_ b: [UInt8], _ o: Int) -> UInt64 {
        guard b.count >= o + 8 else { return 0 }
        return b[o..<o + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// qcow2 header (qemu docs/interop/qcow2.txt): backing file offset/size at 8/16, header extensions
    /// after the header, among them the backing format (0xE2792ACA) and an external data file (0x44415441).
    static func qcow2(head: [UInt8], fileSize: Int, image: String, more: (Int, Int) throws -> [UInt8]) throws -> ImageHeader {
        guard head.count >= 72 else {
            throw ImageInspectError(.notAnImage, image: image, "has a qcow2 magic but a truncated header.")
        }
        let version = be32(head, 4)
        guard version == 2 || version == 3 else {
            throw ImageInspectError(.unsupportedFormat, image: image, "is qcow2 version \(version); imgsec reads versions 2 and 3.")
        }
        let backingOffset = be64(head, 8)
        let backingSize = be32(head, 16)
        var backing: String? = nil
        if backingOffset != 0 && backingSize != 0 {
            // Every value is checked against the file before it becomes an Int: the header is untrusted.
            guard backingSize <= 1023, fileSize >= 0, backingOffset < UInt64(fileSize),
                  let start = Int(exactly: backingOffset), let count = Int(exactly: backingSize) else {
                throw ImageInspectError(.notAnImage, image: image, "has a corrupt qcow2 header (backing file name out of range).")
            }
            backing = String(decoding: try more(start, count), as: UTF8.self)
        }
        var backingFormat: String? = nil
        // qcow2.txt: a version 3 header is at least 104 bytes and a multiple of 8; extensions follow it.
        let headerLength: Int
        if version >= 3 {
            guard let length = Int(exactly: be32(head, 100)), length >= 104, length % 8 == 0, length <= head.count else {
                throw ImageInspectError(.notAnImage, image: image,
                    "has a corrupt qcow2 header (header length \(be32(head, 100)) is not a multiple of 8 between 104 and \(head.count)).")
            }
            headerLength = length
        } else {
            headerLength = 72
        }
        var offset = headerLength
        while head.count - offset >= 8 {
            let type = be32(head, offset)
            if type == 0 { break }
            // Lengths are compared by subtraction (offset <= head.count here), so nothing can overflow.
            let length = Int(be32(head, offset + 4))
            guard length <= head.count - offset - 8 else {
                throw ImageInspectError(.notAnImage, image: image,
                    "has a corrupt qcow2 header (extension 0x\(String(type, radix: 16)) of \(length) bytes runs past the header).")
            }
            let data = Array(head[(offset + 8)..<(offset + 8 + length)])
            if type == 0xE279_2ACA { backingFormat = String(decoding: data, as: UTF8.self) }
            if type == 0x4441_5441 {
                throw ImageInspectError(.backingFile, image: image,
                    "names an external qcow2 data file (\(String(decoding: data, as: UTF8.self))); imgsec does not follow it.")
            }
            let padded = (length + 7) / 8 * 8
            guard padded <= head.count - offset - 8 else { break }
            offset += 8 + padded
        }
        return ImageHeader(format: .qcow2, backingFile: backing, backingFormat: backingFormat, fileSize: fileSize)
    }

    /// Monolithic sparse VMDK: the embedded descriptor may name a parent (a snapshot chain).
    static func vmdkSparse(head: [UInt8], fileSize: Int, image: String, more: (Int, Int) throws -> [UInt8]) throws -> ImageHeader {
        func le64(_ o: Int) -> UInt64 { guard head.count >= o + 8 else { return 0 }; return head[o..<o + 8].reversed().reduce(0) { $0 << 8 | UInt64($1) } }
        let descriptorSector = le64(28), descriptorSectors = le64(36)
        var parent: String? = nil
        if descriptorSector > 0, descriptorSectors > 0 {
            // The descriptor must lie inside the file; multiply only after the range is known to fit.
            let sectorsInFile = UInt64(max(fileSize, 0) / 512)
            guard descriptorSectors < 2048, descriptorSector < sectorsInFile,
                  descriptorSectors <= sectorsInFile - descriptorSector,
                  let start = Int(exactly: descriptorSector * 512), let count = Int(exactly: descriptorSectors * 512) else {
                throw ImageInspectError(.notAnImage, image: image,
                    "has a corrupt VMDK header (embedded descriptor at sector \(descriptorSector), \(descriptorSectors) sectors, lies outside the \(fileSize)-byte file).")
            }
            let text = String(decoding: try more(start, count), as: UTF8.self)
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("parentFileNameHint=") {
                parent = String(line.dropFirst("parentFileNameHint=".count)).replacingQuotes()
            }
            for line in text.split(whereSeparator: \.isNewline) where line.hasPrefix("RW ") || line.hasPrefix("RDONLY ") {
                if !line.contains("SPARSE") || line.split(separator: " ").count > 4 {
                    throw ImageInspectError(.unsupportedFormat, image: image,
                        "is a VMDK with several extents; convert it with `qemu-img convert -O qcow2` first.")
                }
            }
        }
        return ImageHeader(format: .vmdk, backingFile: parent, backingFormat: parent == nil ? nil : "vmdk", fileSize: fileSize)
    }

    private static func readAt(_ fd: Int32, offset: Int, count: Int, image: String) throws -> [UInt8] {
        guard offset >= 0, count >= 0, let position = off_t(exactly: offset) else {
            throw ImageInspectError(.notAnImage, image: image, "has a header that points outside the file (offset \(offset)).")
        }
        var buffer = [UInt8](repeating: 0, count: count)
        let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, count, position) }
        guard n >= 0 else {
            throw ImageInspectError(.unreadable, image: image, "cannot be read: \(String(cString: strerror(errno))).")
        }
        return Array(buffer.prefix(n))
    }

    /// Checks a backing chain: every link must be a file inside the top image's own directory, and the
    /// chain must end within 16 links. Returns the chain (top first).
    public static func checkBackingChain(of path: String, header: ImageHeader) throws -> [String] {
        guard let dir = realDirectory(of: path) else {
            throw ImageInspectError(.unreadable, image: path, "cannot resolve its directory.")
        }
        var chain = [path]
        var current = path
        var currentHeader = header
        while let backing = currentHeader.backingFile {
            guard chain.count <= 16 else {
                throw ImageInspectError(.backingFile, image: path, "has a backing chain longer than 16 images.")
            }
            let base = realDirectory(of: current) ?? dir
            let candidate = backing.hasPrefix("/") ? backing : base + "/" + backing
            guard let resolved = realPath(candidate), resolved.hasPrefix(dir + "/"), realDirectory(of: resolved) == dir else {
                throw ImageInspectError(.backingFile, image: path,
                    "has a backing file (\(backing)) outside its own directory \(dir); imgsec only follows chains that stay inside it.")
            }
            guard !chain.contains(resolved) else {
                throw ImageInspectError(.backingFile, image: path, "has a backing chain that loops at \(resolved).")
            }
            let next = try Self.header(of: resolved)
            if let declared = currentHeader.backingFormat, declared != next.format.rawValue {
                throw ImageInspectError(.backingFile, image: path,
                    "says its backing file \(backing) is \(declared), but its header says \(next.format.rawValue).")
            }
            if currentHeader.backingFormat == nil && next.format == .raw {
                throw ImageInspectError(.backingFile, image: path,
                    "has a raw backing file (\(backing)) without a recorded backing format; qemu would probe it, so imgsec refuses it.")
            }
            chain.append(resolved)
            current = resolved
            currentHeader = next
        }
        return chain
    }

    static func realPath(_ path: String) -> String? {
        guard let p = realpath(path, nil) else { return nil }
        defer { free(p) }
        return String(cString: p)
    }

    static func realDirectory(of path: String) -> String? {
        guard let real = realPath(path) else { return nil }
        let parts = real.split(separator: "/")
        return "/" + parts.dropLast().joined(separator: "/")
    }
}

extension String {
    fileprivate func replacingQuotes() -> String { filter { $0 != "\"" } }
}

extension ImageInspectError: DiagnosticConvertible {
    public var diagnostic: Diagnostic {
        let code: DiagnosticCode = switch self.code {
        case .missing: .imageMissing
        case .unreadable: .imageUnreadable
        case .notAnImage: .imageNotAnImage
        case .unsupportedFormat: .imageUnsupportedFormat
        case .backingFile: .imageBackingFile
        case .noOperatingSystem: .imageNoOS
        case .encrypted: .imageEncrypted
        case .applianceFailed: .applianceFailed
        case .timeout: .imageTimeout
        case .readFailed: .imageReadFailed
        }
        return Diagnostic(code, subject: DiagnosticSubject(image: image), detail)
    }
}
