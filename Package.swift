// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kb",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kb", targets: ["kb"]),
        .library(name: "KBCore", targets: ["KBCore"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.20"),
    ],
    targets: [
        // System SQLite (Debian's libsqlite3-dev): FTS5 is compiled in.
        .systemLibrary(name: "CSQLite", path: "Sources/CSQLite"),
        // System libxml2 (Debian's libxml2-dev), with the ICU trap worked around in the shim header.
        .systemLibrary(name: "CLibXML2", path: "Sources/CLibXML2", pkgConfig: "libxml-2.0",
                       providers: [.apt(["libxml2-dev"])]),
        // llama.cpp's libllama, built from the llama-cpp-python sdist by scripts/setup.sh (pkg-config `llama`).
        .systemLibrary(name: "CLlama", path: "Sources/CLlama", pkgConfig: "llama"),
        .target(
            name: "KBCore",
            dependencies: ["CSQLite", "CLibXML2", "CLlama", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .executableTarget(
            name: "kb",
            dependencies: [
                "KBCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "kb-bench",
            dependencies: ["KBCore"],
            path: "Benchmarks/kb-bench"
        ),
        .testTarget(
            name: "KBCoreTests",
            dependencies: ["KBCore", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "KBCLITests",
            dependencies: ["kb", "KBCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
