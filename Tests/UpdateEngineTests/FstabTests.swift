import Testing
@testable import UpdateEngine

/// fstab(5) lines as ImageInspect needs them to mount a guest's /usr and /var by this image's own devices.
struct FstabTests {
    @Test func entriesAndTheirSpecsAreRead() {
        let text = """
            # /etc/fstab: static file system information.
            UUID=1c2d-3e /               ext4    errors=remount-ro 0       1
            LABEL=var\t/var\txfs\tdefaults\t0\t2
            /dev/mapper/vg--sys-usr--lv /usr ext4 defaults 0 2
            /dev/vda3 /opt ext4 defaults 0 2
            /dev/nvme0n1p4 /srv ext4 defaults 0 2
            /dev/disk/by-uuid/abcd /home ext4 defaults 0 2
            tmpfs /tmp
            """
        let entries = FstabEntry.parse(Array(text.utf8))
        #expect(entries.map(\.mountpoint) == ["/", "/var", "/usr", "/opt", "/srv", "/home"])
        #expect(entries[0].uuid == "1c2d-3e")
        #expect(entries[1].label == "var" && entries[1].type == "xfs")
        #expect(entries[2].logicalVolume == "/dev/vg-sys/usr-lv")
        #expect(entries[3].partitionNumber == 3)
        #expect(entries[4].partitionNumber == 4)
        #expect(entries[5].uuid == "abcd" && entries[5].partitionNumber == nil)
        #expect(entries[0].logicalVolume == nil && entries[0].partitionNumber == nil)
    }

    @Test func garbageIsNoEntryAndNoTrap() {
        let bytes: [UInt8] = [0xFF, 0xFE, 0x0A, 0x2F, 0x0A] + Array("/dev/mapper/- / ext4\n/dev/ / x\n".utf8)
        let entries = FstabEntry.parse(bytes)
        #expect(entries.count == 2)
        #expect(entries.allSatisfy { $0.logicalVolume == nil && $0.partitionNumber == nil })
    }
}
