/// One line of `/etc/fstab` (fstab(5)): what to mount, where, and as what.
public struct FstabEntry: Sendable, Hashable {
    /// `UUID=…`, `LABEL=…`, `PARTUUID=…`, `/dev/…`.
    public var spec: String
    public var mountpoint: String
    public var type: String

    /// The lines of an fstab, comments and short lines skipped.
    public static func parse(_ bytes: [UInt8]) -> [FstabEntry] {
        String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).compactMap { line in
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard fields.count >= 3, !fields[0].hasPrefix("#") else { return nil }
            return FstabEntry(spec: String(fields[0]), mountpoint: String(fields[1]), type: String(fields[2]))
        }
    }

    /// A UUID the spec names (`UUID=x` or `/dev/disk/by-uuid/x`), if any.
    public var uuid: String? {
        if spec.hasPrefix("UUID=") { return String(spec.dropFirst(5)) }
        if spec.hasPrefix("/dev/disk/by-uuid/") { return String(spec.dropFirst("/dev/disk/by-uuid/".count)) }
        return nil
    }

    /// A label the spec names (`LABEL=x` or `/dev/disk/by-label/x`), if any.
    public var label: String? {
        if spec.hasPrefix("LABEL=") { return String(spec.dropFirst(6)) }
        if spec.hasPrefix("/dev/disk/by-label/") { return String(spec.dropFirst("/dev/disk/by-label/".count)) }
        return nil
    }

    /// The `/dev/VG/LV` an LVM spec names (`/dev/mapper/vg-lv`, where `--` stands for a dash in a name).
    public var logicalVolume: String? {
        guard spec.hasPrefix("/dev/mapper/") else { return nil }
        let name = Array(spec.dropFirst("/dev/mapper/".count))
        var i = 0
        while i < name.count {
            if name[i] == "-" {
                if i + 1 < name.count && name[i + 1] == "-" { i += 2; continue }
                let vg = String(name[..<i]).replacingDoubledDashes()
                let lv = String(name[(i + 1)...]).replacingDoubledDashes()
                return vg.isEmpty || lv.isEmpty ? nil : "/dev/\(vg)/\(lv)"
            }
            i += 1
        }
        return nil
    }

    /// The partition number a `/dev/sdaN`, `/dev/vdaN`, `/dev/nvme0n1pN` spec names, if any.
    public var partitionNumber: Int? {
        guard spec.hasPrefix("/dev/"), !spec.hasPrefix("/dev/mapper/"), !spec.hasPrefix("/dev/disk/") else { return nil }
        let digits = String(spec.reversed().prefix(while: \.isNumber).reversed())
        return digits.isEmpty || digits.count == spec.count ? nil : Int(digits)
    }
}

extension String {
    fileprivate func replacingDoubledDashes() -> String {
        var out = ""
        var previousDash = false
        for ch in self {
            if ch == "-" && previousDash { previousDash = false; continue }
            previousDash = ch == "-"
            out.append(ch)
        }
        return out
    }
}
