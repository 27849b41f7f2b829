internal import CCrypto

/// SHA-256 through the system's libcrypto (OpenSSL): checksums of repository index files.
public struct SHA256Hasher: ~Copyable {
    private let ctx: OpaquePointer

    public init() {
        // EVP_MD_CTX_new only fails when memory is exhausted: an internal invariant, not input.
        guard let ctx = EVP_MD_CTX_new() else { fatalError("internal: libcrypto cannot allocate a digest context") }
        EVP_DigestInit_ex(ctx, EVP_sha256(), nil)
        self.ctx = ctx
    }

    deinit { EVP_MD_CTX_free(ctx) }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        EVP_DigestUpdate(ctx, bytes.baseAddress, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as 64 lower-case hex digits.
    public consuming func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        EVP_DigestFinal_ex(ctx, &digest, &length)
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
