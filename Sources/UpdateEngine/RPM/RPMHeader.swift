/// One capability a package provides (`PROVIDENAME` with its `PROVIDEVERSION`).
public struct RPMProvide: Sendable, Hashable {
    /// The capability name (`libc.so.6()(64bit)`, `bash`, `config(bash)`).
    public var name: String
    /// The provided `[E:]V[-R]`, or nil when unversioned.
    public var version: String?

    public init(name: String, version: String? = nil) {
        self.name = name
        self.version = version
    }
}

/// The facts imgsec needs from one installed-package header of an rpm database.
public struct RPMPackageHeader: Sendable, Hashable {
    /// The record this header came from (BDB key, NDB package index, SQLite `hnum`).
    public var record: UInt32
    /// NAME (tag 1000).
    public var name: String
    /// EPOCH (tag 1003), nil when the header has none.
    public var epoch: Int?
    /// VERSION (tag 1001).
    public var version: String
    /// RELEASE (tag 1002).
    public var release: String
    /// ARCH (tag 1022); nil for `gpg-pubkey` pseudo-packages.
    public var arch: String?
    /// SOURCERPM (tag 1044): the source package file name (`bash-5.1.8-6.el9.src.rpm`).
    public var sourceRPM: String?
    /// VENDOR (tag 1011).
    public var vendor: String?
    /// MODULARITYLABEL (tag 5096): `name:stream:version:context` for module packages.
    public var modularityLabel: String?
    /// SUMMARY (tag 1004), the untranslated text.
    public var summary: String?
    /// PROVIDENAME (1047) paired with PROVIDEVERSION (1113).
    public var provides: [RPMProvide]
    /// INSTALLTIME (tag 1008), seconds since 1970.
    public var installTime: Int?
    /// SIZE (tag 1009), installed size in bytes.
    public var size: Int?

    public init(record: UInt32, name: String, epoch: Int? = nil, version: String, release: String,
                arch: String? = nil, sourceRPM: String? = nil, vendor: String? = nil,
                modularityLabel: String? = nil, summary: String? = nil, provides: [RPMProvide] = [],
                installTime: Int? = nil, size: Int? = nil) {
        self.record = record
        self.name = name
        self.epoch = epoch
        self.version = version
        self.release = release
        self.arch = arch
        self.sourceRPM = sourceRPM
        self.vendor = vendor
        self.modularityLabel = modularityLabel
        self.summary = summary
        self.provides = provides
        self.installTime = installTime
        self.size = size
    }

    /// False for the `gpg-pubkey` entries rpm keeps for imported keys: they are not packages.
    public var isPackage: Bool { name != "gpg-pubkey" }

    /// The `[E:]V-R` of this package.
    public var evr: RPMEVR { RPMEVR(epoch: epoch, version: version, release: release) }

    /// This header as an installed package; nil for `gpg-pubkey` entries.
    public var installedPackage: InstalledPackage? {
        guard isPackage else { return nil }
        return InstalledPackage(name: name, epoch: epoch, version: evr.description, release: release,
                                arch: arch ?? "", source: sourceRPM, modularityLabel: modularityLabel)
    }
}

/// Parser of the header blobs stored in rpm databases (rpm's `hdrblobInit` + `headerImport`).
///
/// A blob is: index count `il` and data length `dl` (big-endian 32-bit), `il` 16-byte index
/// entries (tag, type, offset, count; big-endian), then `dl` bytes of data. The first entry may be
/// a region tag (61, 62, 63) whose 16-byte trailer in the data says how many entries the immutable
/// region holds; entries after the region ("dribbles", added at install time) replace region
/// entries with the same tag. Every offset and count is checked against the blob.
public enum RPMHeader {
    /// Tags imgsec reads.
    enum Tag: UInt32 {
        case headerImage = 61, headerSignatures = 62, headerImmutable = 63
        case name = 1000, version = 1001, release = 1002, epoch = 1003, summary = 1004
        case installTime = 1008, size = 1009, vendor = 1011, arch = 1022, sourceRPM = 1044
        case provideName = 1047, provideVersion = 1113, modularityLabel = 5096
    }

