// swift-tools-version:6.1
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
        // The daemon's HTTP server; no traits (no swift-configuration, no full-Foundation extras).
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: []),
        // The Model Context Protocol server (stdio and Streamable HTTP transports).
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk", exact: "0.12.1"),
        // The PostgreSQL store (pgvector for vectors).
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
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
            dependencies: ["CSQLite", "CLibXML2", "CLlama", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
                           .product(name: "PostgresNIO", package: "postgres-nio")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        // kb's MCP tools over the service layer, and MCP sessions for any HTTP server.
        .target(
            name: "KBMCP",
            dependencies: ["KBCore", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .target(
            name: "KBServer",
            dependencies: ["KBCore", "KBMCP", .product(name: "Hummingbird", package: "hummingbird")],
            // The web page, compiled into the binary (no files to install next to it).
            resources: [.embedInCode("Web/index.html"), .embedInCode("Web/app.js"), .embedInCode("Web/app.css"), .embedInCode("Web/icon.svg")],
            swiftSettings: [.enableUpcomingFeature("ExistentialAny")]
        ),
        .executableTarget(
            name: "kb",
            dependencies: [
                "KBCore",
                "KBServer",
                "KBMCP",
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
            dependencies: ["KBCore", "KBTestSupport", .product(name: "ZIPFoundation", package: "ZIPFoundation")],
            exclude: ["Fixtures"]
        ),
        // Shared by the test targets: test doubles (hashing embedder, scripted language model, canned HTTP server,
        // temporary folders and knowledge bases), the store conformance suite, and a JSON Schema validator for
        // the schemas in Schemas/http.
        .target(name: "KBTestSupport", dependencies: ["KBCore"], path: "Tests/KBTestSupport",
                swiftSettings: [.enableUpcomingFeature("ExistentialAny")]),
        .testTarget(
            name: "KBServerTests",
            dependencies: ["KBServer", "KBCore", "KBTestSupport"]
        ),
        .testTarget(
            name: "KBCLITests",
            dependencies: ["kb", "KBCore", "KBTestSupport"],
            exclude: ["Scripts"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
