internal import CLibXML2

#if canImport(Glibc)
import Glibc
#endif

/// Why an XML document could not be read. Names the document and the line.
public struct XMLReadError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The document (a URL or a file name).
    public var source: String
    public var line: Int
    public var detail: String
    public init(source: String, line: Int, detail: String) {
        self.source = source
        self.line = line
        self.detail = detail
    }
    public var description: String { "\(source):\(line): \(detail)" }
}

/// An element or attribute name as libxml2 hands it over: a NUL-terminated UTF-8 local name
/// (namespace prefix dropped), valid only during the callback.
struct XMLName {
    let pointer: UnsafePointer<UInt8>

    /// True when the name is `literal` (compared byte for byte, no allocation).
    @inline(__always) func `is`(_ literal: StaticString) -> Bool {
        literal.withUTF8Buffer { lit in
            var i = 0
            while i < lit.count {
                if pointer[i] != lit[i] { return false }
                i += 1
            }
            return pointer[i] == 0
        }
    }

    var string: String { String(cString: pointer) }
}

/// The attributes of one start tag, valid only during the callback.
struct XMLAttributes {
    /// libxml2's SAX2 layout: five pointers per attribute (localname, prefix, URI, value, value end).
    let base: UnsafeMutablePointer<UnsafePointer<UInt8>?>?
    let count: Int

    /// The value of the attribute whose local name is `name`, or nil.
    subscript(_ name: StaticString) -> String? {
        guard let base else { return nil }
        for i in 0..<count {
            guard let local = base[5 * i], XMLName(pointer: local).is(name),
                  let start = base[5 * i + 3], let end = base[5 * i + 4] else { continue }
            return String(decoding: UnsafeBufferPointer(start: start, count: end - start), as: UTF8.self)
        }
        return nil
    }
}

/// What a streaming XML consumer implements. The parser calls it as it reads.
protocol XMLEventHandler: AnyObject {
    func startElement(_ name: XMLName, attributes: XMLAttributes)
    func endElement(_ name: XMLName)
    /// Character data (entities and character references already decoded); may come in pieces.
    func characters(_ text: UnsafeBufferPointer<UInt8>)
    /// A handler-detected problem (a record too large, a limit hit): stops the parse with this error.
    var failure: String? { get }
}

/// A streaming (SAX2 push) XML reader over libxml2: bytes go in by chunks, events come out.
///
/// Untrusted input: the parser never loads a DTD, never resolves or even declares entities (only
/// the five predefined ones and character references are decoded), never touches the network
/// (`XML_PARSE_NONET`), and keeps libxml2's size limits (no `XML_PARSE_HUGE`). So XXE and
/// "billion laughs" documents read as errors or as text without the entity, never as file contents.
/// The corresponding libxml2 calls are `xmlCreatePushParserCtxt` and `xmlParseChunk`.
final class XMLStreamReader {
    private let api: cxml_api
    private let ctxt: OpaquePointer
    private let source: String
    private let box: HandlerBox

    /// Keeps the handler reachable from the C callbacks.
    private final class HandlerBox {
        let handler: XMLEventHandler
        init(_ h: XMLEventHandler) { handler = h }
    }

    init(handler: XMLEventHandler, source: String) throws(XMLReadError) {
        self.source = source
        box = HandlerBox(handler)
        switch Self.library {
        case .success(let table): api = table
        case .failure(let reason): throw XMLReadError(source: source, line: 0, detail: reason.detail)
        }
        var sax = cxml_sax_handler()
        sax.initialized = CXML_SAX2_MAGIC  // use the namespace-aware callbacks
        sax.startElementNs = { ctx, localname, _, _, _, _, nbAttributes, _, attributes in
            guard let ctx, let localname else { return }
            let box = Unmanaged<HandlerBox>.fromOpaque(ctx).takeUnretainedValue()
            box.handler.startElement(XMLName(pointer: localname),
                                     attributes: XMLAttributes(base: attributes, count: Int(nbAttributes)))
        }
        sax.endElementNs = { ctx, localname, _, _ in
            guard let ctx, let localname else { return }
            Unmanaged<HandlerBox>.fromOpaque(ctx).takeUnretainedValue().handler.endElement(XMLName(pointer: localname))
        }
        sax.characters = { ctx, chars, len in
            guard let ctx, let chars, len > 0 else { return }
            Unmanaged<HandlerBox>.fromOpaque(ctx).takeUnretainedValue().handler
                .characters(UnsafeBufferPointer(start: chars, count: Int(len)))
        }
        sax.cdataBlock = sax.characters
        // Errors are collected from the context after each chunk, not printed.
        sax.serror = { _, _ in }
        sax.warning = nil
        sax.error = nil
        // No DTDs, no entity declarations, no entity resolution: nothing external is ever read.
        sax.internalSubset = nil
        sax.externalSubset = nil
        sax.entityDecl = nil
        sax.getEntity = nil
        sax.getParameterEntity = nil
        sax.resolveEntity = nil
        sax.reference = nil
        sax.unparsedEntityDecl = nil

        let userData = Unmanaged.passUnretained(box).toOpaque()
        guard let ctxt = api.CreatePushParserCtxt(&sax, userData, nil, 0, source) else {
            throw XMLReadError(source: source, line: 0, detail: "libxml2 cannot create a parser")
        }
        self.ctxt = ctxt
        _ = api.CtxtUseOptions(ctxt, CXML_PARSE_NONET | CXML_PARSE_NOCDATA | CXML_PARSE_NOERROR | CXML_PARSE_NOWARNING)
    }

