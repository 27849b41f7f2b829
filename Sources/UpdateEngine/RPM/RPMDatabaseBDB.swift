/// Reader of Berkeley DB hash `Packages` files (rpm ≤ 4.15; RHEL/CentOS 5–8, old SUSE), the way
/// rpm's own read-only backend (`lib/backend/bdb_ro.c`) walks them.
///
/// Layout: page 0 is the hash metadata page (magic 0x061561 at byte 12, in the byte order of the
/// machine that wrote it); every bucket is a chain of hash pages (type 13, or 2 in old files)
/// holding key/value pairs; a value too big for a page lives in a chain of overflow pages (type 7).
/// Keys are 4-byte record numbers; record 0 holds rpm's instance counter and is not a package.
///
/// Every page number is checked against the file and against the page's own number, and every page
/// is visited at most once, so a damaged file ends in an error, never in a loop.
public enum RPMBerkeleyDB {
    static let hashMagic: UInt32 = 0x061561
    static let btreeMagic: UInt32 = 0x053162
    static let pageHeaderSize = 26

    enum PageType: UInt8 {
        case hashUnsorted = 2, overflow = 7, hashMeta = 8, hash = 13
    }

    /// Item types on hash pages.
    static let keyData: UInt8 = 1
    static let offPage: UInt8 = 3

    /// Reads every package header in a BDB `Packages` file.
    ///
    /// - Parameter database: a name for messages (the file's path).
    public static func readHeaders(_ bytes: [UInt8], database: String) throws(RPMDatabaseError) -> [RPMPackageHeader] {
        var headers: [RPMPackageHeader] = []
        for (record, blob) in try records(bytes, database: database) {
            headers.append(try RPMHeader.parse(blob, record: record, database: database))
        }
        return headers
    }

    /// The raw `(record number, header blob)` pairs of a BDB `Packages` file, in bucket order.
    public static func records(_ bytes: [UInt8], database: String) throws(RPMDatabaseError) -> [(UInt32, [UInt8])] {
        var walker = try Walker(bytes, database: database)
        return try walker.walk()
    }

    /// State of one walk over the hash buckets.
    struct Walker {
        let file: RPMBytes
        let database: String
        let bigEndian: Bool
        let pageSize: Int
        let lastPage: UInt32
        let maxBucket: UInt32
        let spares: [UInt32]
        /// Pages already visited; a second visit means a cycle.
        var visited: [Bool]

        init(_ bytes: [UInt8], database: String) throws(RPMDatabaseError) {
            self.database = database
            file = RPMBytes(bytes)
            guard bytes.count >= 512, let le = file.le32(12), let be = file.be32(12) else {
                throw RPMDatabaseError(bytes.count < 512 && bytes.count >= 16 && Self.hasMagic(file) ? .truncated : .notADatabase,
                                       database: database, detail: "the file is \(bytes.count) bytes, too short for a Berkeley DB metadata page")
            }
            if le == RPMBerkeleyDB.hashMagic { bigEndian = false }
            else if be == RPMBerkeleyDB.hashMagic { bigEndian = true }
            else if le == RPMBerkeleyDB.btreeMagic || be == RPMBerkeleyDB.btreeMagic {
                throw RPMDatabaseError(.unsupported, database: database, detail: "is a Berkeley DB btree, not the hash database rpm keeps packages in")
            } else {
                throw RPMDatabaseError(.notADatabase, database: database, detail: "has no Berkeley DB hash magic number")
            }
            let version = file.u32(16, bigEndian: bigEndian) ?? 0
            guard (8...10).contains(version) else {
                throw RPMDatabaseError(.unsupported, database: database, detail: "uses Berkeley DB hash version \(version); versions 8 to 10 are supported")
            }
            guard file.u8(24) == 0 else {
                throw RPMDatabaseError(.unsupported, database: database, detail: "is encrypted")
            }
            let size = file.u32(20, bigEndian: bigEndian) ?? 0
            guard size >= 512, size <= 65536, size & (size - 1) == 0 else {
                throw RPMDatabaseError(.corrupt, database: database, detail: "has an invalid page size \(size)")
            }
            pageSize = Int(size)
            lastPage = file.u32(32, bigEndian: bigEndian) ?? 0
            let needed = (Int(lastPage) + 1) * pageSize
            guard needed <= bytes.count else {
                throw RPMDatabaseError(.truncated, database: database,
                                       detail: "is \(bytes.count) bytes but its last page \(lastPage) ends at byte \(needed)")
            }
            maxBucket = file.u32(72, bigEndian: bigEndian) ?? 0
            guard maxBucket <= lastPage else {
                throw RPMDatabaseError(.corrupt, database: database, detail: "claims \(maxBucket) buckets in \(lastPage) pages")
            }
            var spares: [UInt32] = []
            for i in 0..<32 { spares.append(file.u32(96 + 4 * i, bigEndian: bigEndian) ?? 0) }
            self.spares = spares
            visited = Array(repeating: false, count: Int(lastPage) + 1)
        }

