/// RPM version comparison, exactly as rpm 4.18's `rpmvercmp()` and `rpm.labelCompare()`.
///
/// Works on UTF-8 bytes only; no `Character` iteration. Only ASCII letters and digits form
/// segments; every other byte (including non-ASCII) is a separator, as in rpm's `risalnum`.
/// A NUL byte ends a string, as it does for rpm's C strings.
public enum RPMVersion {
    /// Compares two version (or release) strings like rpm's `rpmvercmp()`: -1, 0 or 1.
    @inlinable
    public static func vercmp(_ a: String, _ b: String) -> Int {
        var a = a, b = b
        return a.withUTF8 { pa in b.withUTF8 { pb in vercmp(pa, pb) } }
    }

    /// Compares two version substrings like rpm's `rpmvercmp()`: -1, 0 or 1.
    @inlinable
    public static func vercmp(_ a: Substring, _ b: Substring) -> Int {
        var a = a, b = b
        return a.withUTF8 { pa in b.withUTF8 { pb in vercmp(pa, pb) } }
    }

    /// Compares two versions given as UTF-8 bytes like rpm's `rpmvercmp()`: -1, 0 or 1.
    public static func vercmp(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Int {
        // Identical strings (up to a NUL) compare equal straight away, like rpm's `rstreq`.
        if a.count == b.count && (a.count == 0 || memcmpEqual(a, b)) { return 0 }

        let na = a.count, nb = b.count
        @inline(__always) func at(_ p: UnsafeBufferPointer<UInt8>, _ n: Int, _ i: Int) -> UInt8 { i < n ? p[i] : 0 }

        var one = 0, two = 0
        while at(a, na, one) != 0 || at(b, nb, two) != 0 {
            while isSeparator(at(a, na, one)) { one += 1 }
            while isSeparator(at(b, nb, two)) { two += 1 }
            let c1 = at(a, na, one), c2 = at(b, nb, two)

            // Tilde sorts before everything else, even the end of the string.
            if c1 == tilde || c2 == tilde {
                if c1 != tilde { return 1 }
                if c2 != tilde { return -1 }
                one += 1; two += 1
                continue
            }
            // Caret is like tilde, except that the end of the string sorts before it.
            if c1 == caret || c2 == caret {
                if c1 == 0 { return -1 }
                if c2 == 0 { return 1 }
                if c1 != caret { return 1 }
                if c2 != caret { return -1 }
                one += 1; two += 1
                continue
            }
            if c1 == 0 || c2 == 0 { break }

            // Take the longest all-digit or all-letter segment from each side.
            var end1 = one, end2 = two
            let isNum = isDigit(c1)
            if isNum {
                while isDigit(at(a, na, end1)) { end1 += 1 }
                while isDigit(at(b, nb, end2)) { end2 += 1 }
            } else {
                while isAlpha(at(a, na, end1)) { end1 += 1 }
                while isAlpha(at(b, nb, end2)) { end2 += 1 }
            }
            // Segments of different kinds: numeric is newer than alphabetic.
            if end2 == two { return isNum ? 1 : -1 }

            if isNum {
                while one < end1 && a[one] == zero { one += 1 }
                while two < end2 && b[two] == zero { two += 1 }
                let len1 = end1 - one, len2 = end2 - two
                if len1 != len2 { return len1 > len2 ? 1 : -1 }
            }
            let rc = compareBytes(a, one, end1, b, two, end2)
            if rc != 0 { return rc }
            one = end1; two = end2
        }
        let e1 = at(a, na, one) == 0, e2 = at(b, nb, two) == 0
        if e1 && e2 { return 0 }
        return e1 ? -1 : 1
    }

    /// Compares two `(epoch, version, release)` triples like rpm's Python `rpm.labelCompare`.
    ///
    /// A missing epoch counts as 0; a missing release sorts before any present one (even an empty one).
    public static func labelCompare(_ a: RPMEVR, _ b: RPMEVR) -> Int {
        let ea = a.epoch ?? 0, eb = b.epoch ?? 0
        if ea != eb { return ea < eb ? -1 : 1 }
        let v = vercmp(a.version, b.version)
        if v != 0 { return v }
        switch (a.release, b.release) {
        case (nil, nil): return 0
        case (nil, _): return -1
        case (_, nil): return 1
        case let (ra?, rb?): return vercmp(ra, rb)
        }
    }

    @usableFromInline static let tilde = UInt8(ascii: "~")
    @usableFromInline static let caret = UInt8(ascii: "^")
    static let zero = UInt8(ascii: "0")

    @inline(__always) static func isDigit(_ c: UInt8) -> Bool { c &- 0x30 < 10 }
    @inline(__always) static func isAlpha(_ c: UInt8) -> Bool { (c | 0x20) &- 0x61 < 26 }
    @inline(__always) static func isAlnum(_ c: UInt8) -> Bool { isDigit(c) || isAlpha(c) }
    /// A byte skipped between segments: not the end, not alphanumeric, not `~` or `^`.
    @inline(__always) static func isSeparator(_ c: UInt8) -> Bool { c != 0 && !isAlnum(c) && c != tilde && c != caret }

    /// `strcmp` of two byte ranges (no NUL inside them): -1, 0 or 1.
    @inline(__always)
    static func compareBytes(_ a: UnsafeBufferPointer<UInt8>, _ s1: Int, _ e1: Int,
                             _ b: UnsafeBufferPointer<UInt8>, _ s2: Int, _ e2: Int) -> Int {
        var i = s1, j = s2
        while i < e1 && j < e2 {
            if a[i] != b[j] { return a[i] < b[j] ? -1 : 1 }
            i += 1; j += 1
        }
        let r1 = e1 - i, r2 = e2 - j
        return r1 == r2 ? 0 : (r1 > r2 ? 1 : -1)
    }

    @inline(__always)
    static func memcmpEqual(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        for i in 0..<a.count where a[i] != b[i] { return false }
        return true
    }
}

/// An RPM `[epoch:]version[-release]`, ordered exactly like rpm's `labelCompare`.
///
/// Equality means "compares equal" (`1.0-1` == `1.00-1`), and hashing follows that equivalence.
public struct RPMEVR: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The EPOCH, when given; a missing epoch compares as 0.
    public var epoch: Int?
    /// The VERSION.
    public var version: String
    /// The RELEASE, when given; a missing release sorts before any present one.
    public var release: String?

