import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Runs a command-line tool a loader depends on (pdftotext, pdftoppm, tesseract, LibreOffice) with a timeout,
/// reading its output and error streams concurrently so a full pipe never blocks it.
enum ExternalTool {
    struct Output {
        var status: Int32
        var stdout: Data
        var stderr: String
        /// True when the tool was stopped because it ran past its timeout.
        var timedOut: Bool
        /// True when the tool died from a signal (a crash, or the timeout's SIGTERM).
        var crashed: Bool
    }

    /// The first executable among `names` in the usual places (`/usr/bin`, `/usr/local/bin`, Homebrew), or nil.
    static func find(_ names: String...) -> String? {
        for name in names {
            for folder in ["/usr/bin", "/usr/local/bin", "/opt/homebrew/bin", "/bin"] {
                let path = folder + "/" + name
                if FileManager.default.isExecutableFile(atPath: path) { return path }
            }
        }
        return nil
    }

    /// Runs `tool` with `arguments`; `environment` entries are added to the process's own.
    /// Throws `.missingTool(label)` when the tool cannot be started.
    static func run(_ tool: String, _ arguments: [String], timeout: Double, environment: [String: String] = [:],
                    label: String) throws(LoadFailure) -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw .missingTool("\(label) (\(error.localizedDescription))") }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        let timedOut = Flag()
        let pid = process.processIdentifier
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler {
            // The whole process group: LibreOffice's wrapper leaves a child that would keep the pipes open.
            if process.isRunning { timedOut.set(); kill(-pid, SIGKILL); kill(pid, SIGKILL) }
        }
        timer.resume()
        let errorBox = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errorBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        timer.cancel()
        return Output(status: process.terminationStatus, stdout: stdout, stderr: String(decoding: errorBox.data, as: UTF8.self),
                      timedOut: timedOut.isSet, crashed: process.terminationReason == .uncaughtSignal)
    }

    /// The first non-empty line of a tool's error output, or a generic message with its exit status.
    static func message(_ output: Output, tool: String) -> String {
        output.stderr.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { !$0.isEmpty }
            ?? "\(tool) exited with status \(output.status)"
    }

    /// A fresh temporary folder, removed by the caller.
    static func temporaryFolder(_ prefix: String) throws(LoadFailure) -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kb-\(prefix)-\(UUID().uuidString)")
        do { try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true) } catch {
            throw .unreadable("cannot create a temporary folder: \(error.localizedDescription)")
        }
        return url
    }

    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var value = false
        func set() { lock.lock(); value = true; lock.unlock() }
        var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
    }

    private final class Box: @unchecked Sendable {
        private let lock = NSLock()
        private var stored = Data()
        var data: Data {
            get { lock.lock(); defer { lock.unlock() }; return stored }
            set { lock.lock(); stored = newValue; lock.unlock() }
        }
    }
}
