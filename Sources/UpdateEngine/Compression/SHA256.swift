internal import CCrypto

/// SHA-256 through the system's libcrypto (OpenSSL): checksums of repository index files.
/// The corresponding libcrypto calls are `SHA256_Init`, `SHA256_Update` and `SHA256_Final`.
public struct SHA256Hasher: ~Copyable {
    private var context = SHA256_CTX()

    public init() {
        SHA256_Init(&context)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        SHA256_Update(&context, bytes.baseAddress, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as 64 lower-case hex digits.
    public consuming func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        SHA256_Final(&digest, &context)
        return SHA256Hasher.hex(digest)
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 0xF)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The SHA-256 of `bytes`, as hex.
    public static func hex(of bytes: [UInt8]) -> String {
        var h = SHA256Hasher()
        h.update(bytes)
        return h.finalizeHex()
    }
}
