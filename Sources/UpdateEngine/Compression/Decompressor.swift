internal import CZlib
internal import CLZMA
internal import CZstd
internal import CBZip2

/// The compressions repository indexes come in (apt: `.xz`, `.gz`; yum: `.gz`, `.xz`, `.zst`, `.bz2`).
public enum Compression: String, Sendable, Codable, CaseIterable {
    case none, gzip, xz, zstd, bzip2

    /// Decides from the first bytes (magic numbers), else `.none`.
    public static func detect(_ head: some Collection<UInt8>) -> Compression {
        let b = Array(head.prefix(6))
        if b.starts(with: [0x1F, 0x8B]) { return .gzip }
        if b.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return .xz }
        if b.starts(with: [0x28, 0xB5, 0x2F, 0xFD]) { return .zstd }
        if b.starts(with: [0x42, 0x5A, 0x68]) { return .bzip2 }
        return .none
    }

    /// From a file name's extension (`Packages.xz`, `primary.xml.zst`).
    public static func fromFileName(_ name: String) -> Compression {
        if name.hasSuffix(".gz") { return .gzip }
        if name.hasSuffix(".xz") { return .xz }
        if name.hasSuffix(".zst") { return .zstd }
        if name.hasSuffix(".bz2") { return .bzip2 }
        return .none
    }
}

/// Why data could not be decompressed. `source` names the file.
public struct DecompressionError: Error, CustomStringConvertible, Sendable, Equatable {
    public var source: String
    public var compression: Compression
    public var detail: String
    public var description: String { "\(source): cannot decompress (\(compression.rawValue)): \(detail)." }
}

/// Streaming decompression through the system libraries (zlib, liblzma, libzstd, libbz2).
///
/// The input is in memory (a downloaded index); the output is handed over in chunks so that a parser
/// can work on a 60 MB `Packages` file without holding it whole. `limit` caps the total output:
/// a decompression bomb is an error, not an exhausted machine.
public enum Decompressor {
    public static let chunkSize = 1 << 20

    /// The most memory liblzma may use for one xz stream: 256 MiB. `xz -9` needs 65 MiB to decode, so real
    /// repository indexes fit; a header asking for a bigger dictionary is refused before anything is allocated.
    public static let xzMemoryLimit: UInt64 = 256 << 20

    /// Decompresses `input`, calling `sink` with each chunk of output. Concatenated streams (several
    /// gzip members, several xz streams) are decompressed one after the other, as the command-line tools do.
    public static func stream(_ input: [UInt8], compression: Compression, source: String, limit: Int = 4 << 30,
                              sink: ([UInt8]) throws -> Void) throws {
        switch compression {
        case .none:
            guard input.count <= limit else { throw DecompressionError(source: source, compression: .none, detail: "larger than \(limit) bytes") }
            var offset = 0
            while offset < input.count {
                let end = min(input.count, offset + chunkSize)
                try sink(Array(input[offset..<end]))
                offset = end
            }
        case .gzip: try gunzip(input, source: source, limit: limit, sink: sink)
        case .xz: try unxz(input, source: source, limit: limit, sink: sink)
        case .zstd: try unzstd(input, source: source, limit: limit, sink: sink)
        case .bzip2: try bunzip2(input, source: source, limit: limit, sink: sink)
        }
    }

    /// Decompresses everything into one buffer (for small files).
    public static func decompress(_ input: [UInt8], compression: Compression, source: String, limit: Int = 1 << 30) throws -> [UInt8] {
        var out: [UInt8] = []
        try stream(input, compression: compression, source: source, limit: limit) { out.append(contentsOf: $0) }
        return out
    }

    private static func tooLarge(_ source: String, _ c: Compression, _ limit: Int) -> DecompressionError {
        DecompressionError(source: source, compression: c, detail: "output exceeds the \(limit)-byte limit")
    }

