import Foundation
@testable import KBCore
import KBTestSupport

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
func expectKBError<T>(_ code: KBError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async -> KBError? {
    let error = await #expect(throws: KBError.self, sourceLocation: sourceLocation) { _ = try await body() }
    #expect(error?.code == code, "got \(String(describing: error))", sourceLocation: sourceLocation)
    return error
}