    /// Makes an EVR from its parts.
    public init(epoch: Int? = nil, version: String, release: String? = nil) {
        self.epoch = epoch
        self.version = version
        self.release = release
    }

    /// Parses `[E:]V[-R]` like rpm's `parseEVR`: the epoch is the leading digits before a `:`
    /// (empty means 0), the release follows the last `-`.
    ///
    /// An epoch too large for `Int` saturates at `Int.max`.
    public init(parsing text: String) {
        let bytes = Array(text.utf8)
        var s = 0
        while s < bytes.count && RPMVersion.isDigit(bytes[s]) { s += 1 }
        var versionStart = 0
        var epoch: Int?
        if s < bytes.count && bytes[s] == UInt8(ascii: ":") {
            var value = 0
            for c in bytes[0..<s] {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (r, o2) = m.addingReportingOverflow(Int(c &- 0x30))
                if o1 || o2 { value = Int.max; break }
                value = r
            }
            epoch = value
            versionStart = s + 1
        }
        var dash: Int?
        var i = bytes.count - 1
        while i >= max(versionStart, s) {
            if bytes[i] == UInt8(ascii: "-") { dash = i; break }
            i -= 1
        }
        self.epoch = epoch
        if let dash {
            version = String(decoding: bytes[versionStart..<dash], as: UTF8.self)
            release = String(decoding: bytes[(dash + 1)...], as: UTF8.self)
        } else {
            version = String(decoding: bytes[versionStart...], as: UTF8.self)
            release = nil
        }
    }

    /// The canonical text `[E:]V[-R]`, as `rpm -q --qf '%{EVR}'` shows it.
    public var description: String {
        var out = ""
        if let epoch { out += "\(epoch):" }
        out += version
        if let release { out += "-" + release }
        return out
    }

    public static func < (lhs: RPMEVR, rhs: RPMEVR) -> Bool { RPMVersion.labelCompare(lhs, rhs) < 0 }
    public static func == (lhs: RPMEVR, rhs: RPMEVR) -> Bool { RPMVersion.labelCompare(lhs, rhs) == 0 }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(epoch ?? 0)
        RPMVersion.hashSegments(version, into: &hasher)
        if let release {
            hasher.combine(1 as UInt8)
            RPMVersion.hashSegments(release, into: &hasher)
        } else {
            hasher.combine(0 as UInt8)
        }
    }
}

extension RPMVersion {
    /// Feeds the segments that `vercmp` compares into `hasher`, so that strings comparing equal hash equal:
    /// separators dropped, leading zeros of numbers dropped, `~` and `^` kept.
    static func hashSegments(_ text: String, into hasher: inout Hasher) {
        var text = text
        text.withUTF8 { p in
            var i = 0
            let n = p.firstIndex(of: 0) ?? p.count
            while i < n {
                let c = p[i]
                if c == tilde || c == caret {
                    hasher.combine(c); i += 1
                } else if isDigit(c) {
                    while i < n && p[i] == zero { i += 1 }
                    hasher.combine(UInt8(ascii: "#"))
                    while i < n && isDigit(p[i]) { hasher.combine(p[i]); i += 1 }
                } else if isAlpha(c) {
                    hasher.combine(UInt8(ascii: "a"))
                    while i < n && isAlpha(p[i]) { hasher.combine(p[i]); i += 1 }
                } else {
                    i += 1
                }
            }
            hasher.combine(UInt8(ascii: "$"))
        }
    }
}
