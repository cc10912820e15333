import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A regular file found by a walk.
struct WalkedFile: Sendable {
    var path: String
    var size: Int
    var modifiedAt: Double
}

/// Lists the files under the roots of an ingest: hidden entries and the database's own files are
/// skipped; symbolic links to folders are followed once (cycles are detected).
struct FileWalker {
    var registry: LoaderRegistry
    /// Paths never ingested (the database and its side files).
    var excludedFiles: Set<String>
    /// Folders never entered (the database's folder, when it sits inside a root).
    var excludedFolders: Set<String>

    struct Result {
        var files: [WalkedFile] = []
        var skipped: [IngestSkip] = []
        var failed: [IngestFailure] = []
        /// Folders that could not be listed: documents under them are not treated as deleted.
        var unreadableFolders: [String] = []
    }

    func walk(_ roots: [String]) -> Result {
        var result = Result()
        var visited = Set<[UInt64]>()
        var seenFiles = Set<String>()
        for root in roots {
            guard let info = FileInfo.stat(root) else { continue }
            if info.isDirectory {
                walkFolder(root, into: &result, visited: &visited, seen: &seenFiles)
            } else if seenFiles.insert(root).inserted {
                consider(root, info, explicit: true, into: &result)
            }
        }
        result.files.sort { $0.path < $1.path }
        return result
    }

    private func walkFolder(_ folder: String, into result: inout Result, visited: inout Set<[UInt64]>, seen: inout Set<String>) {
        guard let info = FileInfo.stat(folder), visited.insert([info.device, info.inode]).inserted else { return }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder).sorted() } catch {
            result.unreadableFolders.append(folder)
            result.failed.append(IngestFailure(path: folder, error: "cannot list the folder: \(FileInfo.lastErrorOr("permission denied"))"))
            return
        }
        for name in names where !name.hasPrefix(".") {
            let path = folder == "/" ? "/" + name : folder + "/" + name
            guard let entry = FileInfo.stat(path) else {
                let missing = errno == ENOENT || errno == ENOTDIR
                result.failed.append(IngestFailure(path: path, error: "cannot read the file: \(FileInfo.lastErrorOr("broken symbolic link"))"))
                // Not a vanished file (permissions, I/O): nothing under this folder counts as deleted.
                if !missing { result.unreadableFolders.append(folder) }
                continue
            }
            if entry.isDirectory {
                if excludedFolders.contains(path) { continue }
                walkFolder(path, into: &result, visited: &visited, seen: &seen)
            } else if entry.isRegular, seen.insert(path).inserted {
                consider(path, entry, explicit: false, into: &result)
            }
        }
    }

    private func consider(_ path: String, _ info: FileInfo, explicit: Bool, into result: inout Result) {
        if excludedFiles.contains(path) { return }
        guard info.isRegular else {
            result.skipped.append(IngestSkip(path: path, reason: "not a regular file"))
            return
        }
        if registry.loader(for: URL(fileURLWithPath: path)) == nil {
            let ext = (path as NSString).pathExtension
            result.skipped.append(IngestSkip(path: path, reason: LoadFailure.unsupported(ext.isEmpty ? "(no extension)" : ".\(ext)").description))
            return
        }
        result.files.append(WalkedFile(path: path, size: info.size, modifiedAt: info.modifiedAt))
    }
}

private func posixStat(_ path: String, _ buffer: inout Glibc.stat) -> Int32 { stat(path, &buffer) }

/// `stat(2)` facts about a path (following symbolic links).
struct FileInfo {
    var isDirectory: Bool
    var isRegular: Bool
    var size: Int
    var modifiedAt: Double
    var device: UInt64
    var inode: UInt64

    static func stat(_ path: String) -> FileInfo? {
        var buffer = Glibc.stat()
        guard posixStat(path, &buffer) == 0 else { return nil }
        let type = buffer.st_mode & S_IFMT
        return FileInfo(isDirectory: type == S_IFDIR, isRegular: type == S_IFREG, size: Int(buffer.st_size),
                        modifiedAt: Double(buffer.st_mtim.tv_sec) + Double(buffer.st_mtim.tv_nsec) / 1e9,
                        device: UInt64(buffer.st_dev), inode: UInt64(buffer.st_ino))
    }

    /// True only when the path does not exist (ENOENT/ENOTDIR) — not when it cannot be examined.
    static func isMissing(_ path: String) -> Bool {
        var buffer = Glibc.stat()
        if posixStat(path, &buffer) == 0 { return false }
        return errno == ENOENT || errno == ENOTDIR
    }

    static func lastErrorOr(_ fallback: String) -> String {
        errno == 0 ? fallback : String(cString: strerror(errno)).lowercased()
    }

    /// Reads a whole file; the error text says why it could not be read.
    static func read(_ path: String) -> Result<Data, LoadFailure> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .failure(.unreadable(lastErrorOr("unknown error"))) }
        defer { close(fd) }
        var data = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failure(.unreadable(lastErrorOr("read error")))
            }
            if count == 0 { break }
            data.append(contentsOf: chunk[0..<count])
        }
        return .success(data)
    }
}

/// An exclusive lock held for the duration of an ingest, so two ingests never interleave.
final class IngestLock: @unchecked Sendable {
    private let fd: Int32

    init(path: String) throws(KBError) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw KBError(.cannotOpenDatabase, "Cannot create the lock file \(path): \(FileInfo.lastErrorOr("unknown error")).")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            close(fd)
            throw KBError(.ingestInProgress, "Another `kb ingest` is writing to this knowledge base. Wait for it to finish, then run this one again.")
        }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
