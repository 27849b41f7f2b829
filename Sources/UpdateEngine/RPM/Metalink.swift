/// A MirrorManager metalink (`metalink=` in a `.repo` file): mirrors of `repomd.xml` and its digests.
public struct Metalink: Sendable, Hashable {
    public struct Mirror: Sendable, Hashable {
        /// The URL of repomd.xml on this mirror.
        public var url: String
        /// `http`, `https`, `rsync`, `ftp`.
        public var `protocol`: String?
        public var preference: Int
        /// The repository's base URL (the URL without `repodata/repomd.xml`).
        public var baseURL: String? {
            let suffix = "/repodata/repomd.xml"
            guard url.hasSuffix(suffix) else { return nil }
            return String(url.dropLast(suffix.count))
        }
    }

    /// The accepted digests of repomd.xml: the current one and the `mm0:alternates` (librepo accepts any).
    public var hashes: [RepoChecksum]
    public var size: Int?
    public var timestamp: Int?
    /// Mirrors, most preferred first (document order among equals).
    public var mirrors: [Mirror]

    /// Parses metalink XML. Only the `<file name="repomd.xml">` entry counts.
    public static func parse(_ bytes: [UInt8], source: String) throws(RepodataError) -> Metalink {
        let handler = MetalinkHandler()
        do {
            try XMLStreamReader.parse(bytes, source: source, handler: handler)
        } catch {
            throw RepodataError(.malformed, url: source, detail: "line \(error.line): \(error.detail)")
        }
        guard handler.sawRepomd else {
            throw RepodataError(.malformed, url: source, detail: "is not a metalink for repomd.xml (no <file name=\"repomd.xml\">)")
        }
        let mirrors = handler.mirrors.enumerated().sorted { a, b in
            a.element.preference != b.element.preference ? a.element.preference > b.element.preference : a.offset < b.offset
        }.map(\.element)
        return Metalink(hashes: handler.hashes, size: handler.size, timestamp: handler.timestamp, mirrors: mirrors)
    }
}

private final class MetalinkHandler: XMLEventHandler {
    var sawRepomd = false
    var inFile = false
    var inAlternate = false
    var hashes: [RepoChecksum] = []
    var size: Int?
    var timestamp: Int?
    var mirrors: [Metalink.Mirror] = []
    var hashType = ""
    var urlProtocol: String?
    var preference = 0
    var text = TextCapture()
    var failure: String? { nil }

    func startElement(_ name: XMLName, attributes: XMLAttributes) {
        if name.is("file") {
            inFile = attributes["name"] == "repomd.xml"
            sawRepomd = sawRepomd || inFile
            return
        }
        guard inFile else { return }
        if name.is("alternate") { inAlternate = true }
        if name.is("hash") { hashType = attributes["type"] ?? ""; text.begin() }
        else if name.is("url") {
            urlProtocol = attributes["protocol"] ?? attributes["type"]
            preference = attributes["preference"].flatMap { Int($0) } ?? 0
            text.begin()
        } else if (name.is("size") || name.is("timestamp")) && !inAlternate { text.begin() }
    }

    func endElement(_ name: XMLName) {
        if name.is("file") { inFile = false; return }
        if name.is("alternate") { inAlternate = false; return }
        guard inFile, text.active else { return }
        if name.is("hash") {
            let value = text.end()
            if !value.isEmpty { hashes.append(RepoChecksum(type: hashType == "sha" ? "sha1" : hashType, value: value)) }
        } else if name.is("url") {
            let url = text.end()
            if !url.isEmpty { mirrors.append(Metalink.Mirror(url: url, protocol: urlProtocol, preference: preference)) }
        } else if name.is("size") { size = Int(text.end()) }
        else if name.is("timestamp") { timestamp = Int(text.end()) }
    }

    func characters(_ bytes: UnsafeBufferPointer<UInt8>) { text.append(bytes) }
}

/// A mirrorlist (`mirrorlist=` in a `.repo` file): one base URL per line, `#` comments.
public enum Mirrorlist {
    /// The base URLs, in order. Lines that are not URLs are skipped, as librepo does; `$var`s in them
    /// are substituted with `variables`.
    public static func parse(_ bytes: [UInt8], variables: [String: String] = [:]) -> [String] {
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0 == "\n" || $0 == "\r" }).compactMap { raw in
            let line = raw.trimmingSpaces()
            guard !line.isEmpty, !line.hasPrefix("#"), line.contains("://") else { return nil }
            return DnfVariables.substitute(line, variables)
        }
    }
}
