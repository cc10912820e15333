import Foundation
@testable import KBCore

/// A PostgreSQL server with pgvector for the tests: `scripts/postgres.sh start 54330`, started once per test run
/// (the script installs the engine the first time). When it cannot run, the tests say why and stop there.
public enum TestPostgres {
    public static let port = 54330
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The server's base URL (ending in `/`, database to be appended), or why there is none.
    public static let base: Result<String, KBError> = {
        // scripts/test.sh starts the cluster and says where; otherwise the script is run from here.
        if let url = ProcessInfo.processInfo.environment["KB_TEST_POSTGRES_URL"], url.hasPrefix("postgres://"),
           let slash = url.range(of: "/", options: .backwards) {
            return .success(String(url[..<slash.upperBound]))
        }
        let script = root.appendingPathComponent("scripts/postgres.sh").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = ["300", "bash", script, "start", String(port)]
        // Files, not pipes: the server the script starts may inherit the descriptors, and a pipe would then never
        // reach its end.
        let outPath = NSTemporaryDirectory() + "kb-postgres-\(UUID().uuidString).out", errPath = outPath + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        guard let out = FileHandle(forWritingAtPath: outPath), let err = FileHandle(forWritingAtPath: errPath) else {
            return .failure(KBError(.io, "cannot create \(outPath)"))
        }
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { return .failure(KBError(.io, "cannot run \(script): \(error)")) }
        process.waitUntilExit()
        try? out.close()
        try? err.close()
        let output = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let errors = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: outPath)
        try? FileManager.default.removeItem(atPath: errPath)
        guard process.terminationStatus == 0, let url = output.split(separator: "\n").last.map(String.init), url.hasPrefix("postgres://"),
              let slash = url.range(of: "/", options: .backwards) else {
            return .failure(KBError(.io, "scripts/postgres.sh could not start PostgreSQL: \(errors.suffix(600))"))
        }
        return .success(String(url[..<slash.upperBound]))
    }()

    /// A fresh database's URL, or nil (with the reason printed) when PostgreSQL cannot run here.
    public static func scratch() -> String? {
        switch base {
        case .success(let base): return base + "kbtest_" + randomHex(6)
        case .failure(let error):
            print("PostgreSQL tests skipped: \(error.message)")
            return nil
        }
    }
}

