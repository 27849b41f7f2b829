/// One advisory of a repository's `updateinfo.xml` (RHSA/ALAS/FEDORA-…).
public struct Advisory: Sendable, Hashable {
    /// A reference to a CVE, a bug or a web page.
    public struct Reference: Sendable, Hashable {
        /// `cve`, `bugzilla`, `self`…
        public var type: String
        public var id: String?
        public var href: String?
        public var title: String?
    }

    /// A package the advisory ships (the fixed version).
    public struct Package: Sendable, Hashable {
        public var name: String
        public var arch: String
        public var evr: RPMEVR
        /// The (first) module (`name:stream`) of its collection, when the collection names one.
        public var module: String?
    }

    public var id: String
    /// `security`, `bugfix`, `enhancement`, `newpackage` (as written, lower-cased).
    public var type: String
    /// `Critical`, `Important`, `Moderate`, `Low` as written (case preserved), nil when absent or `None`.
    public var severity: String?
    public var title: String?
    /// `issued date`, as written (`2018-02-07 18:49`).
    public var issued: String?
    public var updated: String?
    public var status: String?
    public var references: [Reference]
    public var packages: [Package]

    /// The CVE ids it references (`type="cve"`), in document order, without duplicates.
    public var cves: [String] {
        var seen = Set<String>()
        return references.filter { $0.type == "cve" }.compactMap { r in
            let id = r.id ?? r.title ?? ""
            return id.isEmpty || !seen.insert(id).inserted ? nil : id
        }
    }
}

/// Reads `updateinfo.xml` (compressed or not).
public enum UpdateInfo {
    public static func parse(_ bytes: [UInt8], source: String, limit: Int = 1 << 30) throws(RepodataError) -> [Advisory] {
        let handler = UpdateInfoHandler()
        try XMLStreamReader.parse(compressed: bytes, source: source, limit: limit, handler: handler)
        guard handler.sawRoot else { throw RepodataError(.malformed, url: source, detail: "is not an updateinfo.xml (no <updates> element)") }
        return handler.advisories
    }
}

private final class UpdateInfoHandler: XMLEventHandler {
    var sawRoot = false
    var advisories: [Advisory] = []
    var current: Advisory?
    var module: String?
    var depth = 0
    var text = TextCapture()
    var failure: String?

    func startElement(_ name: XMLName, attributes: XMLAttributes) {
        if name.is("updates") { sawRoot = true; return }
        if name.is("update") {
            current = Advisory(id: "", type: (attributes["type"] ?? "").lowercased(), severity: nil, title: nil,
                               issued: nil, updated: nil, status: attributes["status"], references: [], packages: [])
            return
        }
        guard current != nil else { return }
        if name.is("id") || name.is("title") || name.is("severity") {
            text.begin()
        } else if name.is("issued") {
            current?.issued = attributes["date"]
        } else if name.is("updated") {
            current?.updated = attributes["date"]
        } else if name.is("reference") {
            current?.references.append(Advisory.Reference(type: (attributes["type"] ?? "").lowercased(), id: attributes["id"],
                                                          href: attributes["href"], title: attributes["title"]))
        } else if name.is("collection") {
            module = nil
        } else if name.is("module") {
            if module == nil, let n = attributes["name"], let s = attributes["stream"] { module = "\(n):\(s)" }
        } else if name.is("package"), let n = attributes["name"], let v = attributes["version"] {
            let epoch = attributes["epoch"].flatMap { Int($0) }
            current?.packages.append(Advisory.Package(
                name: n, arch: attributes["arch"] ?? "",
                evr: RPMEVR(epoch: epoch == 0 ? nil : epoch, version: v, release: attributes["release"]), module: module))
        }
    }

    func endElement(_ name: XMLName) {
        guard let advisory = current else { return }
        if name.is("update") {
            if advisory.id.isEmpty {
                failure = "advisory \(advisories.count + 1) has no <id>"
                return
            }
            advisories.append(advisory)
            current = nil
            return
        }
        guard text.active else { return }
        if name.is("id") { current?.id = text.end() }
        else if name.is("title") { current?.title = text.end() }
        else if name.is("severity") {
            let s = text.end()
            current?.severity = s.isEmpty || s.lowercased() == "none" ? nil : s
        }
    }

    func characters(_ bytes: UnsafeBufferPointer<UInt8>) { text.append(bytes) }
}
