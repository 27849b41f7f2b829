#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One `Name: value` field of a deb822 paragraph.
public struct Deb822Field: Sendable, Hashable {
    /// The field name as written (compare case-insensitively: see ``Deb822Paragraph/subscript(_:)``).
    public var name: String
    /// The value: the first line's text trimmed, then each continuation line after a `\n`, as written
    /// (with its leading blank) but without trailing blanks. Invalid UTF-8 is replaced with U+FFFD.
    public var value: String
    /// 1-based line number of the field's first line.
    public var line: Int

    public init(name: String, value: String, line: Int) {
        self.name = name
        self.value = value
        self.line = line
    }

    /// The continuation lines with their single leading blank removed (for multi-line fields such as
    /// `Signed-By` or `Description`); a lone `.` stands for an empty line.
    public var continuationLines: [Substring] {
        value.split(separator: "\n", omittingEmptySubsequences: false).dropFirst().map { line in
            let l = line.first == " " || line.first == "\t" ? line.dropFirst() : line
            return l == "." ? Substring("") : l
        }
    }

    /// The first line of the value.
    public var firstLine: Substring {
        value.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
    }
}

/// One deb822 paragraph (stanza): fields in file order.
public struct Deb822Paragraph: Sendable, Hashable {
    public var fields: [Deb822Field]
    /// 1-based line number of the paragraph's first field.
    public var line: Int

    public init(fields: [Deb822Field], line: Int) {
        self.fields = fields
        self.line = line
    }

    /// The first field with this name, compared ASCII case-insensitively.
    public func field(_ name: String) -> Deb822Field? {
        fields.first { Deb822.namesEqual($0.name, name) }
    }

    /// The value of the first field with this name, compared ASCII case-insensitively.
    public subscript(_ name: String) -> String? { field(name)?.value }
}

/// Why a deb822 text could not be parsed.
public struct Deb822Error: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Hashable {
        case missingColon, emptyFieldName, continuationWithoutField
    }

    public var code: Code
    /// 1-based line number.
    public var line: Int
    /// The offending text: the would-be field name, or the line (lossily decoded).
    public var text: String

    public init(_ code: Code, line: Int, text: String) {
        self.code = code
        self.line = line
        self.text = text
    }

    public var description: String {
        switch code {
        case .missingColon: "Line \(line): field name '\(text)' must be followed by a colon."
        case .emptyFieldName: "Line \(line): empty field name in '\(text)'."
        case .continuationWithoutField: "Line \(line): continuation line '\(text)' before any field."
        }
    }
}

/// A byte-level deb822 reader (dpkg status, Packages, Release, apt `.sources`): one paragraph at a time.
///
/// Paragraphs are separated by empty lines (a line of blanks continues the current field, as in
/// dpkg; between paragraphs such lines are skipped). Lines may end in CRLF. Field names are matched
/// case-insensitively. `#` comment lines are skipped only when `allowsComments` (apt `.sources` files
/// allow them; dpkg's status file does not). Reads untrusted bytes: never traps.
public struct Deb822Reader: Sendable {
    private let bytes: [UInt8]
    private var position = 0
    private var lineNumber = 0
    /// Whether lines starting with `#` are comments.
    public let allowsComments: Bool

    public init(bytes: [UInt8], allowsComments: Bool = false) {
        self.bytes = bytes
        self.allowsComments = allowsComments
    }

    /// Reads every paragraph.
    public static func paragraphs(_ bytes: [UInt8], allowsComments: Bool = false) throws(Deb822Error) -> [Deb822Paragraph] {
        var reader = Deb822Reader(bytes: bytes, allowsComments: allowsComments)
        var out: [Deb822Paragraph] = []
        while let p = try reader.next() { out.append(p) }
        return out
    }

    /// The next paragraph, or nil at the end.
    public mutating func next() throws(Deb822Error) -> Deb822Paragraph? {
        guard let raw = try nextRaw() else { return nil }
        return Deb822Paragraph(fields: raw.fields.map { Deb822Field(name: text($0.nameStart, $0.nameEnd), value: value(of: $0), line: $0.line) },
                               line: raw.line)
    }

    /// The next paragraph as byte ranges, or nil at the end: for a reader that needs a few fields of
    /// each paragraph (a dpkg status database), so that the others are never made into strings.
    /// Accepts and rejects exactly what ``next()`` does.
    public mutating func nextRaw() throws(Deb822Error) -> RawParagraph? {
        var fields: [RawField] = []
        var firstLine = 0
        while let (lineStart, lineEnd) = nextLine() {
            let contentEnd = trimmedEnd(lineStart, lineEnd)
            if contentEnd == lineStart {
                // Only an empty line ends a paragraph; a line of blanks inside one continues the field
                // (as dpkg reads it). Between paragraphs, blank lines are skipped.
                let isEmpty = lineEnd == lineStart || (lineEnd == lineStart + 1 && bytes[lineStart] == 0x0D)
                if fields.isEmpty { continue }
                if isEmpty { break }
                fields[fields.count - 1].end = position
                continue
            }
            let first = bytes[lineStart]
            if allowsComments && first == UInt8(ascii: "#") {
                if !fields.isEmpty { fields[fields.count - 1].hasComments = true }
                continue
            }
            if isBlank(first) {
                guard !fields.isEmpty else {
                    throw Deb822Error(.continuationWithoutField, line: lineNumber, text: text(lineStart, contentEnd))
                }
                fields[fields.count - 1].end = position
                continue
            }
            let colon = bytes.withUnsafeBufferPointer { b -> Int in
                guard let base = b.baseAddress, let hit = memchr(base + lineStart, 0x3A, contentEnd - lineStart) else { return contentEnd }
                return UnsafePointer(hit.assumingMemoryBound(to: UInt8.self)) - base
            }
            guard colon < contentEnd else {
                var nameEnd = lineStart
                while nameEnd < contentEnd && !isBlank(bytes[nameEnd]) { nameEnd += 1 }
                throw Deb822Error(.missingColon, line: lineNumber, text: text(lineStart, nameEnd))
            }
            let nameEnd = trimmedEnd(lineStart, colon)
            guard nameEnd > lineStart else {
                throw Deb822Error(.emptyFieldName, line: lineNumber, text: text(lineStart, contentEnd))
            }
            var valueStart = colon + 1
            while valueStart < contentEnd && isBlank(bytes[valueStart]) { valueStart += 1 }
            if fields.isEmpty { firstLine = lineNumber }
            fields.append(RawField(nameStart: lineStart, nameEnd: nameEnd, valueStart: valueStart, firstLineEnd: contentEnd,
                                   end: position, line: lineNumber))
        }
        return fields.isEmpty ? nil : RawParagraph(fields: fields, line: firstLine)
    }