    private static func gunzip(_ input: [UInt8], source: String, limit: Int, sink: ([UInt8]) throws -> Void) throws {
        var total = 0
        var out = [UInt8](repeating: 0, count: chunkSize)
        try input.withUnsafeBufferPointer { inBuf in
            guard let base = inBuf.baseAddress, !inBuf.isEmpty else {
                throw DecompressionError(source: source, compression: .gzip, detail: "truncated input (empty)")
            }
            var consumed = 0
            while consumed < inBuf.count {
                var z = z_stream()
                // 15 + 32: zlib or gzip header, detected automatically.
                guard inflateInit2_(&z, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
                    throw DecompressionError(source: source, compression: .gzip, detail: "zlib cannot start")
                }
                defer { inflateEnd(&z) }
                z.next_in = UnsafeMutablePointer(mutating: base + consumed)
                z.avail_in = UInt32(inBuf.count - consumed)
                var rc: Int32 = Z_OK
                repeat {
                    let produced: Int = try out.withUnsafeMutableBufferPointer { o in
                        z.next_out = o.baseAddress
                        z.avail_out = UInt32(o.count)
                        rc = inflate(&z, Z_NO_FLUSH)
                        guard rc == Z_OK || rc == Z_STREAM_END || rc == Z_BUF_ERROR else {
                            let msg = z.msg.map { String(cString: $0) } ?? "error \(rc)"
                            throw DecompressionError(source: source, compression: .gzip, detail: msg)
                        }
                        return o.count - Int(z.avail_out)
                    }
                    if produced > 0 {
                        total += produced
                        guard total <= limit else { throw tooLarge(source, .gzip, limit) }
                        try sink(Array(out[0..<produced]))
                    } else if rc == Z_BUF_ERROR || (rc == Z_OK && z.avail_in == 0) {
                        throw DecompressionError(source: source, compression: .gzip, detail: "truncated input")
                    }
                } while rc != Z_STREAM_END
                consumed = inBuf.count - Int(z.avail_in)
                // Trailing zero padding after the last member is tolerated, as gzip does.
                if inBuf[consumed...].allSatisfy({ $0 == 0 }) { break }
            }
        }
    }

    private static func unxz(_ input: [UInt8], source: String, limit: Int, sink: ([UInt8]) throws -> Void) throws {
        var strm = lzma_stream()
        guard lzma_stream_decoder(&strm, xzMemoryLimit, clzma_concatenated) == LZMA_OK else {
            throw DecompressionError(source: source, compression: .xz, detail: "liblzma cannot start")
        }
        defer { lzma_end(&strm) }
        var total = 0
        var out = [UInt8](repeating: 0, count: chunkSize)
        try input.withUnsafeBufferPointer { inBuf in
            strm.next_in = inBuf.baseAddress
            strm.avail_in = inBuf.count
            var action = LZMA_RUN
            while true {
                if strm.avail_in == 0 { action = LZMA_FINISH }
                var rc = LZMA_OK
                let produced: Int = out.withUnsafeMutableBufferPointer { o in
                    strm.next_out = o.baseAddress
                    strm.avail_out = o.count
                    rc = lzma_code(&strm, action)
                    return o.count - strm.avail_out
                }
                if produced > 0 {
                    total += produced
                    guard total <= limit else { throw tooLarge(source, .xz, limit) }
                    try sink(Array(out[0..<produced]))
                }
                if rc == LZMA_STREAM_END { return }
                guard rc == LZMA_OK else {
                    let why: String
                    switch rc {
                    case LZMA_FORMAT_ERROR: why = "not in xz format"
                    case LZMA_DATA_ERROR: why = "corrupt data"
                    case LZMA_BUF_ERROR: why = "truncated input"
                    case LZMA_MEM_ERROR: why = "out of memory"
                    case LZMA_MEMLIMIT_ERROR:
                        why = "the stream needs \(lzma_memusage(&strm) >> 20) MiB of memory to decode, more than the \(xzMemoryLimit >> 20) MiB limit"
                    default: why = "liblzma error \(rc.rawValue)"
                    }
                    throw DecompressionError(source: source, compression: .xz, detail: why)
                }
            }
        }
    }

