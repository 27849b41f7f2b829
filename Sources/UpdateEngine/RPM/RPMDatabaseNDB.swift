/// Reader of rpm's "ndb" `Packages.db` files (SUSE, rpm ≥ 4.16), after rpm's `lib/backend/ndb/rpmpkg.c`.
///
/// Layout (all integers little-endian): a 32-byte header (`RpmP`, version 0, generation,
/// slot page count, next package index) then that many 4 KiB slot pages of 16-byte slots
/// (`Slot`, package index, block offset, block count; index 0 = free; the header takes the
/// first two slots). A slot points at a blob in 16-byte blocks: a 16-byte head (`BlbS`, package
/// index, generation, length), the header blob, padding, and a 12-byte tail (Adler-32 of
/// everything before it, length, `BlbE`).
public enum RPMNDB {
    static let headerMagic: UInt32 = 0x506D_7052  // "RpmP"
    static let slotMagic: UInt32 = 0x746F_6C53  // "Slot"
    static let blobHeadMagic: UInt32 = 0x5362_6C42  // "BlbS"
    static let blobTailMagic: UInt32 = 0x4562_6C42  // "BlbE"
    static let pageSize = 4096
    static let blockSize = 16
    static let slotSize = 16
    static let blobHeadSize = 16
    static let blobTailSize = 12

    /// Reads every package header in an NDB `Packages.db` file, by package index.
    ///
    /// - Parameter database: a name for messages (the file's path).
    public static func readHeaders(_ bytes: [UInt8], database: String) throws(RPMDatabaseError) -> [RPMPackageHeader] {
        var headers: [RPMPackageHeader] = []
        for (record, blob) in try records(bytes, database: database) {
            headers.append(try RPMHeader.parse(blob, record: record, database: database))
        }
        return headers
    }

    /// The raw `(package index, header blob)` pairs of an NDB file, sorted by package index.
    public static func records(_ bytes: [UInt8], database: String) throws(RPMDatabaseError) -> [(UInt32, [UInt8])] {
        let file = RPMBytes(bytes)
        func corrupt(_ detail: String, record: UInt32? = nil) -> RPMDatabaseError {
            RPMDatabaseError(.corrupt, database: database, record: record, detail: detail)
        }
        guard let magic = file.le32(0) else {
            throw RPMDatabaseError(.notADatabase, database: database, detail: "is too short for an NDB header")
        }
        guard magic == headerMagic else {
            throw RPMDatabaseError(.notADatabase, database: database, detail: "has no NDB `RpmP` magic")
        }
        guard bytes.count >= 32, let version = file.le32(4), let slotPages = file.le32(12) else {
            throw RPMDatabaseError(.truncated, database: database, detail: "ends inside the NDB header")
        }
        guard version == 0 else {
            throw RPMDatabaseError(.unsupported, database: database, detail: "uses NDB version \(version); only version 0 exists")
        }
        guard slotPages >= 1 else { throw corrupt("has no slot pages") }
        let slotAreaBytes = Int(slotPages) * pageSize
        guard slotAreaBytes <= bytes.count else {
            throw RPMDatabaseError(.truncated, database: database,
                                   detail: "announces \(slotPages) slot pages but is only \(bytes.count) bytes")
        }
        let fileBlocks = bytes.count / blockSize
        let firstDataBlock = slotAreaBytes / blockSize

        var slots: [(index: UInt32, offset: Int, count: Int)] = []
        var seen = Set<UInt32>()
        for slot in 2..<(slotAreaBytes / slotSize) {
            let at = slot * slotSize
            guard file.le32(at) == slotMagic, let pkg = file.le32(at + 4),
                  let blockOffset = file.le32(at + 8), let blockCount = file.le32(at + 12) else {
                throw corrupt("slot \(slot) has no `Slot` magic")
            }
            if pkg == 0 { continue }
            guard Int(blockOffset) >= firstDataBlock, blockCount > 0,
                  Int(blockOffset) + Int(blockCount) <= fileBlocks else {
                throw corrupt("slot \(slot) points at blocks \(blockOffset)+\(blockCount), outside the data area (blocks \(firstDataBlock)…\(fileBlocks))", record: pkg)
            }
            guard seen.insert(pkg).inserted else { throw corrupt("package index \(pkg) has two slots", record: pkg) }
            slots.append((pkg, Int(blockOffset), Int(blockCount)))
        }
        slots.sort { $0.index < $1.index }

        var out: [(UInt32, [UInt8])] = []
        out.reserveCapacity(slots.count)
        for slot in slots {
            out.append((slot.index, try blob(file, slot: slot, database: database)))
        }
        return out
    }

    /// The header blob of one slot, after checking head, tail and checksum (rpm's `rpmpkgReadBlob`).
    static func blob(_ file: RPMBytes, slot: (index: UInt32, offset: Int, count: Int), database: String) throws(RPMDatabaseError) -> [UInt8] {
        func corrupt(_ detail: String) -> RPMDatabaseError {
            RPMDatabaseError(.corrupt, database: database, record: slot.index, detail: detail)
        }
        let start = slot.offset * blockSize
        let end = start + slot.count * blockSize
        guard slot.count * blockSize >= blobHeadSize + blobTailSize else { throw corrupt("the blob is too small for its head and tail") }
        guard file.le32(start) == blobHeadMagic else { throw corrupt("the blob has no `BlbS` magic") }
        guard file.le32(start + 4) == slot.index else { throw corrupt("the blob belongs to another package index") }
        guard let length = file.le32(start + 12).map(Int.init),
              slot.count == (blobHeadSize + length + blobTailSize + blockSize - 1) / blockSize else {
            throw corrupt("the blob length does not match its \(slot.count) blocks")
        }
        let tail = end - blobTailSize
        guard file.le32(tail + 4) == UInt32(length), file.le32(tail + 8) == blobTailMagic else {
            throw corrupt("the blob tail is damaged")
        }
        guard file.le32(tail) == adler32(file.bytes[start..<tail]) else { throw corrupt("the blob checksum does not match") }
        return Array(file.bytes[(start + blobHeadSize)..<(start + blobHeadSize + length)])
    }

    /// Adler-32 (RFC 1950) of `bytes`.
    static func adler32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        var i = bytes.startIndex
        while i < bytes.endIndex {
            let chunkEnd = min(i + 5552, bytes.endIndex)
            while i < chunkEnd {
                a &+= UInt32(bytes[i])
                b &+= a
                i += 1
            }
            a %= 65521
            b %= 65521
        }
        return b << 16 | a
    }
}
