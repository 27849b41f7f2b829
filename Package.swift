// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "imgsec",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "imgsec", targets: ["imgsec"]),
        .library(name: "UpdateEngine", targets: ["UpdateEngine"]),
        .library(name: "ImageInspect", targets: ["ImageInspect"]),
        .library(name: "OPSRunner", targets: ["OPSRunner"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "Libvirt", targets: ["Libvirt"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", exact: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // C modules: no logic, one importer each.
        // Headers only: libguestfs is opened with dlopen on first use, not linked (see its shim.h).
        .systemLibrary(name: "CGuestfs", path: "Sources/CGuestfs", providers: [.apt(["libguestfs-dev"])]),
        // Headers only: libvirt is opened with dlopen when a pool is first read, not linked (see its shim.h). No
        // pkgConfig: its --libs would link libvirt into every process.
        .systemLibrary(name: "CLibvirt", path: "Sources/CLibvirt", providers: [.apt(["libvirt-dev"])]),
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CLZMA", path: "Sources/CLZMA", pkgConfig: "liblzma", providers: [.apt(["liblzma-dev"])]),
        .systemLibrary(name: "CZstd", path: "Sources/CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CBZip2", path: "Sources/CBZip2", providers: [.apt(["libbz2-dev"])]),
        // Declarations only: libxml2 and libcrypto are opened with dlopen on first use, not linked (see their shim.h).
        .systemLibrary(name: "CLibXML2", path: "Sources/CLibXML2", providers: [.apt(["libxml2"])]),
        .systemLibrary(name: "CCrypto", path: "Sources/CCrypto", providers: [.apt(["libssl3"])]),
        // Declarations only: libcurl is opened with dlopen on the first download, not linked (see its shim.h).
        .systemLibrary(name: "CCurl", path: "Sources/CCurl", providers: [.apt(["libcurl4"])]),

        // Every external program imgsec runs (gpgv, qemu, later nmap, ssh-audit, qemu-img): time and output
        // limits, no shell.
        .target(
            name: "ExternalPrograms",
            dependencies: [
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]),
        // Pure Swift: parse, compare, decide. Never imports ImageInspect, OPSRunner or their C modules.
        .target(
            name: "UpdateEngine",
            dependencies: [
                "CSQLite", "CZlib", "CLZMA", "CZstd", "CBZip2", "CLibXML2", "CCrypto", "CCurl", "ExternalPrograms",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]),
        // Images: libguestfs, read-only.
        .target(
            name: "ImageInspect",
            dependencies: ["CGuestfs", "UpdateEngine", "ExternalPrograms", .product(name: "Logging", package: "swift-log")]),
        // libvirt: storage pools now; the Online Penetration Suite's domains later. Read-only connections.
        .target(name: "Libvirt", dependencies: ["CLibvirt", "UpdateEngine"]),
        // Online Penetration Suite.
        .target(
            name: "OPSRunner",
            dependencies: [.product(name: "Logging", package: "swift-log")]),
        // The machine pipeline every front end uses: sources → inspection → parsed machine → register → check.
        .target(
            name: "Pipeline",
            dependencies: ["UpdateEngine", "ImageInspect", "Libvirt", .product(name: "Logging", package: "swift-log")]),
        .executableTarget(
            name: "imgsec",
            dependencies: [
                "UpdateEngine", "ImageInspect", "OPSRunner", "Pipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),

        .testTarget(name: "UpdateEngineTests", dependencies: ["UpdateEngine", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ImageInspectTests", dependencies: ["ImageInspect", "UpdateEngine"]),
        .testTarget(name: "OPSRunnerTests", dependencies: ["OPSRunner"]),
        .testTarget(name: "ExternalProgramsTests", dependencies: ["ExternalPrograms"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "UpdateEngine", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "imgsecTests", dependencies: ["UpdateEngine", "ExternalPrograms"]),
    ]
)
