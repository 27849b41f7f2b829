internal import CCrypto

#if canImport(Glibc)
import Glibc
#endif

/// SHA-256 through the system's libcrypto (OpenSSL): checksums of repository index files, image headers and
/// collected files. libcrypto is opened on the first use (see `Sources/CCrypto/shim.h`); the calls are
/// `SHA256_Init`, `SHA256_Update` and `SHA256_Final`.
public struct SHA256Hasher: ~Copyable {
    private var context = csha256_ctx()
    private let api: ccrypto_api

    public init() {
        api = Self.library
        _ = api.sha256_init(&context)
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        _ = api.sha256_update(&context, bytes.baseAddress, bytes.count)
    }

    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest as 64 lower-case hex digits.
    public consuming func finalizeHex() -> String {
        var digest = [UInt8](repeating: 0, count: 32)
        _ = api.sha256_final(&digest, &context)
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

    /// libcrypto's entry points, looked up once per process. A system without libcrypto.so.3 fails here as it
    /// failed before at start-up when the library was linked: imgsec is installed with it (Debian's libssl3, a
    /// dependency of libcurl4 and libguestfs0), and nothing a guest or a user supplies can change that.
    private static let library: ccrypto_api = {
        let name = "libcrypto.so.3"
        guard let library = dlopen(name, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            fatalError("imgsec cannot load \(name) (\(reason)); install libssl3 (scripts/setup.sh does)")
        }
        func entry<F>(_ symbol: String) -> F {
            guard let address = dlsym(library, symbol) else { fatalError("\(name) has no \(symbol)") }
            return unsafeBitCast(address, to: F.self)
        }
        return ccrypto_api(sha256_init: entry("SHA256_Init"), sha256_update: entry("SHA256_Update"),
                           sha256_final: entry("SHA256_Final"))
    }()
}
