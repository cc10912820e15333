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
        do {
            let url = try PostgresScript.run("start", port: port)
            guard let slash = url.range(of: "/", options: .backwards) else { throw KBError(.io, "no URL from scripts/postgres.sh: \(url)") }
            return .success(String(url[..<slash.upperBound]))
        } catch let error as KBError {
            return .failure(KBError(.io, "scripts/postgres.sh could not start PostgreSQL: \(error.message)"))
        } catch {
            return .failure(KBError(.io, "scripts/postgres.sh could not start PostgreSQL: \(error)"))
        }
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

/// Runs scripts/postgres.sh from a test (to start the tests' server, or a cluster of a test's own that it stops
/// and starts under a running daemon). The script runs through a Python
/// shim that clears the signal mask the test runner's threads hand to their children (a postmaster started with
/// blocked signals never stops).
public enum PostgresScript {
    static let script = TestPostgres.root.appendingPathComponent("scripts/postgres.sh").path

    /// Runs `scripts/postgres.sh COMMAND PORT`; the last line of its standard output.
    @discardableResult
    public static func run(_ command: String, port: Int, _ extra: [String] = []) throws -> String {
        let out = NSTemporaryDirectory() + "kb-cluster-\(UUID().uuidString).out"
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out) }
        guard let handle = FileHandle(forWritingAtPath: out) else { throw KBError(.io, "cannot create \(out)") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_SETMASK, []); os.execvp(sys.argv[1], sys.argv[1:])",
                             "timeout", "300", "bash", script, command, String(port)] + extra
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Reaped here: Foundation's own wait has been seen to miss the exit of a child of the test runner.
        var status: Int32 = 0
        var outcome: Bool?   // nil: still running; else whether it exited with 0 (true when reaped by someone else)
        let deadline = Date().addingTimeInterval(320)
        while outcome == nil && Date() < deadline {
            let result = waitpid(process.processIdentifier, &status, WNOHANG)
            if result == process.processIdentifier { outcome = status == 0 } else if result == -1 { outcome = true } else { usleep(20_000) }
        }
        try? handle.close()
        let text = (try? String(contentsOfFile: out, encoding: .utf8)) ?? ""
        guard outcome == true, command != "start" || text.contains("postgres://") else {
            _ = Foundation.kill(process.processIdentifier, SIGKILL)
            throw KBError(.io, "scripts/postgres.sh \(command) \(port) failed: \(text.suffix(800))")
        }
        return text.split(separator: "\n").last.map(String.init) ?? ""
    }
}
