/// One `<disk>` of a libvirt domain, as its XML describes it (https://libvirt.org/formatdomain.html#hard-drives-floppy-disks-cdroms).
public struct DomainDisk: Sendable, Hashable {
    /// `file`, `block`, `volume`, `network`, `dir`, `nvme`, `vhostuser`.
    public var type: String
    /// `disk`, `cdrom`, `floppy`, `lun`.
    public var device: String
    /// The host path of a `file` (`source file=`) or `block` (`source dev=`) disk; nil for the other types.
    public var path: String?
    /// `pool/volume` of a `volume` disk, the protocol and name of a `network` one: what names it otherwise.
    public var sourceName: String?
    /// `driver type=`: raw, qcow2, …
    public var format: String?
    /// `target dev=`: vda, sdb, …
    public var target: String?
    public var readOnly: Bool

    public init(type: String, device: String, path: String?, sourceName: String?, format: String?, target: String?, readOnly: Bool) {
        self.type = type
        self.device = device
        self.path = path
        self.sourceName = sourceName
        self.format = format
        self.target = target
        self.readOnly = readOnly
    }
}

/// A libvirt storage volume's XML (https://libvirt.org/formatstorage.html#storage-volume-xml).
public struct VolumeDescription: Sendable, Hashable {
    /// `file`, `block`, `dir`, `network`, `netdir`, `ploop`.
    public var type: String
    public var path: String?
    /// `target/format type=`: raw, qcow2, iso, dir, …
    public var format: String?

    public init(type: String, path: String?, format: String?) {
        self.type = type
        self.path = path
        self.format = format
    }
}

/// Reads the parts of libvirt's XML that imgsec uses. The XML comes from libvirt (a hook's stdin, a volume's
/// description); it is still parsed as untrusted input (no DTD, no entities).
public enum LibvirtXML {
    /// A domain's name and disks, in document order.
    public static func domain(_ bytes: [UInt8], source: String) throws(XMLReadError) -> (name: String?, disks: [DomainDisk]) {
        let handler = DomainHandler()
        try XMLStreamReader.parse(bytes, source: source, handler: handler)
        guard handler.sawRoot else { throw XMLReadError(source: source, line: 1, detail: "is not a libvirt domain (no <domain> element)") }
        return (handler.name, handler.disks)
    }

    public static func volume(_ bytes: [UInt8], source: String) throws(XMLReadError) -> VolumeDescription {
        let handler = VolumeHandler()
        try XMLStreamReader.parse(bytes, source: source, handler: handler)
        guard handler.sawRoot else { throw XMLReadError(source: source, line: 1, detail: "is not a libvirt volume (no <volume> element)") }
        return VolumeDescription(type: handler.type ?? "file", path: handler.path, format: handler.format)
    }
}

private final class DomainHandler: XMLEventHandler {
    var sawRoot = false
    var path: [String] = []
    var name: String?
    var disks: [DomainDisk] = []
    var disk: DomainDisk?
    var text = TextCapture()
    var failure: String? { nil }

    func startElement(_ name: XMLName, attributes: XMLAttributes) {
        let element = name.string
        path.append(element)
        if path.count == 1 { sawRoot = element == "domain"; return }
        guard sawRoot else { return }
        if path == ["domain", "name"] { text.begin(); return }
        if path == ["domain", "devices", "disk"] {
            disk = DomainDisk(type: attributes["type"] ?? "file", device: attributes["device"] ?? "disk", path: nil, sourceName: nil,
                              format: nil, target: nil, readOnly: false)
            return
        }
        guard path.count == 4, path[2] == "disk", disk != nil else { return }
        switch element {
        case "source":
            switch disk?.type {
            case "file": disk?.path = attributes["file"]
            case "block": disk?.path = attributes["dev"]
            case "volume": disk?.sourceName = [attributes["pool"], attributes["volume"]].compactMap { $0 }.joined(separator: "/")
            case "network": disk?.sourceName = [attributes["protocol"], attributes["name"]].compactMap { $0 }.joined(separator: ":")
            case "dir": disk?.path = attributes["dir"]
            default: break
            }
        case "driver": disk?.format = attributes["type"]
        case "target": disk?.target = attributes["dev"]
        case "readonly": disk?.readOnly = true
        default: break
        }
    }

    func endElement(_ name: XMLName) {
        if path == ["domain", "name"], text.active { self.name = text.end() }
        if path == ["domain", "devices", "disk"], let disk { disks.append(disk); self.disk = nil }
        path.removeLast()
    }

    func characters(_ text: UnsafeBufferPointer<UInt8>) { self.text.append(text) }
}

private final class VolumeHandler: XMLEventHandler {
    var sawRoot = false
    var stack: [String] = []
    var type: String?
    var path: String?
    var format: String?
    var text = TextCapture()
    var failure: String? { nil }

    func startElement(_ name: XMLName, attributes: XMLAttributes) {
        stack.append(name.string)
        if stack.count == 1 {
            sawRoot = stack[0] == "volume"
            type = attributes["type"]
            return
        }
        if stack == ["volume", "target", "path"] { text.begin() }
        if stack == ["volume", "target", "format"] { format = attributes["type"] }
    }

    func endElement(_ name: XMLName) {
        if stack == ["volume", "target", "path"], text.active { path = text.end() }
        stack.removeLast()
    }

    func characters(_ text: UnsafeBufferPointer<UInt8>) { self.text.append(text) }
}