    /// rpm's `HEADER_TAGS_MAX` and `HEADER_DATA_MAX`.
    static let maxEntries: UInt32 = 0xffff
    static let maxData: UInt32 = 0x0fff_ffff

    /// Header data types (`rpmTagType`).
    enum DataType: UInt32 {
        case null = 0, char, int8, int16, int32, int64, string, bin, stringArray, i18nString
    }

    /// One index entry, bounds-checked against the data store.
    struct Entry {
        var tag: UInt32
        var type: DataType
        var offset: Int
        var count: Int
    }

    /// Parses one header blob into the facts imgsec uses.
    ///
    /// - Parameters:
    ///   - blob: the bytes as stored in the database (untrusted).
    ///   - record: the record number, for messages.
    ///   - database: the database's name, for messages.
    public static func parse(_ blob: [UInt8], record: UInt32, database: String) throws(RPMDatabaseError) -> RPMPackageHeader {
        let view = try HeaderView(blob, record: record, database: database)
        guard let name = view.string(.name) else {
            throw RPMDatabaseError(.corruptHeader, database: database, record: record, detail: "the header has no NAME tag")
        }
        let provideNames = view.strings(.provideName)
        let provideVersions = view.strings(.provideVersion)
        var provides: [RPMProvide] = []
        provides.reserveCapacity(provideNames.count)
        for (i, n) in provideNames.enumerated() {
            let v = i < provideVersions.count ? provideVersions[i] : ""
            provides.append(RPMProvide(name: n, version: v.isEmpty ? nil : v))
        }
        return RPMPackageHeader(
            record: record, name: name, epoch: view.int(.epoch), version: view.string(.version) ?? "",
            release: view.string(.release) ?? "", arch: view.string(.arch), sourceRPM: view.string(.sourceRPM),
            vendor: view.string(.vendor), modularityLabel: view.string(.modularityLabel),
            summary: view.string(.summary), provides: provides, installTime: view.int(.installTime),
            size: view.int(.size))
    }

    /// The checked index and data of one blob; looks tags up by number.
    struct HeaderView {
        let blob: RPMBytes
        let dataStart: Int
        let dataLength: Int
        /// The entry used for each tag: the last one in index order, so dribbles win.
        var entries: [UInt32: Entry] = [:]