    deinit {
        api.FreeParserCtxt(ctxt)
    }

    private struct LoadFailure: Error { var detail: String }

    /// libxml2's entry points, looked up once per process on the first document.
    /// Immutable once initialised: a table of function addresses, safe to read from any thread.
    private static let library = Result { () throws(LoadFailure) -> cxml_api in
        let name = "libxml2.so.2"
        guard let library = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            throw LoadFailure(detail: "cannot load \(name) (\(reason)); install libxml2 (scripts/setup.sh does)")
        }
        func entry<F>(_ symbol: String) throws(LoadFailure) -> F {
            guard let address = dlsym(library, symbol) else { throw LoadFailure(detail: "\(name) has no \(symbol)") }
            return unsafeBitCast(address, to: F.self)
        }
        return cxml_api(CreatePushParserCtxt: try entry("xmlCreatePushParserCtxt"), CtxtUseOptions: try entry("xmlCtxtUseOptions"),
                        FreeParserCtxt: try entry("xmlFreeParserCtxt"), ParseChunk: try entry("xmlParseChunk"),
                        SAX2GetLineNumber: try entry("xmlSAX2GetLineNumber"), CtxtGetLastError: try entry("xmlCtxtGetLastError"))
    }

    /// Parses the next chunk of the document.
    func feed(_ bytes: UnsafeBufferPointer<UInt8>) throws(XMLReadError) {
        var offset = 0
        // xmlParseChunk takes an Int32 size: hand over large buffers in pieces.
        repeat {
            let n = min(bytes.count - offset, 1 << 24)
            let rc = bytes.baseAddress.map { base in
                base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { api.ParseChunk(ctxt, $0 + offset, Int32(n), 0) }
            } ?? api.ParseChunk(ctxt, nil, 0, 0)
            try check(rc)
            offset += n
        } while offset < bytes.count
    }

    func feed(_ bytes: [UInt8]) throws(XMLReadError) {
        // `withUnsafeBufferPointer` cannot carry a typed throw through its closure in Swift 6.0.
        var failure: XMLReadError?
        bytes.withUnsafeBufferPointer { p in
            do throws(XMLReadError) { try feed(p) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// Tells the parser the document has ended; throws when it was incomplete or malformed.
    func finish() throws(XMLReadError) {
        try check(api.ParseChunk(ctxt, nil, 0, 1))
    }

    private func check(_ rc: Int32) throws(XMLReadError) {
        if let failure = box.handler.failure {
            throw XMLReadError(source: source, line: Int(api.SAX2GetLineNumber(UnsafeMutableRawPointer(ctxt))), detail: failure)
        }
        guard rc != 0 else { return }
        if let error = api.CtxtGetLastError(UnsafeMutableRawPointer(ctxt)), let message = error.pointee.message {
            var text = String(cString: message)
            while text.last == "\n" { text.removeLast() }
            throw XMLReadError(source: source, line: Int(error.pointee.line), detail: "malformed XML: \(text)")
        }
        throw XMLReadError(source: source, line: Int(api.SAX2GetLineNumber(UnsafeMutableRawPointer(ctxt))), detail: "malformed XML (libxml2 error \(rc))")
    }

    /// Parses a whole document held in memory.
    static func parse(_ bytes: [UInt8], source: String, handler: XMLEventHandler) throws(XMLReadError) {
        let reader = try XMLStreamReader(handler: handler, source: source)
        try reader.feed(bytes)
        try reader.finish()
    }

    /// Decompresses (gz/xz/zst/bz2, detected from the bytes) and parses a document as it streams.
    static func parse(compressed bytes: [UInt8], source: String, limit: Int, handler: XMLEventHandler) throws(RepodataError) {
        do {
            let reader = try XMLStreamReader(handler: handler, source: source)
            try Decompressor.stream(bytes, compression: Compression.detect(bytes.prefix(8)), source: source, limit: limit) { chunk in
                try reader.feed(chunk)
            }
            try reader.finish()
        } catch let e as XMLReadError {
            throw RepodataError(.malformed, url: source, detail: "line \(e.line): \(e.detail)")
        } catch let e as DecompressionError {
            throw RepodataError(.decompression, url: source, detail: e.detail)
        } catch {
            throw RepodataError(.malformed, url: source, detail: "\(error)")
        }
    }
}

/// Collects character data into a reusable byte buffer while `active`.
struct TextCapture {
    var active = false
    var bytes: [UInt8] = []

    mutating func begin() { active = true; bytes.removeAll(keepingCapacity: true) }
    mutating func append(_ text: UnsafeBufferPointer<UInt8>) { if active { bytes.append(contentsOf: text) } }
    /// The captured text, surrounding white space trimmed; ends the capture.
    mutating func end() -> String {
        active = false
        var s = 0, e = bytes.count
        while s < e && isSpace(bytes[s]) { s += 1 }
        while e > s && isSpace(bytes[e - 1]) { e -= 1 }
        return String(decoding: bytes[s..<e], as: UTF8.self)
    }
    private func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 }
}
