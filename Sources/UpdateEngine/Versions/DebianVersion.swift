/// A Debian package version, `[epoch:]upstream[-revision]`, parsed and ordered exactly as dpkg does.
///
/// Parsing follows dpkg's `parseversion()` (lib/dpkg/parsehelp.c, dpkg 1.21): surrounding blanks are
/// trimmed, hard errors throw ``DebianVersionError``, soft problems (which dpkg only warns about and
/// still compares) are kept in ``warning``. Ordering follows `dpkg_version_compare()` /
/// `verrevcmp()` (lib/dpkg/version.c), byte for byte.
///
/// Equality is *semantic*, consistent with the ordering: `1.0` == `1.00`, `0:1` == `1`, `1-0` == `1`.
/// ``description`` keeps the text as written (trimmed).
public struct DebianVersion: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The epoch; 0 when none was written.
    public let epoch: Int
    /// Whether the text had an `epoch:` prefix (even `0:`).
    public let hasExplicitEpoch: Bool
    /// The version text as written, blanks around it trimmed.
    public let text: String
    /// The soft problem dpkg would warn about (it still compares such versions), if any.
    public let warning: DebianVersionWarning?

    // UTF-8 offsets into `text`.
    private let upstreamStart: Int
    private let upstreamEnd: Int
    /// Start of the revision; equal to `text.utf8.count` when there is none.
    private let revisionStart: Int

    /// The upstream version: between the epoch colon and the last hyphen.
    public var upstream: Substring { Self.slice(text, upstreamStart, upstreamEnd) }

    /// The Debian revision (after the last hyphen); empty when there is none.
    public var revision: Substring { Self.slice(text, revisionStart, text.utf8.count) }

    /// Whether the version has a `-revision` part.
    public var hasRevision: Bool { revisionStart < text.utf8.count }

    public var description: String { text }

    /// The version as dpkg prints it (`versiondescribe(…, vdew_nonambig)`, e.g. `dpkg-query -f '${Version}'`):
    /// the epoch only when it is not 0 or the upstream part holds a colon, so `0:1.2` prints as `1.2`.
    public var dpkgDescription: String {
        var out = ""
        if epoch != 0 || upstream.utf8.contains(UInt8(ascii: ":")) { out = "\(epoch):" }
        out += upstream
        if hasRevision { out += "-"; out += revision }
        return out
    }

    /// Parses a version as dpkg's `parseversion()` does; throws on what dpkg calls an error.
    public init(parsing string: String) throws(DebianVersionError) {
        var s = string
        s.makeContiguousUTF8()
        let result = s.utf8.withContiguousStorageIfAvailable { Self.parse($0, input: string) }
            ?? Array(s.utf8).withUnsafeBufferPointer { Self.parse($0, input: string) }
        self = try result.get()
    }

    private init(epoch: Int, hasExplicitEpoch: Bool, text: String, warning: DebianVersionWarning?,
                 upstreamStart: Int, upstreamEnd: Int, revisionStart: Int) {
        self.epoch = epoch
        self.hasExplicitEpoch = hasExplicitEpoch
        var t = text
        t.makeContiguousUTF8()
        self.text = t
        self.warning = warning
        self.upstreamStart = upstreamStart
        self.upstreamEnd = upstreamEnd
        self.revisionStart = revisionStart
    }

    private static func slice(_ s: String, _ from: Int, _ to: Int) -> Substring {
        let u = s.utf8
        let a = u.index(u.startIndex, offsetBy: from)
        let b = u.index(a, offsetBy: to - from)
        return Substring(u[a..<b])
    }

    @inline(__always) private static func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }
    @inline(__always) private static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }
    @inline(__always) private static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) &- 0x61 < 26 }

    private static func parse(_ all: UnsafeBufferPointer<UInt8>, input: String) -> Result<DebianVersion, DebianVersionError> {
        do throws(DebianVersionError) {
            return .success(try parseOrThrow(all, input: input))
        } catch {
            return .failure(error)
        }
    }

    private static func parseOrThrow(_ all: UnsafeBufferPointer<UInt8>, input: String) throws(DebianVersionError) -> DebianVersion {
        func fail(_ code: DebianVersionError.Code) -> DebianVersionError { DebianVersionError(code, input: input) }
        // C sees the string only up to its first NUL.
        let n = all.firstIndex(of: 0) ?? all.count
        var start = 0
        while start < n && isBlank(all[start]) { start += 1 }
        guard start < n else { throw fail(.empty) }
        var end = start
        while end < n && !isBlank(all[end]) { end += 1 }
        var rest = end
        while rest < n && isBlank(all[rest]) { rest += 1 }
        guard rest == n else { throw fail(.embeddedSpaces) }

        var epoch = 0
        var explicitEpoch = false
        var versionStart = start
        if let colon = (start..<end).first(where: { all[$0] == UInt8(ascii: ":") }) {
            // strtol(string, &end, 10): optional sign, then digits.
            var i = start
            var negative = false
            if all[i] == UInt8(ascii: "+") || all[i] == UInt8(ascii: "-") { negative = all[i] == UInt8(ascii: "-"); i += 1 }
            let digitsStart = i
            var magnitude = 0
            var overflow = false
            while i < n && isDigit(all[i]) {
                let (m1, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (m2, o2) = m1.addingReportingOverflow(Int(all[i] - 0x30))
                if o1 || o2 { overflow = true } else { magnitude = m2 }
                i += 1
            }
            guard i > digitsStart else { throw fail(.epochEmpty) }
            guard i == colon else { throw fail(.epochNotNumber) }
            guard !(negative && (magnitude > 0 || overflow)) else { throw fail(.epochNegative) }
            guard !overflow && magnitude <= Int(Int32.max) else { throw fail(.epochTooBig) }
            guard colon + 1 < n else { throw fail(.nothingAfterColon) }
            epoch = magnitude
            explicitEpoch = true
            versionStart = colon + 1
        }
        var upstreamEnd = end
        var revisionStart = end
        if let hyphen = (versionStart..<end).last(where: { all[$0] == UInt8(ascii: "-") }) {
            guard hyphen + 1 < end else { throw fail(.revisionEmpty) }
            upstreamEnd = hyphen
            revisionStart = hyphen + 1
        }
        guard versionStart < upstreamEnd else { throw fail(.upstreamEmpty) }

        var warning: DebianVersionWarning?
        if !isDigit(all[versionStart]) {
            warning = .upstreamDoesNotStartWithDigit
        } else if (versionStart + 1..<upstreamEnd).contains(where: { !isValidUpstream(all[$0]) }) {
            warning = .invalidUpstreamCharacter
        } else if (revisionStart..<end).contains(where: { !isValidRevision(all[$0]) }) {
            warning = .invalidRevisionCharacter
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: all[start..<end]), as: UTF8.self)
        return DebianVersion(epoch: epoch, hasExplicitEpoch: explicitEpoch, text: text, warning: warning,
                             upstreamStart: versionStart - start, upstreamEnd: upstreamEnd - start,
                             revisionStart: revisionStart - start)
    }

    private static func isValidUpstream(_ c: UInt8) -> Bool {
        isDigit(c) || isAlpha(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "-") || c == UInt8(ascii: "+")
            || c == UInt8(ascii: "~") || c == UInt8(ascii: ":")
    }

    private static func isValidRevision(_ c: UInt8) -> Bool {
        isDigit(c) || isAlpha(c) || c == UInt8(ascii: ".") || c == UInt8(ascii: "+") || c == UInt8(ascii: "~")
    }

    // MARK: Ordering

    /// Compares two versions as `dpkg --compare-versions` does: -1, 0 or 1.
    public static func compare(_ a: DebianVersion, _ b: DebianVersion) -> Int {
        if a.epoch != b.epoch { return a.epoch < b.epoch ? -1 : 1 }
        return a.withBytes { pa in
            b.withBytes { pb in
                let r = verrevcmp(pa, a.upstreamStart, a.upstreamEnd, pb, b.upstreamStart, b.upstreamEnd)
                if r != 0 { return r }
                return verrevcmp(pa, a.revisionStart, pa.count, pb, b.revisionStart, pb.count)
            }
        }
    }

    /// Parses and compares two version strings; throws if either is not a valid version.
    public static func compare(_ a: String, _ b: String) throws(DebianVersionError) -> Int {
        compare(try DebianVersion(parsing: a), try DebianVersion(parsing: b))
    }

    @inline(__always)
    private func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        if let r = text.utf8.withContiguousStorageIfAvailable(body) { return r }
        return Array(text.utf8).withUnsafeBufferPointer(body)
    }

    /// dpkg's `order()`: digits and the end 0, letters their code, `~` -1, anything else after letters.
    /// Bytes ≥ 0x80 rank as dpkg built with a signed `char` (amd64) ranks them: `(c - 256) + 256`.
    @inline(__always) private static func order(_ c: UInt8) -> Int {
        if isAlpha(c) { return Int(c) }
        if isDigit(c) { return 0 }
        if c == UInt8(ascii: "~") { return -1 }
        if c >= 0x80 { return Int(c) }
        return Int(c) + 256
    }

    /// dpkg's `verrevcmp()` on two byte ranges; returns -1, 0 or 1.
    private static func verrevcmp(_ a: UnsafeBufferPointer<UInt8>, _ aStart: Int, _ aEnd: Int,
                                  _ b: UnsafeBufferPointer<UInt8>, _ bStart: Int, _ bEnd: Int) -> Int {
        var i = aStart
        var j = bStart
        while i < aEnd || j < bEnd {
            // Non-digit prefix, character by character.
            while (i < aEnd && !isDigit(a[i])) || (j < bEnd && !isDigit(b[j])) {
                let ac = i < aEnd ? order(a[i]) : 0
                let bc = j < bEnd ? order(b[j]) : 0
                if ac != bc { return ac < bc ? -1 : 1 }
                i += 1
                j += 1
            }
            // Digit runs, numerically.
            while i < aEnd && a[i] == 0x30 { i += 1 }
            while j < bEnd && b[j] == 0x30 { j += 1 }
            var firstDiff = 0
            while i < aEnd && j < bEnd && isDigit(a[i]) && isDigit(b[j]) {
                if firstDiff == 0 && a[i] != b[j] { firstDiff = a[i] < b[j] ? -1 : 1 }
                i += 1
                j += 1
            }
            if i < aEnd && isDigit(a[i]) { return 1 }
            if j < bEnd && isDigit(b[j]) { return -1 }
            if firstDiff != 0 { return firstDiff }
        }
        return 0
    }

    public static func < (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) < 0 }

    public static func == (lhs: DebianVersion, rhs: DebianVersion) -> Bool { compare(lhs, rhs) == 0 }

    /// Hashes a canonical form so that versions dpkg considers equal hash equally.
    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch)
        withBytes { p in
            Self.hashCanonical(p, upstreamStart, upstreamEnd, into: &hasher)
            hasher.combine(UInt8(0xFD))
            Self.hashCanonical(p, revisionStart, p.count, into: &hasher)
        }
    }

    /// Feeds the (non-digit run, digit run without leading zeros) pairs of a part; a part that is
    /// empty or all zeros compares equal to the empty part and hashes as nothing.
    private static func hashCanonical(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, into hasher: inout Hasher) {
        if (start..<end).allSatisfy({ p[$0] == 0x30 }) { return }
        var i = start
        while i < end {
            while i < end && !isDigit(p[i]) { hasher.combine(p[i]); i += 1 }
            hasher.combine(UInt8(0xFF))
            while i < end && p[i] == 0x30 { i += 1 }
            while i < end && isDigit(p[i]) { hasher.combine(p[i]); i += 1 }
            hasher.combine(UInt8(0xFE))
        }
    }
}