        init(_ bytes: [UInt8], record: UInt32, database: String) throws(RPMDatabaseError) {
            func fail(_ detail: String) -> RPMDatabaseError {
                RPMDatabaseError(.corruptHeader, database: database, record: record, detail: detail)
            }
            blob = RPMBytes(bytes)
            guard let il = blob.be32(0), let dl = blob.be32(4) else {
                throw fail("the header blob is only \(bytes.count) bytes long")
            }
            guard il >= 1, il <= RPMHeader.maxEntries else { throw fail("the header claims \(il) index entries") }
            guard dl <= RPMHeader.maxData else { throw fail("the header claims \(dl) bytes of data") }
            dataStart = 8 + Int(il) * 16
            dataLength = Int(dl)
            guard dataStart + dataLength <= bytes.count else {
                throw fail("the header needs \(dataStart + dataLength) bytes but the blob has \(bytes.count)")
            }

            var first = 0
            // A leading region tag: check its trailer like rpm's hdrblobVerifyRegion.
            if let tag = blob.be32(8), (61...63).contains(tag) {
                let type = blob.be32(12) ?? 0, offset = Int(Int32(bitPattern: blob.be32(16) ?? 0)), count = blob.be32(20) ?? 0
                guard type == DataType.bin.rawValue, count == 16 else { throw fail("the region tag \(tag) has type \(type) and count \(count)") }
                guard offset >= 0, offset + 16 <= dataLength else { throw fail("the region trailer offset \(offset) is outside the data") }
                let t = dataStart + offset
                var trailerTag = blob.be32(t) ?? 0
                let trailerType = blob.be32(t + 4) ?? 0, trailerCount = blob.be32(t + 12) ?? 0
                let regionBytes = -Int64(Int32(bitPattern: blob.be32(t + 8) ?? 0))
                if tag == RPMHeader.Tag.headerSignatures.rawValue && trailerTag == RPMHeader.Tag.headerImage.rawValue {
                    trailerTag = tag
                }
                guard trailerTag == tag, trailerType == DataType.bin.rawValue, trailerCount == 16 else {
                    throw fail("the region trailer does not match region tag \(tag)")
                }
                guard regionBytes > 0, regionBytes % 16 == 0, regionBytes / 16 <= Int64(il) else {
                    throw fail("the region claims \(regionBytes / 16) of \(il) index entries")
                }
                first = 1
            }

            for i in first..<Int(il) {
                let e = 8 + i * 16
                guard let tag = blob.be32(e), let rawType = blob.be32(e + 4),
                      let rawOffset = blob.be32(e + 8), let rawCount = blob.be32(e + 12) else {
                    throw fail("index entry \(i) is cut off")
                }
                guard let type = DataType(rawValue: rawType) else {
                    throw fail("index entry \(i) (tag \(tag)) has unknown type \(rawType)")
                }
                let offset = Int(Int32(bitPattern: rawOffset))
                guard offset >= 0, offset <= dataLength else {
                    throw fail("index entry \(i) (tag \(tag)) points at offset \(offset), outside the \(dataLength) data bytes")
                }
                guard rawCount <= UInt32(dataLength) || type == .null else {
                    throw fail("index entry \(i) (tag \(tag)) claims \(rawCount) values")
                }
                entries[tag] = Entry(tag: tag, type: type, offset: offset, count: Int(rawCount))
            }
        }

        /// The NUL-terminated string starting at data offset `offset` and the offset after its NUL,
        /// or nil when it runs past the data.
        private func cString(at offset: Int) -> (String, Int)? {
            let start = dataStart + offset, end = dataStart + dataLength
            var i = start
            while i < end {
                if blob.bytes[i] == 0 {
                    return (String(decoding: blob.bytes[start..<i], as: UTF8.self), i - dataStart + 1)
                }
                i += 1
            }
            return nil
        }

        /// A STRING or the first I18NSTRING / STRING_ARRAY value of `tag`, or nil when absent or damaged.
        func string(_ tag: RPMHeader.Tag) -> String? {
            guard let e = entries[tag.rawValue], e.count >= 1 else { return nil }
            switch e.type {
            case .string, .i18nString, .stringArray: return cString(at: e.offset)?.0
            default: return nil
            }
        }

        /// All values of a STRING_ARRAY (or STRING) `tag`; empty when absent or damaged.
        func strings(_ tag: RPMHeader.Tag) -> [String] {
            guard let e = entries[tag.rawValue] else { return [] }
            switch e.type {
            case .string, .i18nString, .stringArray: break
            default: return []
            }
            var out: [String] = []
            var offset = e.offset
            for _ in 0..<e.count {
                guard let (s, next) = cString(at: offset) else { return [] }
                out.append(s)
                offset = next
            }
            return out
        }

        /// The first value of an integer `tag`, or nil when absent or damaged.
        func int(_ tag: RPMHeader.Tag) -> Int? {
            guard let e = entries[tag.rawValue], e.count >= 1 else { return nil }
            let at = dataStart + e.offset
            let limit = dataStart + dataLength
            switch e.type {
            case .int32:
                guard at + 4 <= limit, let v = blob.be32(at) else { return nil }
                return Int(v)
            case .int16:
                guard at + 2 <= limit, let v = blob.u16(at, bigEndian: true) else { return nil }
                return Int(v)
            case .int8, .char:
                guard at < limit, let v = blob.u8(at) else { return nil }
                return Int(v)
            case .int64:
                guard at + 8 <= limit, let hi = blob.be32(at), let lo = blob.be32(at + 4) else { return nil }
                return Int(truncatingIfNeeded: UInt64(hi) << 32 | UInt64(lo))
            default:
                return nil
            }
        }
    }
}
