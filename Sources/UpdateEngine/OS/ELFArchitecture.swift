/// The machine architecture of an ELF executable, named as libguestfs's `file_architecture` names it.
public enum ELFArchitecture {
    /// `x86_64`, `i386`, `aarch64`, `arm`, `ppc64le`, `s390x`, `riscv64`…; nil when the bytes are no ELF file.
    public static func of(_ bytes: [UInt8]) -> String? {
        guard bytes.count >= 20, bytes[0] == 0x7F, bytes[1] == 0x45, bytes[2] == 0x4C, bytes[3] == 0x46 else { return nil }
        let is64 = bytes[4] == 2
        let little = bytes[5] == 1
        let machine = little ? UInt16(bytes[18]) | UInt16(bytes[19]) << 8 : UInt16(bytes[18]) << 8 | UInt16(bytes[19])
        switch machine {
        case 0x3E: return "x86_64"
        case 0x03: return "i386"
        case 0xB7: return "aarch64"
        case 0x28: return "arm"
        case 0x15: return is64 ? (little ? "ppc64le" : "ppc64") : "ppc"
        case 0x16: return is64 ? "s390x" : "s390"
        case 0xF3: return is64 ? "riscv64" : "riscv32"
        case 0x08: return is64 ? "mips64" : "mips"
        default: return nil
        }
    }

    /// The architecture of the machine's shell or coreutils, read through its files.
    public static func ofMachine(_ machine: MachineFiles) -> String? {
        for path in ["/bin/sh", "/usr/bin/sh", "/bin/ls", "/usr/bin/ls", "/bin/bash", "/usr/bin/env"] {
            if let bytes = try? machine.read(path, limit: 64 << 20), let arch = of(bytes) { return arch }
        }
        return nil
    }
}
