import Foundation

/// A repository's `Release` file (the text of `InRelease` inside its signature, or a plain `Release`).
///
/// Only what apt's policy and index fetching use is kept: the identity fields that preferences match
/// (`o=`, `l=`, `a=`, `n=`, `v=`), the automatic-upgrade flags, the dates, and the SHA256 file list.
public struct AptRelease: Sendable, Hashable {
    /// One line of the `SHA256:` list.
    public struct FileEntry: Sendable, Hashable {
        public var sha256: String
        public var size: Int
    }

    public var origin: String?
    public var label: String?
    /// `Suite:` (apt calls it the archive, `a=`).
    public var suite: String?
    /// `Codename:` (`n=`).
    public var codename: String?
    /// `Version:` (`v=`).
    public var version: String?
    public var date: Date?
    public var validUntil: Date?
    /// `NotAutomatic: yes`: versions get priority 1 (100 with ``butAutomaticUpgrades``).
    public var notAutomatic: Bool
    public var butAutomaticUpgrades: Bool
    public var acquireByHash: Bool
    public var architectures: [String]
    public var components: [String]
    /// `No-Support-for-Architecture-all: Packages`: `all` packages are in every `binary-ARCH` index.
    public var noSupportForArchitectureAll: Bool
    /// The `SHA256:` list, by path relative to the Release file's directory.
    public var sha256: [String: FileEntry]

    public init(origin: String? = nil, label: String? = nil, suite: String? = nil, codename: String? = nil,
                version: String? = nil, date: Date? = nil, validUntil: Date? = nil, notAutomatic: Bool = false,
                butAutomaticUpgrades: Bool = false, acquireByHash: Bool = false, architectures: [String] = [],
                components: [String] = [], noSupportForArchitectureAll: Bool = false, sha256: [String: FileEntry] = [:]) {
        self.origin = origin
        self.label = label
        self.suite = suite
        self.codename = codename
        self.version = version
        self.date = date
        self.validUntil = validUntil
        self.notAutomatic = notAutomatic
        self.butAutomaticUpgrades = butAutomaticUpgrades
        self.acquireByHash = acquireByHash
        self.architectures = architectures
        self.components = components
        self.noSupportForArchitectureAll = noSupportForArchitectureAll
        self.sha256 = sha256
    }

    /// Parses the (already unsigned) text of a Release file. `source` names it in errors.
    public static func parse(_ bytes: [UInt8], source: String) throws(AptRepositoryError) -> AptRelease {
        let paragraph: Deb822Paragraph?
        do {
            var reader = Deb822Reader(bytes: bytes)
            paragraph = try reader.next()
        } catch {
            throw AptRepositoryError(.malformedRelease, url: source, line: error.line, detail: error.description)
        }
        guard let p = paragraph else {
            throw AptRepositoryError(.malformedRelease, url: source, line: 0, detail: "the Release file is empty")
        }
        func words(_ name: String) -> [String] {
            (p[name] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        }
        func yes(_ name: String) -> Bool { p[name].map { $0.lowercased() == "yes" } ?? false }
        func date(_ name: String) throws(AptRepositoryError) -> Date? {
            guard let f = p.field(name) else { return nil }
            guard let d = Self.parseDate(f.value) else {
                throw AptRepositoryError(.malformedRelease, url: source, line: f.line, detail: "'\(name): \(f.value)' is not a date")
            }
            return d
        }
        var out = AptRelease(
            origin: p["Origin"], label: p["Label"], suite: p["Suite"], codename: p["Codename"], version: p["Version"],
            notAutomatic: yes("NotAutomatic"), butAutomaticUpgrades: yes("ButAutomaticUpgrades"),
            acquireByHash: yes("Acquire-By-Hash"), architectures: words("Architectures"), components: words("Components"),
            noSupportForArchitectureAll: words("No-Support-for-Architecture-all").contains("Packages"))
        out.date = try date("Date")
        out.validUntil = try date("Valid-Until")
        if let f = p.field("SHA256") {
            for (offset, line) in f.continuationLines.enumerated() {
                let parts = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard parts.count == 3, parts[0].utf8.count == 64, let size = Int(parts[1]), size >= 0 else {
                    if parts.isEmpty { continue }
                    throw AptRepositoryError(.malformedRelease, url: source, line: f.line + offset + 1,
                                             detail: "SHA256 line '\(line)' is not 'HASH SIZE PATH'")
                }
                out.sha256[String(parts[2])] = FileEntry(sha256: parts[0].lowercased(), size: size)
            }
        }
        return out
    }

    /// Parses an RFC 2822 date as apt writes it (`Thu, 26 Nov 2026 02:14:46 UTC`); numeric zones too.
    public static func parseDate(_ text: String) -> Date? {
        var words = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        if let first = words.first, first.hasSuffix(",") || Int(first) == nil { words.removeFirst() }
        guard words.count >= 4, let day = Int(words[0]), let year = Int(words[2]) else { return nil }
        let months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
        guard let monthIndex = months.firstIndex(of: words[1].lowercased().prefix(3).description) else { return nil }
        let hms = words[3].split(separator: ":").map { Int($0) }
        guard hms.count == 3, let h = hms[0], let m = hms[1], let s = hms[2],
              (1...31).contains(day), (0...23).contains(h), (0...59).contains(m), (0...60).contains(s) else { return nil }
        // RFC 2822 years have four digits. Bounding the year keeps the day arithmetic below far from overflow:
        // a Release saying `Date: … 99999999 …` is not a date (the caller reports the line), never a trap.
        guard (1...9999).contains(year) else { return nil }
        var offset = 0
        if words.count >= 5 {
            let zone = words[4]
            if zone == "UTC" || zone == "GMT" || zone == "Z" {
                offset = 0
            } else if let sign = zone.first, sign == "+" || sign == "-", zone.count == 5,
                      zone.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }), let n = Int(zone.dropFirst()),
                      n % 100 < 60 {
                offset = (n / 100 * 3600 + n % 100 * 60) * (sign == "-" ? -1 : 1)
            } else {
                return nil
            }
        }
        // Days from civil (Howard Hinnant's algorithm).
        let month = monthIndex + 1
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        return Date(timeIntervalSince1970: TimeInterval(days * 86400 + h * 3600 + m * 60 + s - offset))
    }
}