    /// One field of a ``RawParagraph``: byte offsets into the reader's bytes.
    public struct RawField: Sendable {
        var nameStart: Int, nameEnd: Int
        /// The value's first line: `valueStart..<firstLineEnd`, blanks trimmed.
        var valueStart: Int, firstLineEnd: Int
        /// Where the field's last line (with its newline) ends.
        var end: Int
        /// Whether `#` comment lines sit among its continuation lines (they are not part of the value).
        var hasComments = false
        /// 1-based line number of the field's first line.
        public var line: Int
        /// Whether the value is one line.
        public var isSingleLine: Bool { end <= firstLineEnd + 2 }
    }

    /// A paragraph as byte ranges (see ``nextRaw()``).
    public struct RawParagraph: Sendable {
        public var fields: [RawField]
        /// 1-based line number of the paragraph's first field.
        public var line: Int
    }

    /// Whether the field's name is `name` (ASCII, compared case-insensitively).
    public func name(of field: RawField, is name: StaticString) -> Bool {
        guard field.nameEnd - field.nameStart == name.utf8CodeUnitCount else { return false }
        return name.withUTF8Buffer { wanted in
            var i = 0
            while i < wanted.count {
                guard Deb822.lower(bytes[field.nameStart + i]) == Deb822.lower(wanted[i]) else { return false }
                i += 1
            }
            return true
        }
    }

    /// Whether two fields have the same name, compared ASCII case-insensitively.
    public func sameName(_ a: RawField, _ b: RawField) -> Bool {
        let n = a.nameEnd - a.nameStart
        guard n == b.nameEnd - b.nameStart else { return false }
        for i in 0..<n where Deb822.lower(bytes[a.nameStart + i]) != Deb822.lower(bytes[b.nameStart + i]) { return false }
        return true
    }

    /// The field's name as written.
    public func name(of field: RawField) -> String { text(field.nameStart, field.nameEnd) }

    /// The field's value, exactly as ``Deb822Field/value`` holds it.
    public func value(of field: RawField) -> String {
        if field.isSingleLine && !field.hasComments { return text(field.valueStart, field.firstLineEnd) }
        var out = text(field.valueStart, field.firstLineEnd)
        var p = field.firstLineEnd
        while p < field.end && bytes[p] != UInt8(ascii: "\n") { p += 1 }
        p += 1
        while p < field.end {
            let start = p
            while p < field.end && bytes[p] != UInt8(ascii: "\n") { p += 1 }
            let contentEnd = trimmedEnd(start, p)
            p += 1
            if contentEnd == start {
                out += "\n"
            } else if !(allowsComments && bytes[start] == UInt8(ascii: "#")) {
                out += "\n" + text(start, contentEnd)
            }
        }
        return out
    }

    /// Advances over one line; returns its byte range without the newline.
    private mutating func nextLine() -> (Int, Int)? {
        guard position < bytes.count else { return nil }
        let start = position
        let end = bytes.withUnsafeBufferPointer { b -> Int in
            guard let base = b.baseAddress, let hit = memchr(base + start, 0x0A, b.count - start) else { return b.count }
            return UnsafePointer(hit.assumingMemoryBound(to: UInt8.self)) - base
        }
        position = end < bytes.count ? end + 1 : end
        lineNumber += 1
        return (start, end)
    }

    /// The end of `start..<end` without trailing blanks and a trailing carriage return.
    private func trimmedEnd(_ start: Int, _ end: Int) -> Int {
        var e = end
        while e > start && (isBlank(bytes[e - 1]) || bytes[e - 1] == 0x0D) { e -= 1 }
        return e
    }

    @inline(__always) private func isBlank(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 }

    private func text(_ start: Int, _ end: Int) -> String {
        String(decoding: bytes[start..<max(start, end)], as: UTF8.self)
    }
}

/// deb822 helpers.
public enum Deb822 {
    /// ASCII case-insensitive comparison of field names.
    public static func namesEqual(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { lower($0) == lower($1) }
    }

    @inline(__always) static func lower(_ c: UInt8) -> UInt8 { c &- 0x41 < 26 ? c | 0x20 : c }
}
