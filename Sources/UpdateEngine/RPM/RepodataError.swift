/// Why a yum/dnf repository (or one of its metadata files) could not be used. Names the URL.
public struct RepodataError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable, Codable {
        /// The file could not be fetched (network, I/O).
        case fetch
        /// The file does not exist at its URL.
        case notFound
        /// The file's SHA-256 (or other digest) is not the one repomd.xml or the metalink names.
        case checksumMismatch
        /// The file is not well-formed XML/YAML or lacks a required part.
        case malformed
        /// The file's compression is damaged or its output exceeds the limit.
        case decompression
        /// No base URL: no `baseurl`, and the metalink/mirrorlist gave no usable mirror.
        case noMirror
        /// repomd.xml has no `primary` entry.
        case missingMetadata
        /// A URL imgsec does not fetch: a path on this host named by the guest, a scheme other than http(s).
        case refusedURL
    }

    public var code: Code
    /// The URL (or file) the problem is about.
    public var url: String
    public var detail: String

    public init(_ code: Code, url: String, detail: String) {
        self.code = code
        self.url = url
        self.detail = detail
    }

    public var description: String { "\(url): \(detail)." }
}