/// Splits an OpenPGP clearsigned message (`InRelease`) into its signed text.
public enum ClearSigned {
    /// The text the signature covers, with dash-escaping undone, or nil when `bytes` is not exactly one
    /// clearsigned message (apt likewise refuses anything before, between or after).
    public static func signedText(_ bytes: [UInt8]) -> [UInt8]? {
        let lines = split(bytes)
        var i = 0
        while i < lines.count && isBlank(lines[i]) { i += 1 }
        guard i < lines.count, text(lines[i]) == "-----BEGIN PGP SIGNED MESSAGE-----" else { return nil }
        i += 1
        // Armor headers ("Hash: SHA256") up to the first empty line.
        while i < lines.count && !lines[i].isEmpty {
            guard text(lines[i]).hasPrefix("Hash: ") else { return nil }
            i += 1
        }
        guard i < lines.count else { return nil }
        i += 1
        var body: [ArraySlice<UInt8>] = []
        while i < lines.count && text(lines[i]) != "-----BEGIN PGP SIGNATURE-----" {
            var line = lines[i]
            if line.starts(with: Array("- ".utf8)) { line = line.dropFirst(2) }
            else if line.first == UInt8(ascii: "-") { return nil }
            body.append(line)
            i += 1
        }
        guard i < lines.count else { return nil }
        while i < lines.count && text(lines[i]) != "-----END PGP SIGNATURE-----" { i += 1 }
        guard i < lines.count else { return nil }
        i += 1
        guard lines[i...].allSatisfy(isBlank) else { return nil }
        var out: [UInt8] = []
        for (n, line) in body.enumerated() {
            out += line
            if n + 1 < body.count { out.append(UInt8(ascii: "\n")) }
        }
        out.append(UInt8(ascii: "\n"))
        return out
    }

    /// Whether the bytes look like a clearsigned message at all.
    public static func isClearSigned(_ bytes: [UInt8]) -> Bool {
        let head = bytes.drop { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
        return head.starts(with: Array("-----BEGIN PGP SIGNED MESSAGE-----".utf8))
    }

    private static func split(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { line in
            var l = line
            while let last = l.last, last == 0x0D || last == 0x20 || last == 0x09 { l = l.dropLast() }
            return l
        }
    }

    private static func isBlank(_ line: ArraySlice<UInt8>) -> Bool { line.isEmpty }
    private static func text(_ line: ArraySlice<UInt8>) -> String { String(decoding: line, as: UTF8.self) }
}