    private static func unzstd(_ input: [UInt8], source: String, limit: Int, sink: ([UInt8]) throws -> Void) throws {
        guard let ctx = ZSTD_createDStream() else {
            throw DecompressionError(source: source, compression: .zstd, detail: "libzstd cannot start")
        }
        defer { ZSTD_freeDStream(ctx) }
        ZSTD_initDStream(ctx)
        var total = 0
        var out = [UInt8](repeating: 0, count: chunkSize)
        var lastHint = 1
        try input.withUnsafeBytes { inRaw in
            var inb = ZSTD_inBuffer(src: inRaw.baseAddress, size: inRaw.count, pos: 0)
            while true {
                var hint = 0
                let produced: Int = try out.withUnsafeMutableBytes { o in
                    var outb = ZSTD_outBuffer(dst: o.baseAddress, size: o.count, pos: 0)
                    hint = ZSTD_decompressStream(ctx, &outb, &inb)
                    if ZSTD_isError(hint) != 0 {
                        throw DecompressionError(source: source, compression: .zstd, detail: String(cString: ZSTD_getErrorName(hint)))
                    }
                    return outb.pos
                }
                if produced > 0 {
                    total += produced
                    guard total <= limit else { throw tooLarge(source, .zstd, limit) }
                    try sink(Array(out[0..<produced]))
                }
                lastHint = hint
                if inb.pos == inb.size && produced < out.count { break }
            }
        }
        // A non-zero hint at the end means a frame was cut short.
        if lastHint != 0 { throw DecompressionError(source: source, compression: .zstd, detail: "truncated input") }
    }

    private static func bunzip2(_ input: [UInt8], source: String, limit: Int, sink: ([UInt8]) throws -> Void) throws {
        var total = 0
        var out = [UInt8](repeating: 0, count: chunkSize)
        try input.withUnsafeBufferPointer { inBuf in
            guard let base = inBuf.baseAddress, !inBuf.isEmpty else {
                throw DecompressionError(source: source, compression: .bzip2, detail: "truncated input (empty)")
            }
            var consumed = 0
            while consumed < inBuf.count {
                var bz = bz_stream()
                guard BZ2_bzDecompressInit(&bz, 0, 0) == BZ_OK else {
                    throw DecompressionError(source: source, compression: .bzip2, detail: "libbz2 cannot start")
                }
                defer { BZ2_bzDecompressEnd(&bz) }
                bz.next_in = UnsafeMutableRawPointer(mutating: base + consumed).assumingMemoryBound(to: CChar.self)
                bz.avail_in = UInt32(inBuf.count - consumed)
                var rc = BZ_OK
                repeat {
                    let produced: Int = out.withUnsafeMutableBytes { o in
                        bz.next_out = o.baseAddress?.assumingMemoryBound(to: CChar.self)
                        bz.avail_out = UInt32(o.count)
                        rc = BZ2_bzDecompress(&bz)
                        return o.count - Int(bz.avail_out)
                    }
                    guard rc == BZ_OK || rc == BZ_STREAM_END else {
                        throw DecompressionError(source: source, compression: .bzip2, detail: "corrupt data (libbz2 error \(rc))")
                    }
                    if produced > 0 {
                        total += produced
                        guard total <= limit else { throw tooLarge(source, .bzip2, limit) }
                        try sink(Array(out[0..<produced]))
                    } else if rc == BZ_OK && bz.avail_in == 0 {
                        throw DecompressionError(source: source, compression: .bzip2, detail: "truncated input")
                    }
                } while rc != BZ_STREAM_END
                consumed = inBuf.count - Int(bz.avail_in)
            }
        }
    }
}
