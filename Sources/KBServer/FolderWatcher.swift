import Foundation
import KBCore

/// Watches the knowledge folders while the daemon runs and ingests changes in the background.
///
/// Every `interval` seconds it takes a cheap snapshot of the folders (file count, total size, newest
/// modification time, from `stat` only); when the snapshot changes and then stays the same for one more
/// interval (debouncing editors that write in several steps and copies in progress), it runs an incremental
/// ingest on a background thread. Searches keep working meanwhile (SQLite in WAL mode); a second ingest never
/// runs concurrently (the ingest lock).
final class FolderWatcher: @unchecked Sendable {
    let kb: KnowledgeBase
    let interval: Double
    let onIngest: @Sendable (IngestSummary) -> Void

    init(kb: KnowledgeBase, interval: Double, onIngest: @escaping @Sendable (IngestSummary) -> Void) {
        self.kb = kb
        self.interval = interval
        self.onIngest = onIngest
    }

    struct Snapshot: Equatable {
        var files = 0
        var bytes = 0
        var newest = 0.0
    }

    static func snapshot(_ folders: [String]) -> Snapshot {
        var snapshot = Snapshot()
        for folder in folders {
            guard let walker = FileManager.default.enumerator(at: URL(fileURLWithPath: folder),
                                                              includingPropertiesForKeys: [.contentModificationDateKey, .fileSizeKey, .isRegularFileKey],
                                                              options: [.skipsHiddenFiles]) else { continue }
            for case let url as URL in walker {
                guard let values = try? url.resourceValues(forKeys: [.contentModificationDateKey, .fileSizeKey, .isRegularFileKey]),
                      values.isRegularFile == true else { continue }
                snapshot.files += 1
                snapshot.bytes += values.fileSize ?? 0
                snapshot.newest = max(snapshot.newest, values.contentModificationDate?.timeIntervalSince1970 ?? 0)
            }
        }
        return snapshot
    }

    /// Runs until the task is cancelled.
    func run() async {
        let folders = kb.configuration.knowledgeFolders
        var settled = Self.snapshot(folders)
        var pending: Snapshot?
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: UInt64(interval * 1e9))
            if Task.isCancelled { break }
            let now = Self.snapshot(folders)
            if now == settled { pending = nil; continue }
            if now != pending { pending = now; continue }   // still changing: wait one more interval
            let kb = self.kb
            let result = await Task.detached { () -> IngestSummary? in try? kb.ingest() }.value
            if let result { onIngest(result) }
            settled = now
            pending = nil
        }
    }
}
