/// One package a repository offers, as `primary.xml` describes it.
public struct RepoPackage: Sendable, Hashable {
    public var name: String
    public var arch: String
    /// Epoch, version and release (`<version epoch= ver= rel=/>`); epoch nil when 0.
    public var evr: RPMEVR
    /// `location href`, relative to the repository's base URL.
    public var location: String
    /// `rpm:sourcerpm` (`bash-5.1.8-6.el9.src.rpm`), nil for source packages.
    public var sourceRPM: String?
    /// The names of the capabilities it provides (`rpm:provides/rpm:entry name`).
    public var provides: [String]

    public init(name: String, arch: String, evr: RPMEVR, location: String = "", sourceRPM: String? = nil, provides: [String] = []) {
        self.name = name
        self.arch = arch
        self.evr = evr
        self.location = location
        self.sourceRPM = sourceRPM
        self.provides = provides
    }

    /// `name-[epoch:]version-release.arch`, as dnf prints it.
    public var nevra: String { "\(name)-\(evr.description).\(arch)" }
}

/// Reads `primary.xml` (the package list of an rpm-md repository) as it streams out of its compression.
public enum PrimaryXML {
    /// The largest decompressed primary.xml read (CentOS Stream 9 AppStream's is 52 MB).
    public static let defaultLimit = 2 << 30

    /// Parses a primary.xml, compressed (`.gz`, `.xz`, `.zst`, `.bz2`, detected from the bytes) or not.
    /// `source` (its URL) names it in errors. Untrusted input: bounded by `limit` decompressed bytes.
    public static func parse(_ bytes: [UInt8], source: String, limit: Int = defaultLimit) throws(RepodataError) -> [RepoPackage] {
        let handler = PrimaryHandler()
        try XMLStreamReader.parse(compressed: bytes, source: source, limit: limit, handler: handler)
        guard handler.sawRoot else { throw RepodataError(.malformed, url: source, detail: "is not a primary.xml (no <metadata> element)") }
        return handler.packages
    }
}

private final class PrimaryHandler: XMLEventHandler {
    var sawRoot = false
    var packages: [RepoPackage] = []
    var failure: String?

    // The package being read.
    var inPackage = false
    var isRPM = true
    var name = ""
    var arch = ""
    var evr = RPMEVR(epoch: nil, version: "", release: nil)
    var location = ""
    var sourceRPM: String?
    var provides: [String] = []
    var inProvides = false
    var text = TextCapture()
    /// Arch strings repeat: share one String per spelling.
    var archs: [String: String] = [:]

    func startElement(_ name: XMLName, attributes: XMLAttributes) {
        guard inPackage else {
            if name.is("package") {
                inPackage = true
                isRPM = (attributes["type"] ?? "rpm") == "rpm"
                self.name = ""; arch = ""; location = ""; sourceRPM = nil; provides = []
                evr = RPMEVR(epoch: nil, version: "", release: nil)
            } else if name.is("metadata") {
                sawRoot = true
                if let n = attributes["packages"].flatMap({ Int($0) }), n > 0 { packages.reserveCapacity(min(n, 1 << 20)) }
            }
            return
        }
        if inProvides {
            if name.is("entry"), let n = attributes["name"] { provides.append(n) }
            return
        }
        if name.is("name") || name.is("arch") || name.is("sourcerpm") {
            text.begin()
        } else if name.is("version") {
            let epoch = attributes["epoch"].flatMap { Int($0) }
            evr = RPMEVR(epoch: epoch == 0 ? nil : epoch, version: attributes["ver"] ?? "", release: attributes["rel"])
        } else if name.is("location") {
            location = attributes["href"] ?? ""
        } else if name.is("provides") {
            inProvides = true
        }
    }

    func endElement(_ name: XMLName) {
        guard inPackage else { return }
        if inProvides {
            if name.is("provides") { inProvides = false }
            return
        }
        if text.active {
            if name.is("name") { self.name = text.end() }
            else if name.is("arch") {
                let a = text.end()
                if let shared = archs[a] { arch = shared } else { archs[a] = a; arch = a }
            } else if name.is("sourcerpm") {
                let s = text.end()
                sourceRPM = s.isEmpty ? nil : s
            }
            return
        }
        if name.is("package") {
            inPackage = false
            guard isRPM else { return }
            if self.name.isEmpty || arch.isEmpty || evr.version.isEmpty {
                failure = "package \(packages.count + 1) (\(self.name.isEmpty ? "no name" : self.name)) lacks a name, arch or version"
                return
            }
            packages.append(RepoPackage(name: self.name, arch: arch, evr: evr, location: location, sourceRPM: sourceRPM, provides: provides))
        }
    }

    func characters(_ bytes: UnsafeBufferPointer<UInt8>) { text.append(bytes) }
}
