import Foundation
@testable import KBCore

/// A fresh temporary folder, removed when the value is deinitialised.
final class TemporaryFolder: @unchecked Sendable {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "kb-tests-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes a file (creating folders) and returns its absolute path.
    @discardableResult
    func write(_ relative: String, _ text: String) -> String { write(relative, Data(text.utf8)) }

    @discardableResult
    func write(_ relative: String, _ data: Data) -> String {
        let full = path + "/" + relative
        try! FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! data.write(to: URL(fileURLWithPath: full))
        return full
    }

    func remove(_ relative: String) { try! FileManager.default.removeItem(atPath: path + "/" + relative) }

    func move(_ from: String, _ to: String) {
        let target = path + "/" + to
        try! FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try! FileManager.default.moveItem(atPath: path + "/" + from, toPath: target)
    }

    /// A knowledge base with its database in this folder's `.kb`.
    /// A knowledge base over `docs/`; answers come from the deterministic extractive generator unless one is given.
    func knowledgeBase(chunking: ChunkingOptions = ChunkingOptions(),
                       generator: any AnswerGenerator = ExtractiveGenerator()) throws -> KnowledgeBase {
        try KnowledgeBase(configuration: Configuration(databasePath: path + "/.kb/kb.sqlite", knowledgeFolders: [path + "/docs"],
                                                       chunking: chunking), create: true, generator: generator)
    }
}

enum Fixtures {
    static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    static func data(_ name: String) -> Data {
        FileManager.default.contents(atPath: folder + "/" + name)!
    }

    /// `../shared` beside the repository, when present.
    static var shared: String? {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shared = root.deletingLastPathComponent().appendingPathComponent("shared").path
        return FileManager.default.fileExists(atPath: shared + "/data") ? shared : nil
    }
}

extension ExtractedDocument {
    /// Text of a block.
    func text(of block: TextBlock) -> String {
        let scalars = Array(text.unicodeScalars)
        return String(String.UnicodeScalarView(scalars[block.range]))
    }
}

import Testing

/// Expects `body` to throw a ``KBError`` with `code`; returns it.
@discardableResult
func expectKBError<T>(_ code: KBError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> T) -> KBError? {
    let error = #expect(throws: KBError.self, sourceLocation: sourceLocation) { _ = try body() }
    #expect(error?.code == code, "got \(String(describing: error))", sourceLocation: sourceLocation)
    return error
}
