import Testing
import UpdateEngine

/// libvirt's own XML (fixtures/libvirt: what libvirtd gave a hook, what virsh vol-dumpxml printed).
struct LibvirtXMLTests {
    @Test func theDisksOfTheDomainXMLLibvirtGaveItsHook() throws {
        let (name, disks) = try LibvirtXML.domain(try Fixtures.bytes("libvirt/domain-prepare-begin.xml"), source: "domain-prepare-begin.xml")
        #expect(name == "imgsec-fixture")
        #expect(disks.count == 4)
        #expect(disks[0] == DomainDisk(type: "file", device: "disk", path: "/var/lib/libvirt/images/web1.qcow2", sourceName: nil,
                                       format: "qcow2", target: "vda", readOnly: false))
        #expect(disks[1].type == "volume" && disks[1].path == nil && disks[1].sourceName == "tp/data.qcow2" && disks[1].target == "vdb")
        #expect(disks[2].type == "block" && disks[2].path == "/dev/null" && disks[2].format == "raw")
        #expect(disks[3].device == "cdrom" && disks[3].path == "/var/lib/libvirt/images/install.iso" && disks[3].readOnly)
    }

    @Test func theVolumeXMLVirshPrinted() throws {
        let volume = try LibvirtXML.volume(try Fixtures.bytes("libvirt/volume-qcow2.xml"), source: "volume-qcow2.xml")
        #expect(volume == VolumeDescription(type: "file", path: "/var/tmp/imgsec-lvtry/pool/data.qcow2", format: "qcow2"))
    }

    @Test func otherDocumentsAndBrokenXMLAreErrorsWithALine() {
        #expect(throws: XMLReadError.self) { try LibvirtXML.domain(Array("<volume/>".utf8), source: "v") }
        #expect(throws: XMLReadError.self) { try LibvirtXML.domain(Array("<domain>\n<devices><disk>".utf8), source: "d") }
        // No entity is expanded, none is declared: a DTD is refused.
        let xxe = "<?xml version='1.0'?><!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain><name>&x;</name></domain>"
        let parsed = try? LibvirtXML.domain(Array(xxe.utf8), source: "xxe")
        #expect(parsed?.name?.contains("root:") != true)
    }
}
