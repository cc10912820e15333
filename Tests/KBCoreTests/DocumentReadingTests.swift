import Foundation
@testable import KBCore
import Testing

/// Reading a document back from its chunks when the file changed: line numbers must still hold.
@Suite struct DocumentReadingTests {
    static func span(_ id: Int, _ ordinal: Int, _ text: String, at offset: Int, lines: ClosedRange<Int>) -> ChunkSpan {
        ChunkSpan(chunkID: id, ordinal: ordinal, heading: "", text: text, startOffset: offset,
                  endOffset: offset + text.unicodeScalars.count, startLine: lines.lowerBound, endLine: lines.upperBound, page: nil)
    }

    @Test func joinedChunksKeepTheirLines() {
        // "# Title\n\nFirst paragraph.\n\nSecond one,\nover two lines. Third, same line.\n": the heading is not in a chunk.
        let original = "# Title\n\nFirst paragraph.\n\nSecond one,\nover two lines. Third, same line.\n"
        let scalars = Array(original.unicodeScalars)
        func offset(of piece: String) -> Int {
            let target = Array(piece.unicodeScalars)
            return (0...(scalars.count - target.count)).first { Array(scalars[$0..<($0 + target.count)]) == target }!
        }
        let chunks = [
            Self.span(1, 0, "First paragraph.", at: offset(of: "First"), lines: 3...3),
            Self.span(2, 1, "Second one,\nover two lines.", at: offset(of: "Second"), lines: 5...6),
            Self.span(3, 2, "Third, same line.", at: offset(of: "Third"), lines: 6...6),
            // Overlaps the chunk before it (the chunker's sentence overlap).
            Self.span(4, 3, "over two lines. Third", at: offset(of: "over two"), lines: 6...6),
        ]
        #expect(KnowledgeBase.linesMatch(original, chunks))
        let (text, moved) = KnowledgeBase.join(chunks)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[2] == "First paragraph." && lines[4] == "Second one," && lines[5] == "over two lines. Third, same line.", "\(lines)")
        #expect(KnowledgeBase.linesMatch(text, moved), "line numbers hold in the joined text")
        let joined = Array(text.unicodeScalars)
        for chunk in moved {
            var view = String.UnicodeScalarView()
            view.append(contentsOf: joined[chunk.startOffset..<chunk.endOffset])
            #expect(String(view) == chunk.text, "chunk \(chunk.chunkID) offsets")
        }
    }

    @Test func aChunkOneLineOffIsNotALineMatch() {
        let text = "alpha\nbeta\n"
        // Claims line 3 for text that is on line 2 (the +1 allowance is only for a chunk starting on a line break).
        #expect(!KnowledgeBase.linesMatch(text, [Self.span(1, 0, "beta", at: 6, lines: 3...3)]))
        #expect(KnowledgeBase.linesMatch(text, [Self.span(1, 0, "\nbeta", at: 5, lines: 2...2)]))
        #expect(KnowledgeBase.linesMatch(text, [Self.span(1, 0, "beta", at: 6, lines: 2...2)]))
    }
}
