import Foundation
import Testing
@testable import ImageInspect

/// Header decisions made on the host, before any appliance starts.
@Suite final class ImageProbeTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "imgsec-probe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    /// A qcow2 v3 header (104 bytes + extensions) padded to one cluster, as qemu-img writes it.
    static func qcow2(backing: String? = nil, backingFormat: String? = nil, dataFile: String? = nil) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 65536)
        func put32(_ v: UInt32, _ o: Int) { for i in 0..<4 { h[o + i] = UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32(i))) } }
        func put64(_ v: UInt64, _ o: Int) { for i in 0..<8 { h[o + i] = UInt8(truncatingIfNeeded: v >> (56 - 8 * UInt64(i))) } }
        h[0] = 0x51; h[1] = 0x46; h[2] = 0x49; h[3] = 0xFB
        put32(3, 4)
        put32(16, 20)            // cluster bits
        put64(1 << 30, 24)       // size
        put32(104, 100)          // header length
        var o = 104
        func ext(_ type: UInt32, _ data: [UInt8]) {
            put32(type, o); put32(UInt32(data.count), o + 4)
            for (i, b) in data.enumerated() { h[o + 8 + i] = b }
            o += 8 + (data.count + 7) / 8 * 8
        }
        if let backingFormat { ext(0xE279_2ACA, Array(backingFormat.utf8)) }
        if let dataFile { ext(0x4441_5441, Array(dataFile.utf8)) }
        ext(0, [])
        if let backing {
            put64(UInt64(o), 8)
            put32(UInt32(backing.utf8.count), 16)
            for (i, b) in backing.utf8.enumerated() { h[o + i] = b }
        }
        return h
    }

    @Test func aPlainQcow2IsQcow2WithNoBackingFile() throws {
        let header = try ImageProbe.header(of: try write("a.qcow2", Self.qcow2()))
        #expect(header.format == .qcow2)
        #expect(header.backingFile == nil)
    }

    @Test func aQcow2HeaderNamesItsBackingFileAndFormat() throws {
        let header = try ImageProbe.header(of: try write("b.qcow2", Self.qcow2(backing: "base.qcow2", backingFormat: "qcow2")))
        #expect(header.backingFile == "base.qcow2")
        #expect(header.backingFormat == "qcow2")
    }

    @Test func aBackingChainInsideTheDirectoryIsFollowed() throws {
        _ = try write("base.qcow2", Self.qcow2())
        let top = try write("top.qcow2", Self.qcow2(backing: "base.qcow2", backingFormat: "qcow2"))
        let chain = try ImageProbe.checkBackingChain(of: top, header: try ImageProbe.header(of: top))
        #expect(chain.count == 2)
        #expect(chain.last?.hasSuffix("/base.qcow2") == true)
    }

    @Test func aBackingFileOutsideTheDirectoryIsRefused() throws {
        let top = try write("escape.qcow2", Self.qcow2(backing: "/etc/passwd", backingFormat: "raw"))
        #expect(throws: ImageInspectError.self) { try ImageProbe.checkBackingChain(of: top, header: try ImageProbe.header(of: top)) }
        let up = try write("up.qcow2", Self.qcow2(backing: "../x.qcow2", backingFormat: "qcow2"))
        do {
            _ = try ImageProbe.checkBackingChain(of: up, header: try ImageProbe.header(of: up))
            Issue.record("a backing file in the parent directory was accepted")
        } catch let error as ImageInspectError {
            #expect(error.code == .backingFile)
        }
    }

    @Test func aRawBackingFileWithoutARecordedFormatIsRefused() throws {
        _ = try write("raw.img", [UInt8](repeating: 0, count: 4096))
        let top = try write("probe.qcow2", Self.qcow2(backing: "raw.img"))
        do {
            _ = try ImageProbe.checkBackingChain(of: top, header: try ImageProbe.header(of: top))
            Issue.record("a raw backing file qemu would have to probe was accepted")
        } catch let error as ImageInspectError {
            #expect(error.code == .backingFile)
            #expect(error.description.contains("probe"))
        }
    }

    @Test func aBackingLoopIsRefused() throws {
        let a = try write("loop-a.qcow2", Self.qcow2(backing: "loop-b.qcow2", backingFormat: "qcow2"))
        _ = try write("loop-b.qcow2", Self.qcow2(backing: "loop-a.qcow2", backingFormat: "qcow2"))
        #expect(throws: ImageInspectError.self) { try ImageProbe.checkBackingChain(of: a, header: try ImageProbe.header(of: a)) }
    }

    @Test func anExternalDataFileIsRefused() throws {
        do {
            _ = try ImageProbe.header(of: try write("data.qcow2", Self.qcow2(dataFile: "/dev/sda")))
            Issue.record("an external data file was accepted")
        } catch let error as ImageInspectError {
            #expect(error.code == .backingFile)
        }
    }

    @Test(arguments: [
        ("text", Array("just some text\n".utf8), ImageInspectError.Code.notAnImage),
        ("text-sectors", [UInt8](repeating: 0x41, count: 1024), .notAnImage),
        ("empty", [], .notAnImage),
        ("xz", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00] + [UInt8](repeating: 0, count: 506), .unsupportedFormat),
        ("descriptor", Array("# Disk DescriptorFile\nversion=1\n".utf8), .unsupportedFormat),
        ("vdi", Array("<<< Oracle VM VirtualBox Disk Image >>>\n".utf8) + [UInt8](repeating: 0, count: 472), .unsupportedFormat),
    ])
    func filesThatAreNoUsableDiskAreRefusedWithAReason(name: String, bytes: [UInt8], code: ImageInspectError.Code) throws {
        let path = try write(name, bytes)
        do {
            _ = try ImageProbe.header(of: path)
            Issue.record("\(name) was accepted")
        } catch let error as ImageInspectError {
            #expect(error.code == code)
            #expect(error.description.hasPrefix(path + ": "))
        }
    }

    /// A monolithic sparse VMDK header (512 bytes) with the descriptor location given as is.
    static func vmdk(descriptorSector: UInt64, descriptorSectors: UInt64) -> [UInt8] {
        var h = [UInt8](repeating: 0, count: 512)
        func putLE64(_ v: UInt64, _ o: Int) { for i in 0..<8 { h[o + i] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(i))) } }
        h[0] = 0x4B; h[1] = 0x44; h[2] = 0x4D; h[3] = 0x56   // "KDMV"
        h[4] = 1                                              // version 1
        putLE64(descriptorSector, 28)
        putLE64(descriptorSectors, 36)
        return h
    }

    /// A qcow2 v3 header whose fields at `offset` are overwritten with big-endian `bytes`.
    static func qcow2(patching offset: Int, with bytes: [UInt8]) -> [UInt8] {
        var h = qcow2()
        for (i, b) in bytes.enumerated() { h[offset + i] = b }
        return h
    }

    @Test(arguments: [
        ("vmdk-descriptor-sector-max", vmdk(descriptorSector: .max, descriptorSectors: 1)),
        ("vmdk-descriptor-sector-overflow", vmdk(descriptorSector: UInt64(Int.max) / 512 + 1, descriptorSectors: 1)),
        ("vmdk-descriptor-past-end", vmdk(descriptorSector: 1 << 40, descriptorSectors: 1)),
        ("qcow2-backing-offset-max", qcow2(patching: 8, with: [UInt8](repeating: 0xFF, count: 8) + [0, 0, 0, 8])),
        ("qcow2-header-length-max", qcow2(patching: 100, with: [0xFF, 0xFF, 0xFF, 0xFF])),
        ("qcow2-header-length-short", qcow2(patching: 100, with: [0, 0, 0, 8])),
        ("qcow2-extension-length-max", qcow2(patching: 104, with: [0xE2, 0x79, 0x2A, 0xCA, 0xFF, 0xFF, 0xFF, 0xFF])),
    ])
    func aCraftedHeaderIsRefusedNamingTheImageInsteadOfTrapping(name: String, bytes: [UInt8]) throws {
        // In memory: `more` reads from the same bytes, as `header(of:)` reads from the file.
        let image = "/images/\(name)"
        do {
            _ = try ImageProbe.classify(head: bytes, fileSize: 1 << 20, image: image) { offset, count in
                guard offset >= 0, count >= 0, offset < bytes.count else { return [] }
                return Array(bytes[offset..<min(bytes.count, offset + count)])
            }
            Issue.record("\(name) was accepted")
        } catch let error as ImageInspectError {
            #expect([.notAnImage, .unsupportedFormat].contains(error.code))
            #expect(error.description.hasPrefix(image + ": "))
        }
    }

    @Test func aCraftedVmdkFileIsRefusedBeforeAnyApplianceStarts() throws {
        let path = try write("crafted.vmdk", Self.vmdk(descriptorSector: .max, descriptorSectors: 1))
        #expect(throws: ImageInspectError.self) { try ImageProbe.header(of: path) }
    }

    @Test func zeroedSectorsAreARawDisk() throws {
        let header = try ImageProbe.header(of: try write("zero.img", [UInt8](repeating: 0, count: 8192)))
        #expect(header.format == .raw)
    }

    @Test func aMissingPathIsAClearError() {
        do {
            _ = try ImageProbe.header(of: dir + "/nope.qcow2")
            Issue.record("a missing file was accepted")
        } catch let error as ImageInspectError {
            #expect(error.code == .missing)
            #expect(error.description.contains("no such file"))
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test func batchesShareAppliancesAndRespectTheDriveLimit() {
        let header = ImageHeader(format: .raw, backingFile: nil, backingFormat: nil, fileSize: 512)
        let items = (0..<10).map { Inspector.Item(index: $0, path: "\($0)", header: header) }
        #expect(Inspector.plan(Array(items.prefix(3)), parallel: 2, maxDrives: 40).count == 1)
        #expect(Inspector.plan(items, parallel: 2, maxDrives: 40).count == 2)
        let small = Inspector.plan(items, parallel: 2, maxDrives: 3)
        #expect(small.count == 4)
        #expect(small.allSatisfy { $0.count <= 3 })
        #expect(small.flatMap { $0 }.map(\.index).sorted() == Array(0..<10))
    }
}
