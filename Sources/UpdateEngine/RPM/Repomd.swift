/// A digest as repository metadata states it: `<checksum type="sha256">…</checksum>`.
public struct RepoChecksum: Sendable, Hashable, Codable {
    /// `sha256`, `sha512`, `sha1`, `md5` (`sha` means sha1, as createrepo wrote it).
    public var type: String
    /// Lower-case hex.
    public var value: String
    public init(type: String, value: String) {
        self.type = type
        self.value = value.lowercased()
    }
}

/// `repodata/repomd.xml`: the index of a repository's metadata files.
public struct Repomd: Sendable, Hashable {
    /// One `<data type="…">` entry.
    public struct Entry: Sendable, Hashable {
        /// `primary`, `updateinfo`, `modules`, `filelists`, `group`…
        public var type: String
        /// The digest of the file as stored (compressed).
        public var checksum: RepoChecksum?
        /// The digest of the decompressed file.
        public var openChecksum: RepoChecksum?
        /// `location href`, relative to the repository's base URL (`repodata/…-primary.xml.gz`).
        public var location: String
        public var size: Int?
        public var openSize: Int?
        public var timestamp: Int?
    }

    public var revision: String?
    public var entries: [Entry]

    /// The entry of `type`, or nil.
    public func entry(_ type: String) -> Entry? { entries.first { $0.type == type } }

    /// Parses repomd.xml. `source` (its URL) names it in errors.
    public static func parse(_ bytes: [UInt8], source: String) throws(RepodataError) -> Repomd {
        let handler = RepomdHandler()
        do {
            try XMLStreamReader.parse(bytes, source: source, handler: handler)
        } catch {
            throw RepodataError(.malformed, url: source, detail: "line \(error.line): \(error.detail)")
        }
        guard handler.sawRoot else { throw RepodataError(.malformed, url: source, detail: "is not a repomd.xml (no <repomd> element)") }
        if let bad = handler.entries.first(where: { $0.location.isEmpty }) {
            throw RepodataError(.malformed, url: source, detail: "the <data type=\"\(bad.type)\"> entry has no location")
        }
        return Repomd(revision: handler.revision, entries: handler.entries)
    }
}

private final class RepomdHandler: XMLEventHandler {
    var sawRoot = false
    var revision: String?
    var entries: [Repomd.Entry] = []
    var current: Repomd.Entry?
    var checksumType: String?
    var text = TextCapture()
    var failure: String? { nil }

    func startElement(_ name: XMLName, attributes: XMLAttributes) {
        if name.is("repomd") { sawRoot = true; return }
        if name.is("data") {
            current = Repomd.Entry(type: attributes["type"] ?? "", location: "")
            return
        }
        guard current != nil else {
            if name.is("revision") { text.begin() }
            return
        }
        if name.is("location") { current?.location = attributes["href"] ?? ""; return }
        if name.is("checksum") || name.is("open-checksum") { checksumType = attributes["type"] ?? "sha256" }
        if name.is("checksum") || name.is("open-checksum") || name.is("size") || name.is("open-size") || name.is("timestamp") {
            text.begin()
        }
    }

    func endElement(_ name: XMLName) {
        if name.is("revision") && current == nil && text.active { revision = text.end(); return }
        guard let entry = current else { return }
        if name.is("data") { entries.append(entry); current = nil; return }
        guard text.active else { return }
        if name.is("checksum") { current?.checksum = RepoChecksum(type: checksumType ?? "sha256", value: text.end()) }
        else if name.is("open-checksum") { current?.openChecksum = RepoChecksum(type: checksumType ?? "sha256", value: text.end()) }
        else if name.is("size") { current?.size = Int(text.end()) }
        else if name.is("open-size") { current?.openSize = Int(text.end()) }
        else if name.is("timestamp") { current?.timestamp = Int(text.end()) }
    }

    func characters(_ bytes: UnsafeBufferPointer<UInt8>) { text.append(bytes) }
}

extension RepoChecksum {
    /// Checks `bytes` against this digest. Only SHA-256 is computed (createrepo's default since 2010);
    /// another type is reported as unverifiable rather than silently accepted.
    public func verify(_ bytes: [UInt8], url: String) throws(RepodataError) {
        guard type == "sha256" else {
            throw RepodataError(.checksumMismatch, url: url, detail: "has a \(type) checksum, which imgsec does not verify (only sha256)")
        }
        let actual = SHA256Hasher.hex(of: bytes)
        guard actual == value else {
            throw RepodataError(.checksumMismatch, url: url, detail: "has SHA-256 \(actual), but the metadata says \(value)")
        }
    }
}