/// A problem dpkg only warns about: it still compares the version.
public enum DebianVersionWarning: String, Sendable, Hashable, Codable {
    case upstreamDoesNotStartWithDigit
    case invalidUpstreamCharacter
    case invalidRevisionCharacter

    /// dpkg's words for it.
    public var reason: String {
        switch self {
        case .upstreamDoesNotStartWithDigit: "version number does not start with digit"
        case .invalidUpstreamCharacter: "invalid character in version number"
        case .invalidRevisionCharacter: "invalid character in revision number"
        }
    }
}

/// Why a string is not a Debian version (what `dpkg --compare-versions` calls an error).
public struct DebianVersionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kinds of hard errors of dpkg's `parseversion()`.
    public enum Code: String, Sendable, Hashable, Codable {
        case empty, embeddedSpaces, epochEmpty, epochNotNumber, epochNegative, epochTooBig
        case nothingAfterColon, revisionEmpty, upstreamEmpty
    }

    public var code: Code
    /// The text that was given.
    public var input: String

    public init(_ code: Code, input: String) {
        self.code = code
        self.input = input
    }

    /// dpkg's words for it.
    public var reason: String {
        switch code {
        case .empty: "version string is empty"
        case .embeddedSpaces: "version string has embedded spaces"
        case .epochEmpty: "epoch in version is empty"
        case .epochNotNumber: "epoch in version is not number"
        case .epochNegative: "epoch in version is negative"
        case .epochTooBig: "epoch in version is too big"
        case .nothingAfterColon: "nothing after colon in version number"
        case .revisionEmpty: "revision number is empty"
        case .upstreamEmpty: "version number is empty"
        }
    }

    public var description: String { "Version '\(input)' has bad syntax: \(reason)." }
}
