import Foundation
import Testing
@testable import UpdateEngine

/// Streaming decompression and SHA-256 agree with the command-line tools.
struct CompressionTests {
    static func run(_ tool: String, _ args: [String], input: [UInt8]) throws -> [UInt8] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = args
        let inPipe = Pipe(), outPipe = Pipe()
        p.standardInput = inPipe
        p.standardOutput = outPipe
        try p.run()
        let writer = Thread { inPipe.fileHandleForWriting.write(Data(input)); try? inPipe.fileHandleForWriting.close() }
        writer.start()
        let data = outPipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return [UInt8](data)
    }

    /// 3 MB of text and noise: several output chunks.
    static let sample: [UInt8] = {
        var out = [UInt8]()
        var x: UInt32 = 12345
        for i in 0..<60_000 {
            out += Array("Package: pkg\(i)\nVersion: 1.\(i)-1\n\n".utf8)
            for _ in 0..<16 { x = x &* 1_103_515_245 &+ 12345; out.append(UInt8(truncatingIfNeeded: x >> 16)) }
        }
        return out
    }()

    static let tools: [(Compression, String, [String])] = [
        (.gzip, "/usr/bin/gzip", ["-c"]), (.xz, "/usr/bin/xz", ["-c"]),
        (.zstd, "/usr/bin/zstd", ["-c", "-q"]), (.bzip2, "/bin/bzip2", ["-c"]),
    ]

    @Test(arguments: tools.map(\.0))
    func eachFormatDecompressesToWhatTheToolCompressed(compression: Compression) throws {
        let (_, tool, args) = try #require(Self.tools.first { $0.0 == compression })
        let packed = try Self.run(tool, args, input: Self.sample)
        #expect(Compression.detect(packed) == compression)
        var chunks = 0
        var out = [UInt8]()
        try Decompressor.stream(packed, compression: compression, source: "sample") { chunks += 1; out += $0 }
        #expect(out == Self.sample)
        #expect(chunks > 1)
    }

    @Test(arguments: tools.map(\.0))
    func aTruncatedStreamIsAnErrorNamingTheFile(compression: Compression) throws {
        let (_, tool, args) = try #require(Self.tools.first { $0.0 == compression })
        let packed = try Self.run(tool, args, input: Self.sample)
        #expect(throws: DecompressionError.self) {
            _ = try Decompressor.decompress(Array(packed.prefix(packed.count / 2)), compression: compression, source: "half.\(compression)")
        }
    }

    @Test(arguments: tools.map(\.0))
    func outputBeyondTheLimitIsRefused(compression: Compression) throws {
        let (_, tool, args) = try #require(Self.tools.first { $0.0 == compression })
        let zeros = try Self.run(tool, args, input: [UInt8](repeating: 0, count: 8 << 20))
        do {
            _ = try Decompressor.decompress(zeros, compression: compression, source: "bomb", limit: 1 << 20)
            Issue.record("a bomb was decompressed past its limit")
        } catch let error as DecompressionError {
            #expect(error.description.contains("limit"))
        }
    }

    /// CRC-32 (IEEE), as the xz block header carries it.
    static func crc32(_ bytes: some Sequence<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            crc ^= UInt32(b)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        return ~crc
    }

    @Test func anXzStreamNeedingMoreMemoryThanTheLimitIsRefusedNotDecoded() throws {
        // Compress a few bytes with a 4 KiB dictionary, then rewrite the block header's LZMA2 dictionary
        // size to 1.5 GiB (property byte 37) and fix its CRC: the data stays valid, only the memory it asks for grows.
        var packed = try Self.run("/usr/bin/xz", ["-c", "-T1", "--format=xz", "--lzma2=dict=4KiB"], input: Array("tiny\n".utf8))
        #expect(try Decompressor.decompress(packed, compression: .xz, source: "small.xz") == Array("tiny\n".utf8))
        let start = 12                                     // after the stream header
        let headerSize = (Int(try #require(packed.dropFirst(start).first)) + 1) * 4
        try #require(packed.count > start + headerSize)
        let flags = packed[start + 1]
        try #require(flags & 0x03 == 0, "one filter")
        var o = start + 2
        for present in [flags & 0x40 != 0, flags & 0x80 != 0] where present {  // compressed, uncompressed size
            while packed[o] & 0x80 != 0 { o += 1 }
            o += 1
        }
        try #require(packed[o] == 0x21 && packed[o + 1] == 0x01, "an LZMA2 filter with one property byte")
        packed[o + 2] = 37
        let crc = Self.crc32(packed[start..<(start + headerSize - 4)])
        for i in 0..<4 { packed[start + headerSize - 4 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
        do {
            let out = try Decompressor.decompress(packed, compression: .xz, source: "greedy.xz")
            Issue.record("a stream asking for 1.5 GiB was decoded (\(out.count) bytes)")
        } catch let error as DecompressionError {
            #expect(error.source == "greedy.xz")
            #expect(error.description.contains("256 MiB limit"))
        }
    }

    @Test(arguments: [Compression.gzip, .xz, .zstd, .bzip2])
    func anEmptyStreamIsTruncatedNotEmptyOutput(compression: Compression) {
        #expect(throws: DecompressionError.self) { _ = try Decompressor.decompress([], compression: compression, source: "empty") }
    }

    @Test func concatenatedGzipMembersAreAllRead() throws {
        let a = try Self.run("/usr/bin/gzip", ["-c"], input: Array("first\n".utf8))
        let b = try Self.run("/usr/bin/gzip", ["-c"], input: Array("second\n".utf8))
        #expect(try Decompressor.decompress(a + b, compression: .gzip, source: "two") == Array("first\nsecond\n".utf8))
    }

    @Test func sha256MatchesSha256sum() throws {
        let expected = String(decoding: try Self.run("/usr/bin/sha256sum", [], input: Self.sample).prefix(64), as: UTF8.self)
        #expect(SHA256Hasher.hex(of: Self.sample) == expected)
        #expect(SHA256Hasher.hex(of: []) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
