/// One stanza of a repository `Packages` index: only what candidate selection needs.
public struct AptPackageRecord: Sendable, Hashable {
    public var name: String
    public var version: DebianVersion
    /// `Architecture:` as written (`amd64`, `all`).
    public var architecture: String
    public var multiArch: DpkgMultiArch
    /// The source package name (`Source:`'s first word, else the binary name).
    public var sourceName: String
    /// `Phased-Update-Percentage:` (Ubuntu); 100 when absent.
    public var phasedUpdatePercentage: Int
}

/// A problem in one stanza that apt would skip or warn about; the rest of the index is still used.
public struct AptPackagesWarning: Sendable, Hashable, CustomStringConvertible {
    public var source: String
    public var line: Int
    public var message: String
    public var description: String { "\(source) line \(line): \(message)." }
}

/// A streaming byte-level reader of `Packages` indexes.
///
/// Feed it decompressed chunks (``feed(_:)``), then ``finish()``. It looks only at the fields the policy
/// uses (`Package`, `Version`, `Architecture`, `Multi-Arch`, `Source`, `Phased-Update-Percentage`),
/// compared case-insensitively, and skips every other line after reading its first bytes. Reads untrusted
/// bytes: never traps.
public struct PackagesIndexParser: Sendable {
    public private(set) var records: [AptPackageRecord] = []
    public private(set) var warnings: [AptPackagesWarning] = []
    /// Names `source` in warnings and errors (the index URL).
    public let source: String

    private var carry: [UInt8] = []
    private var lineNumber = 0
    private var stanzaLine = 0
    private var inStanza = false
    private var name: ArraySlice<UInt8>?
    private var version: ArraySlice<UInt8>?
    private var arch: ArraySlice<UInt8>?
    private var multiArch: ArraySlice<UInt8>?
    private var sourceField: ArraySlice<UInt8>?
    private var phased: ArraySlice<UInt8>?
    /// Interned architecture strings (a handful per index).
    private var archStrings: [ArraySlice<UInt8>: String] = [:]

    public init(source: String) { self.source = source }

    /// Parses a whole index in memory.
    public static func parse(_ bytes: [UInt8], source: String) throws(AptRepositoryError) -> PackagesIndexParser {
        var p = PackagesIndexParser(source: source)
        try p.feed(bytes)
        try p.finish()
        return p
    }

    /// Consumes the next chunk of the decompressed index.
    public mutating func feed(_ chunk: [UInt8]) throws(AptRepositoryError) {
        let buffer: [UInt8]
        if carry.isEmpty { buffer = chunk } else { buffer = carry + chunk; carry = [] }
        var start = 0
        let count = buffer.count
        while start < count {
            guard let nl = Self.indexOfNewline(buffer, from: start) else {
                carry = Array(buffer[start..<count])
                return
            }
            try line(buffer[start..<nl])
            start = nl + 1
        }
    }

    /// Ends the input (a last stanza without a trailing empty line counts).
    public mutating func finish() throws(AptRepositoryError) {
        if !carry.isEmpty {
            let rest = carry
            carry = []
            try line(rest[...])
        }
        try endStanza()
    }

    private static func indexOfNewline(_ b: [UInt8], from: Int) -> Int? {
        b.withUnsafeBufferPointer { p -> Int? in
            guard let base = p.baseAddress, from < p.count else { return nil }
            guard let hit = memchrNewline(base + from, p.count - from) else { return nil }
            return hit - base
        }
    }

    private mutating func line(_ raw: ArraySlice<UInt8>) throws(AptRepositoryError) {
        lineNumber += 1
        var l = raw
        if l.last == 0x0D { l = l.dropLast() }
        guard let first = l.first else { try endStanza(); return }
        if first == 0x20 || first == 0x09 {
            // A continuation line; a line of blanks alone also ends nothing here (apt ignores it).
            return
        }
        if first == UInt8(ascii: "#") && !inStanza { return }
        if !inStanza { inStanza = true; stanzaLine = lineNumber }
        guard let colon = l.firstIndex(of: UInt8(ascii: ":")) else {
            throw AptRepositoryError(.malformedIndex, url: source, line: lineNumber, detail: "line has no ':' (not a 'Field: value' line)")
        }
        let key = l[l.startIndex..<colon]
        var v = l[(colon + 1)...]
        while let c = v.first, c == 0x20 || c == 0x09 { v = v.dropFirst() }
        while let c = v.last, c == 0x20 || c == 0x09 { v = v.dropLast() }
        switch key.count {
        case 7:
            if Self.equalsLower(key, "package") { name = v } else if Self.equalsLower(key, "version") { version = v }
        case 12: if Self.equalsLower(key, "architecture") { arch = v }
        case 10: if Self.equalsLower(key, "multi-arch") { multiArch = v }
        case 6: if Self.equalsLower(key, "source") { sourceField = v }
        case 24: if Self.equalsLower(key, "phased-update-percentage") { phased = v }
        default: break
        }
    }

    private mutating func endStanza() throws(AptRepositoryError) {
        guard inStanza else { return }
        defer {
            inStanza = false
            name = nil; version = nil; arch = nil; multiArch = nil; sourceField = nil; phased = nil
        }
        guard let name, !name.isEmpty else {
            throw AptRepositoryError(.malformedIndex, url: source, line: stanzaLine, detail: "stanza has no 'Package' field")
        }
        let nameString = String(decoding: name, as: UTF8.self)
        guard let version, !version.isEmpty else {
            warnings.append(AptPackagesWarning(source: source, line: stanzaLine, message: "package '\(nameString)' has no 'Version'; skipped"))
            return
        }
        let versionText = String(decoding: version, as: UTF8.self)
        let parsed: DebianVersion
        do { parsed = try DebianVersion(parsing: versionText) } catch {
            warnings.append(AptPackagesWarning(source: source, line: stanzaLine, message: "package '\(nameString)': \(error.description) Skipped"))
            return
        }
        let archSlice = arch ?? []
        let archString: String
        if let s = archStrings[archSlice] { archString = s } else {
            archString = String(decoding: archSlice, as: UTF8.self)
            archStrings[archSlice] = archString
        }
        var ma = DpkgMultiArch.no
        if let m = multiArch, let v = DpkgMultiArch(rawValue: String(decoding: m, as: UTF8.self)) { ma = v }
        var src = nameString
        if let s = sourceField {
            let word = s.prefix { $0 != 0x20 && $0 != 0x09 }
            if !word.isEmpty { src = String(decoding: word, as: UTF8.self) }
        }
        var pct = 100
        if let ph = phased, let n = Int(String(decoding: ph, as: UTF8.self)), (0...100).contains(n) { pct = n }
        records.append(AptPackageRecord(name: nameString, version: parsed, architecture: archString, multiArch: ma,
                                        sourceName: src, phasedUpdatePercentage: pct))
    }

    @inline(__always)
    private static func equalsLower(_ key: ArraySlice<UInt8>, _ lower: StaticString) -> Bool {
        guard key.count == lower.utf8CodeUnitCount else { return false }
        let p = lower.utf8Start
        var i = 0
        for c in key {
            if Deb822.lower(c) != p[i] { return false }
            i += 1
        }
        return true
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@inline(__always)
private func memchrNewline(_ p: UnsafePointer<UInt8>, _ n: Int) -> UnsafePointer<UInt8>? {
    guard let r = memchr(p, 0x0A, n) else { return nil }
    return UnsafePointer(r.assumingMemoryBound(to: UInt8.self))
}