        static func hasMagic(_ file: RPMBytes) -> Bool {
            file.le32(12) == RPMBerkeleyDB.hashMagic || file.be32(12) == RPMBerkeleyDB.hashMagic
        }

        func corrupt(_ detail: String, record: UInt32? = nil) -> RPMDatabaseError {
            RPMDatabaseError(.corrupt, database: database, record: record, detail: detail)
        }

        /// The first page of bucket `bucket` (rpm's `hash_bucket_to_page`).
        func bucketPage(_ bucket: UInt32) throws(RPMDatabaseError) -> UInt32 {
            let bits = bucket == 0 ? 0 : 32 - bucket.leadingZeroBitCount
            guard bits < 32 else { throw corrupt("bucket \(bucket) is out of range") }
            let (page, overflow) = bucket.addingReportingOverflow(spares[bits])
            guard !overflow else { throw corrupt("bucket \(bucket) maps past the last page") }
            return page
        }

        /// The byte offset of page `page` after checking it is in the file, not yet visited,
        /// of one of the expected types and carrying its own number.
        mutating func enter(_ page: UInt32, types: Set<UInt8>, record: UInt32? = nil) throws(RPMDatabaseError) -> Int {
            guard page != 0, page <= lastPage else { throw corrupt("a link points to page \(page), outside pages 1…\(lastPage)", record: record) }
            guard !visited[Int(page)] else { throw corrupt("page \(page) is linked twice (a page cycle)", record: record) }
            visited[Int(page)] = true
            let base = Int(page) * pageSize
            guard file.u32(base + 8, bigEndian: bigEndian) == page else {
                throw corrupt("page \(page) carries another page number", record: record)
            }
            let type = file.u8(base + 25) ?? 0
            guard types.contains(type) else { throw corrupt("page \(page) has type \(type) where \(types.sorted()) was expected", record: record) }
            return base
        }

        /// Whether `page` is an all-zero page header: a bucket Berkeley DB allocated but never
        /// initialised, which libdb reads as an empty bucket (rpm 4.18's bdb_ro reports an error and
        /// lists nothing; go-rpmdb and snyk skip it).
        func isUninitialized(_ page: UInt32) -> Bool {
            guard page != 0, page <= lastPage else { return false }
            let base = Int(page) * pageSize
            return file.u32(base + 8, bigEndian: bigEndian) == 0 && file.u8(base + 25) == 0 && file.u16(base + 20, bigEndian: bigEndian) == 0
        }

        /// Walks every bucket chain and returns the records with their values.
        mutating func walk() throws(RPMDatabaseError) -> [(UInt32, [UInt8])] {
            var out: [(UInt32, [UInt8])] = []
            let hashTypes: Set<UInt8> = [PageType.hash.rawValue, PageType.hashUnsorted.rawValue]
            for bucket in 0...maxBucket {
                var page = try bucketPage(bucket)
                if isUninitialized(page) { continue }
                while page != 0 {
                    let base = try enter(page, types: hashTypes)
                    let n = Int(file.u16(base + 20, bigEndian: bigEndian) ?? 0)
                    guard n % 2 == 0, RPMBerkeleyDB.pageHeaderSize + 2 * n <= pageSize else {
                        throw corrupt("hash page \(page) claims \(n) items")
                    }
                    for idx in stride(from: 0, to: n, by: 2) {
                        if let item = try pair(onPage: base, page: page, index: idx) { out.append(item) }
                    }
                    page = file.u32(base + 16, bigEndian: bigEndian) ?? 0
                }
            }
            return out
        }

        /// The key/value pair at item `index` of the hash page at `base`; nil for record 0.
        mutating func pair(onPage base: Int, page: UInt32, index: Int) throws(RPMDatabaseError) -> (UInt32, [UInt8])? {
            let inp = base + RPMBerkeleyDB.pageHeaderSize
            let keyOffset = Int(file.u16(inp + 2 * index, bigEndian: bigEndian) ?? 0)
            let valueOffset = Int(file.u16(inp + 2 * index + 2, bigEndian: bigEndian) ?? 0)
            let keyEnd = index == 0 ? pageSize : Int(file.u16(inp + 2 * index - 2, bigEndian: bigEndian) ?? 0)
            let itemsStart = RPMBerkeleyDB.pageHeaderSize
            guard keyOffset >= itemsStart, valueOffset >= itemsStart, valueOffset < keyOffset, keyOffset < keyEnd, keyEnd <= pageSize else {
                throw corrupt("hash page \(page) item \(index) has offsets \(keyOffset)/\(valueOffset) out of order or range")
            }
            let key = try item(base: base, offset: keyOffset, length: keyEnd - keyOffset, page: page, record: nil)
            guard key.count == 4, let record = RPMBytes(key).u32(0, bigEndian: bigEndian) else {
                throw corrupt("hash page \(page) item \(index) has a \(key.count)-byte key, not a record number")
            }
            if record == 0 { return nil }
            let value = try item(base: base, offset: valueOffset, length: keyOffset - valueOffset, page: page, record: record)
            return (record, value)
        }

        /// The bytes of one on-page (`H_KEYDATA`) or off-page (`H_OFFPAGE`) item.
        mutating func item(base: Int, offset: Int, length: Int, page: UInt32, record: UInt32?) throws(RPMDatabaseError) -> [UInt8] {
            let start = base + offset
            switch file.u8(start) {
            case RPMBerkeleyDB.keyData:
                return Array(file.bytes[(start + 1)..<(start + length)])
            case RPMBerkeleyDB.offPage:
                guard length == 12, let first = file.u32(start + 4, bigEndian: bigEndian),
                      let total = file.u32(start + 8, bigEndian: bigEndian) else {
                    throw corrupt("hash page \(page) has a malformed off-page item", record: record)
                }
                return try overflow(first: first, total: Int(total), record: record)
            case let type:
                throw RPMDatabaseError(.unsupported, database: database, record: record,
                                       detail: "hash page \(page) holds an item of type \(type.map(String.init) ?? "?"), not plain data")
            }
        }

        /// Concatenates an overflow chain of `total` bytes starting at page `first` (rpm's `ovfl_get`).
        mutating func overflow(first: UInt32, total: Int, record: UInt32?) throws(RPMDatabaseError) -> [UInt8] {
            guard total > 0, total <= file.count else {
                throw corrupt("an off-page item claims \(total) bytes", record: record)
            }
            var out: [UInt8] = []
            out.reserveCapacity(total)
            var page = first
            while out.count < total {
                let base = try enter(page, types: [PageType.overflow.rawValue], record: record)
                let used = Int(file.u16(base + 22, bigEndian: bigEndian) ?? 0)
                guard used > 0, RPMBerkeleyDB.pageHeaderSize + used <= pageSize, used <= total - out.count else {
                    throw corrupt("overflow page \(page) holds \(used) bytes, which does not fit", record: record)
                }
                let start = base + RPMBerkeleyDB.pageHeaderSize
                out.append(contentsOf: file.bytes[start..<(start + used)])
                page = file.u32(base + 16, bigEndian: bigEndian) ?? 0
            }
            return out
        }
    }
}
